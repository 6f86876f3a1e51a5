"""Builders for access control: operator organisations, their users, partner API keys, headers.

`await make_operator_user(session_factory, role="technician")` makes an organisation too unless
one is given; `operator_bearer(tokens, user)` is the header that user's requests send.
"""

import itertools
from functools import cache

from sqlmodel import col, select, update

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, Location, Operator, OperatorUser
from app.domain.access import OperatorRole
from app.services import api_keys, operators
from app.services.auth import TokenService
from app.services.security import hash_password

_counter = itertools.count(1)
PASSWORD = "operator-password-1"
"""Every built operator user's password (argon2-hashed like a real one)."""


async def make_operator(session_factory: SessionFactory, *, name: str | None = None) -> Operator:
    async with session_factory() as db:
        operator = Operator(name=name or f"Operator {next(_counter)}")
        db.add(operator)
        await db.commit()
        await db.refresh(operator)
        return operator


@cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


async def make_operator_user(
    session_factory: SessionFactory,
    *,
    operator: Operator | None = None,
    role: OperatorRole | str = OperatorRole.ADMIN,
    email: str | None = None,
) -> OperatorUser:
    """A user of `operator` (a new organisation when None) with `role`, password PASSWORD
    (hashed once per run: argon2 is slow on purpose)."""
    org = operator or await make_operator(session_factory)
    assert org.id is not None
    async with session_factory() as db:
        user = OperatorUser(
            operator_id=org.id,
            email=email or f"operator{next(_counter)}@example.com",
            password_hash=_password_hash(),
            role=OperatorRole(role),
        )
        db.add(user)
        await db.commit()
        await db.refresh(user)
        return user


def operator_bearer(tokens: TokenService, user: OperatorUser) -> dict[str, str]:
    token, _ = tokens.issue(operators.principal_of(user))
    return {"Authorization": f"Bearer {token}"}


async def operator_headers(
    session_factory: SessionFactory,
    tokens: TokenService,
    *,
    role: OperatorRole | str = OperatorRole.ADMIN,
    operator: Operator | None = None,
) -> dict[str, str]:
    """The Authorization header of a new operator user (of a new organisation by default)."""
    user = await make_operator_user(session_factory, operator=operator, role=role)
    return operator_bearer(tokens, user)


async def own_network(session_factory: SessionFactory, operator_id: int) -> None:
    """Give `operator_id` every location that has no operator, and put every station that has
    no location at a new location of theirs: tests written before organisations existed build
    their networks without owners."""
    async with session_factory() as db:
        await db.exec(
            update(Location)
            .where(col(Location.operator_id).is_(None))
            .values(operator_id=operator_id)
        )
        homeless = (
            await db.exec(select(ChargingStation).where(col(ChargingStation.location_id).is_(None)))
        ).all()
        if homeless:
            site = Location(
                name=f"Site of operator {operator_id}",
                operator_id=operator_id,
                latitude=52.37,
                longitude=4.89,
            )
            db.add(site)
            await db.flush()
            for station in homeless:
                station.location_id = site.id
                db.add(station)
        await db.commit()


async def make_api_key(
    session_factory: SessionFactory,
    *,
    scopes: tuple[str, ...] = ("locations:read",),
    operator: Operator | None = None,
    partner: str = "Partner",
) -> str:
    """A new partner key with `scopes` (owned by `operator` when given); returns the key."""
    created = await api_keys.create_key(
        session_factory=session_factory,
        name="test key",
        partner=partner,
        scopes=scopes,
        operator_id=operator.id if operator is not None else None,
        actor="test",
    )
    return created.key
