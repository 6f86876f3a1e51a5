"""Account services: sign-up, log-in, refresh-token rotation and theft detection, log-out."""

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import Driver, IdToken, RefreshToken
from app.domain.enums import IdTokenType
from app.domain.errors import Conflict, InvalidInput, Unauthenticated
from app.services import accounts, security
from app.services.security import verify_password

TTL = timedelta(days=30)
PASSWORD = "correct horse battery"


async def sign_up(
    session_factory: SessionFactory, email: str = "Ada@Example.org", **kw: object
) -> accounts.Login:
    return await accounts.sign_up(
        session_factory=session_factory,
        email=email,
        password=PASSWORD,
        name="Ada",
        refresh_ttl=TTL,
        **kw,  # type: ignore[arg-type]
    )


async def refresh_rows(session_factory: SessionFactory) -> list[RefreshToken]:
    async with session_factory() as db:
        return list((await db.exec(select(RefreshToken).order_by(col(RefreshToken.id)))).all())


async def test_sign_up_stores_a_normalised_email_a_hash_and_an_app_token(
    session_factory: SessionFactory,
) -> None:
    login = await sign_up(session_factory, email="  Ada@Example.ORG ")
    async with session_factory() as db:
        driver = await db.get(Driver, login.driver.id)
        tokens = (await db.exec(select(IdToken))).all()
    assert driver is not None
    assert driver.email == "ada@example.org"
    assert PASSWORD not in driver.password_hash
    assert verify_password(driver.password_hash, PASSWORD)
    [app_token] = tokens
    assert app_token.type == IdTokenType.APP
    assert app_token.driver_id == driver.id
    assert len(app_token.uid) == 20
    assert app_token.uid == app_token.uid.upper()
    int(app_token.uid, 16)
    [stored] = await refresh_rows(session_factory)
    assert stored.token_hash == hashlib.sha256(login.refresh_token.encode()).hexdigest()
    assert login.refresh_token not in stored.token_hash


@pytest.mark.parametrize(
    ("email", "password", "name", "message"),
    [
        ("not-an-email", PASSWORD, "Ada", "email 'not-an-email'"),
        ("ada@localhost", PASSWORD, "Ada", "is not an email address"),
        ("a b@example.org", PASSWORD, "Ada", "is not an email address"),
        ("x" * 250 + "@example.org", PASSWORD, "Ada", "is not an email address"),
        ("ada@example.org", "short-pw", "Ada", "expected at least 10"),
        ("ada@example.org", "aaaaaaaaaaaa", "Ada", "repeats one character"),
        ("ada@example.org", "p" + "q" * 300, "Ada", "expected at most 256"),
        ("ada@example.org", PASSWORD, "N" * 101, "name has 101 characters"),
    ],
    ids=[
        "no-at",
        "no-dot",
        "space",
        "email-too-long",
        "short-password",
        "one-char-password",
        "long-password",
        "long-name",
    ],
)
async def test_sign_up_refuses_bad_input(
    session_factory: SessionFactory, email: str, password: str, name: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        await accounts.sign_up(
            session_factory=session_factory,
            email=email,
            password=password,
            name=name,
            refresh_ttl=TTL,
        )
    assert await refresh_rows(session_factory) == []


async def test_an_email_has_one_account_whatever_its_case(session_factory: SessionFactory) -> None:
    await sign_up(session_factory, email="ada@example.org")
    with pytest.raises(Conflict, match="already has an account"):
        await sign_up(session_factory, email=" ADA@example.org")


async def test_log_in_verifies_off_the_event_loop_and_starts_a_new_login(
    session_factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await sign_up(session_factory)
    threads: list[threading.Thread] = []

    def watched(password_hash: str, password: str) -> bool:
        threads.append(threading.current_thread())
        return security.verify_password(password_hash, password)

    monkeypatch.setattr(accounts, "verify_password", watched)
    login = await accounts.log_in(
        session_factory=session_factory, email="ADA@example.org", password=PASSWORD, refresh_ttl=TTL
    )
    assert login.driver.id == first.driver.id
    assert threads
    assert threads[0] is not threading.main_thread()
    families = {row.family_id for row in await refresh_rows(session_factory)}
    assert len(families) == 2


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.org", "wrong password!"), ("nobody@example.org", PASSWORD)],
    ids=["wrong-password", "unknown-email"],
)
async def test_log_in_failures_look_alike_and_both_verify_a_hash(
    session_factory: SessionFactory, monkeypatch: pytest.MonkeyPatch, email: str, password: str
) -> None:
    await sign_up(session_factory)
    verified: list[str] = []

    def watched(password_hash: str, given: str) -> bool:
        verified.append(password_hash)
        return security.verify_password(password_hash, given)

    monkeypatch.setattr(accounts, "verify_password", watched)
    with pytest.raises(Unauthenticated) as refused:
        await accounts.log_in(
            session_factory=session_factory, email=email, password=password, refresh_ttl=TTL
        )
    assert str(refused.value) == accounts.INVALID_CREDENTIALS
    assert len(verified) == 1
    assert verified[0].startswith("$argon2")


async def test_a_disabled_driver_cannot_log_in_or_refresh(session_factory: SessionFactory) -> None:
    login = await sign_up(session_factory)
    async with session_factory() as db:
        driver = await db.get(Driver, login.driver.id)
        assert driver is not None
        driver.disabled = True
        await db.commit()
    with pytest.raises(Unauthenticated, match="disabled"):
        await accounts.log_in(
            session_factory=session_factory,
            email="ada@example.org",
            password=PASSWORD,
            refresh_ttl=TTL,
        )
    with pytest.raises(Unauthenticated):
        await accounts.refresh(
            session_factory=session_factory, refresh_token=login.refresh_token, refresh_ttl=TTL
        )
    assert login.driver.id is not None
    with pytest.raises(Unauthenticated, match="disabled"):
        await accounts.get_active_driver(session_factory=session_factory, driver_id=login.driver.id)


async def test_refresh_rotates_the_token_within_its_family(session_factory: SessionFactory) -> None:
    login = await sign_up(session_factory)
    rotated = await accounts.refresh(
        session_factory=session_factory, refresh_token=login.refresh_token, refresh_ttl=TTL
    )
    assert rotated.refresh_token != login.refresh_token
    assert rotated.driver.id == login.driver.id
    old, new = await refresh_rows(session_factory)
    assert old.rotated_at is not None
    assert old.revoked_at is None
    assert new.rotated_at is None
    assert new.family_id == old.family_id
    again = await accounts.refresh(
        session_factory=session_factory, refresh_token=rotated.refresh_token, refresh_ttl=TTL
    )
    assert again.driver.id == login.driver.id


async def test_reusing_a_rotated_token_revokes_the_whole_family(
    session_factory: SessionFactory,
) -> None:
    stolen = await sign_up(session_factory)
    other_login = await accounts.log_in(
        session_factory=session_factory, email="ada@example.org", password=PASSWORD, refresh_ttl=TTL
    )
    legit = await accounts.refresh(
        session_factory=session_factory, refresh_token=stolen.refresh_token, refresh_ttl=TTL
    )
    with pytest.raises(Unauthenticated, match="already used"):
        await accounts.refresh(
            session_factory=session_factory, refresh_token=stolen.refresh_token, refresh_ttl=TTL
        )
    # The legitimate holder's newer token is gone too: both parties must log in again.
    with pytest.raises(Unauthenticated, match="already used or revoked"):
        await accounts.refresh(
            session_factory=session_factory, refresh_token=legit.refresh_token, refresh_ttl=TTL
        )
    rows = await refresh_rows(session_factory)
    family = rows[0].family_id
    assert all(row.revoked_at is not None for row in rows if row.family_id == family)
    # Another login (another family) of the same driver is untouched.
    assert await accounts.refresh(
        session_factory=session_factory, refresh_token=other_login.refresh_token, refresh_ttl=TTL
    )


@pytest.mark.parametrize(
    "token", ["", "not-a-token", "x" * 43], ids=["empty", "garbage", "token-shaped"]
)
async def test_an_unknown_refresh_token_is_refused(
    session_factory: SessionFactory, token: str
) -> None:
    await sign_up(session_factory)
    with pytest.raises(Unauthenticated, match="not valid"):
        await accounts.refresh(
            session_factory=session_factory, refresh_token=token, refresh_ttl=TTL
        )


async def test_an_expired_refresh_token_is_refused(session_factory: SessionFactory) -> None:
    past = datetime.now(UTC) - TTL - timedelta(seconds=1)
    login = await sign_up(session_factory, now=past)
    with pytest.raises(Unauthenticated, match="expired"):
        await accounts.refresh(
            session_factory=session_factory, refresh_token=login.refresh_token, refresh_ttl=TTL
        )
    [row] = await refresh_rows(session_factory)
    assert row.rotated_at is None


async def test_log_out_revokes_the_login_once(session_factory: SessionFactory) -> None:
    login = await sign_up(session_factory)
    rotated = await accounts.refresh(
        session_factory=session_factory, refresh_token=login.refresh_token, refresh_ttl=TTL
    )
    assert await accounts.log_out(
        session_factory=session_factory, refresh_token=login.refresh_token
    )
    assert not await accounts.log_out(
        session_factory=session_factory, refresh_token=rotated.refresh_token
    )
    assert not await accounts.log_out(session_factory=session_factory, refresh_token="unknown")
    with pytest.raises(Unauthenticated):
        await accounts.refresh(
            session_factory=session_factory, refresh_token=rotated.refresh_token, refresh_ttl=TTL
        )
