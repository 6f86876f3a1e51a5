"""Operator organisations and their users: create (CLI, admins), log in.

Operator users log in with email and password like drivers and get an access token naming
their organisation and role (no refresh token: an operator frontend logs in again, or uses the
external identity provider, services.operator_idp).
"""

import asyncio
import secrets
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import Operator, OperatorUser
from app.domain.access import OperatorRole
from app.domain.errors import Conflict, InvalidInput, Unauthenticated
from app.services import audit
from app.services.accounts import (
    INVALID_CREDENTIALS,
    check_credentials,
    dummy_hash,
    normalize_email,
)
from app.services.auth import Principal, PrincipalKind
from app.services.security import hash_password, verify_password


@dataclass(frozen=True, slots=True)
class CreatedOperatorUser:
    user: OperatorUser
    operator: Operator
    operator_created: bool


def principal_of(user: OperatorUser) -> Principal:
    assert user.id is not None
    return Principal(
        PrincipalKind.OPERATOR_USER, user.id, operator_id=user.operator_id, role=user.role
    )


def parse_role(value: str) -> OperatorRole:
    try:
        return OperatorRole(value.strip().lower())
    except ValueError:
        expected = ", ".join(role.value for role in OperatorRole)
        raise InvalidInput(f"role {value!r} is unknown: expected one of {expected}") from None


async def create_operator_user(
    *,
    session_factory: SessionFactory,
    org: str,
    email: str,
    password: str,
    role: OperatorRole,
    actor: str,
) -> CreatedOperatorUser:
    """A user of organisation `org` (by name; created when no operator has that name).

    InvalidInput for a malformed email or weak password, Conflict for a taken email.
    Audited as `operator_user.create` (never with the password).
    """
    org, email = org.strip(), normalize_email(email)
    if not org or len(org) > 255:
        raise InvalidInput(f"organisation name {org!r} must have 1 to 255 characters")
    check_credentials(email, password)
    password_hash = await asyncio.to_thread(hash_password, password)
    async with session_factory() as db:
        operator = (await db.exec(select(Operator).where(Operator.name == org))).first()
        created = operator is None
        if operator is None:
            operator = Operator(name=org)
            db.add(operator)
            await db.flush()
        assert operator.id is not None
        user = OperatorUser(
            operator_id=operator.id, email=email, password_hash=password_hash, role=role
        )
        db.add(user)
        try:
            await db.flush()
        except IntegrityError:
            raise Conflict(f"email {email!r} already has an operator account") from None
        await audit.record(
            db=db,
            actor=actor,
            operator_id=operator.id,
            action="operator_user.create",
            target=f"operator-user:{user.id}",
            detail={"email": email, "role": role.value, "organisation_created": created},
        )
        await db.commit()
        await db.refresh(user)
        await db.refresh(operator)
        return CreatedOperatorUser(user=user, operator=operator, operator_created=created)


def generate_password() -> str:
    return secrets.token_urlsafe(18)


async def log_in(*, session_factory: SessionFactory, email: str, password: str) -> OperatorUser:
    """The operator user these credentials belong to; Unauthenticated with one message for an
    unknown email and a wrong password (both cost one argon2 verification)."""
    email = normalize_email(email)
    async with session_factory() as db:
        user = (await db.exec(select(OperatorUser).where(OperatorUser.email == email))).first()
    stored = user.password_hash if user is not None else dummy_hash()
    matches = await asyncio.to_thread(verify_password, stored, password)
    if user is None or not matches:
        raise Unauthenticated(INVALID_CREDENTIALS)
    if user.disabled:
        raise Unauthenticated("this operator account is disabled: ask your organisation's admin")
    return user
