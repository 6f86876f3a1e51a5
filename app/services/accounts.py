"""Driver accounts: sign up, log in, rotating refresh tokens, log out, and the app ID token.

Refresh tokens are opaque (32 random bytes, URL-safe) and stored only as their SHA-256 digest.
Every use rotates the token; the tokens of one login share a family. Presenting a token that
was already rotated or revoked means two parties hold it (the app and a thief): the whole family
is revoked, so both must log in again. Access tokens are issued by `services.auth.TokenService`.
"""

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import Driver, IdToken, RefreshToken
from app.domain.enums import IdTokenType
from app.domain.errors import Conflict, InvalidInput, Unauthenticated
from app.services.security import hash_password, verify_password

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # argon2 takes any length; a cap keeps one request cheap
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 100
APP_LABEL = "App"
INVALID_CREDENTIALS = "the email or password is not right"

_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


@dataclass(frozen=True, slots=True)
class Login:
    """A driver who just proved who they are, with the refresh token to hand to them."""

    driver: Driver
    refresh_token: str
    refresh_expires_at: datetime


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_credentials(email: str, password: str) -> None:
    """InvalidInput naming what is wrong with a new account's email or password."""
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(email):
        raise InvalidInput(f"email {email!r} is not an email address: expected name@example.org")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password has {len(password)} characters: expected at least {MIN_PASSWORD_LENGTH}"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password has {len(password)} characters: expected at most {MAX_PASSWORD_LENGTH}"
        )
    if len(set(password)) == 1:
        raise InvalidInput("password repeats one character: expected a mix of characters")


def _check_sign_up(email: str, password: str, name: str) -> None:
    check_credentials(email, password)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"name has {len(name)} characters: expected at most {MAX_NAME_LENGTH}")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_refresh_token(
    driver_id: int, family_id: str, ttl: timedelta, now: datetime
) -> tuple[RefreshToken, str]:
    plain = secrets.token_urlsafe(32)
    row = RefreshToken(
        driver_id=driver_id, token_hash=_digest(plain), family_id=family_id, expires_at=now + ttl
    )
    return row, plain


def _new_family() -> str:
    return secrets.token_hex(16)


@cache
def dummy_hash() -> str:
    """A hash to verify against when the email is unknown, so both failures cost the same."""
    return hash_password(secrets.token_urlsafe(16))


async def sign_up(
    *,
    session_factory: SessionFactory,
    email: str,
    password: str,
    name: str,
    refresh_ttl: timedelta,
    now: datetime | None = None,
) -> Login:
    """A new driver with an app ID token (type APP), logged in.

    Raises InvalidInput for a malformed email, weak password or long name, Conflict when the
    email (compared lower-cased) already has an account.
    """
    now = now or datetime.now(UTC)
    email, name = normalize_email(email), name.strip()
    _check_sign_up(email, password, name)
    async with session_factory() as db:
        if (await db.exec(select(Driver.id).where(Driver.email == email))).first() is not None:
            raise Conflict(f"email {email!r} already has an account: log in instead")
    password_hash = await asyncio.to_thread(hash_password, password)
    async with session_factory() as db:
        driver = Driver(email=email, password_hash=password_hash, name=name)
        db.add(driver)
        try:
            await db.flush()
        except IntegrityError:  # signed up concurrently with the same email
            raise Conflict(f"email {email!r} already has an account: log in instead") from None
        assert driver.id is not None
        db.add(
            IdToken(
                uid=secrets.token_hex(10).upper(),
                type=IdTokenType.APP,
                label=APP_LABEL,
                driver_id=driver.id,
            )
        )
        row, plain = _new_refresh_token(driver.id, _new_family(), refresh_ttl, now)
        db.add(row)
        await db.commit()
        return Login(driver, plain, row.expires_at)


async def log_in(
    *,
    session_factory: SessionFactory,
    email: str,
    password: str,
    refresh_ttl: timedelta,
    now: datetime | None = None,
) -> Login:
    """The driver whose email and password these are, with a new login (refresh token family).

    Raises Unauthenticated with one message for an unknown email and a wrong password (and
    takes as long for both); a disabled account is refused only after a correct password.
    """
    now = now or datetime.now(UTC)
    email = normalize_email(email)
    async with session_factory() as db:
        driver = (await db.exec(select(Driver).where(Driver.email == email))).first()
    stored = driver.password_hash if driver is not None else dummy_hash()
    matches = await asyncio.to_thread(verify_password, stored, password)
    if driver is None or not matches:
        raise Unauthenticated(INVALID_CREDENTIALS)
    if driver.disabled:
        raise Unauthenticated("this account is disabled: contact support")
    assert driver.id is not None
    async with session_factory() as db:
        row, plain = _new_refresh_token(driver.id, _new_family(), refresh_ttl, now)
        db.add(row)
        await db.commit()
    return Login(driver, plain, row.expires_at)


async def refresh(
    *,
    session_factory: SessionFactory,
    refresh_token: str,
    refresh_ttl: timedelta,
    now: datetime | None = None,
) -> Login:
    """Rotate `refresh_token`: it stops working and a new one of the same family is returned.

    Raises Unauthenticated for an unknown or expired token, a disabled account, and a token
    that was already rotated or revoked — that last case also revokes its whole family.
    """
    now = now or datetime.now(UTC)
    async with session_factory() as db:
        row = (
            await db.exec(
                select(RefreshToken).where(RefreshToken.token_hash == _digest(refresh_token))
            )
        ).first()
        if row is None:
            raise Unauthenticated("the refresh token is not valid: log in again")
        driver = await db.get(Driver, row.driver_id)
        # Conditional update: of two concurrent uses of one token exactly one wins the rotation.
        rotated = await db.exec(
            update(RefreshToken)
            .where(
                col(RefreshToken.id) == row.id,
                col(RefreshToken.rotated_at).is_(None),
                col(RefreshToken.revoked_at).is_(None),
            )
            .values(rotated_at=now)
        )
        if rotated.rowcount != 1 or driver is None or driver.disabled:
            await _revoke_family(db, row.family_id, now)
            await db.commit()
            raise Unauthenticated("the refresh token was already used or revoked: log in again")
        if row.expires_at <= now:
            await db.rollback()
            raise Unauthenticated("the refresh token has expired: log in again")
        new_row, plain = _new_refresh_token(row.driver_id, row.family_id, refresh_ttl, now)
        db.add(new_row)
        await db.commit()
        return Login(driver, plain, new_row.expires_at)


async def log_out(
    *, session_factory: SessionFactory, refresh_token: str, now: datetime | None = None
) -> bool:
    """Revoke the login (token family) of `refresh_token`. True if it was still active.

    Idempotent: an unknown, expired or already revoked token changes nothing.
    """
    now = now or datetime.now(UTC)
    async with session_factory() as db:
        row = (
            await db.exec(
                select(RefreshToken).where(RefreshToken.token_hash == _digest(refresh_token))
            )
        ).first()
        if row is None:
            return False
        revoked = await _revoke_family(db, row.family_id, now)
        await db.commit()
        return revoked > 0


async def _revoke_family(db: AsyncSession, family_id: str, now: datetime) -> int:
    result = await db.exec(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)


async def get_active_driver(*, session_factory: SessionFactory, driver_id: int) -> Driver:
    """The driver an access token names; Unauthenticated if the account is gone or disabled."""
    async with session_factory() as db:
        driver = await db.get(Driver, driver_id)
    if driver is None or driver.disabled:
        raise Unauthenticated("this account is disabled or no longer exists")
    return driver
