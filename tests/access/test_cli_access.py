"""`chargenet operators create` and `chargenet api-keys create|revoke|list` on a real database."""

import asyncio
import io
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from app.cli import main
from app.db.engine import SessionFactory, create_engine, create_session_factory
from app.db.models import ApiKey, AuditRecord, Operator, OperatorUser
from app.domain.errors import Unauthenticated
from app.services import api_keys, operators

T = TypeVar("T")


@pytest.fixture
def cli_db(database_url: str, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def on_db(url: str, work: Callable[[SessionFactory], Awaitable[T]]) -> T:
    """Run `work` in its own event loop with its own engine (the CLI runs its own loops)."""

    async def run() -> T:
        engine = create_engine(url)
        try:
            return await work(create_session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _rows(url: str, model: type) -> list:  # type: ignore[type-arg]
    async def read(factory: SessionFactory) -> list:  # type: ignore[type-arg]
        async with factory() as db:
            return list((await db.exec(select(model))).all())

    return on_db(url, read)


def test_operators_create_makes_the_organisation_and_prints_the_password_once(
    cli_db: str, engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["operators", "create", "--org", "Acme", "--email", "Ops@Acme.test", "--role", "admin"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "created organisation 'Acme'" in out
    password = out.split("password (shown once): ")[1].strip()
    [user] = _rows(cli_db, OperatorUser)
    assert (user.email, user.role.value) == ("ops@acme.test", "admin")
    assert password not in user.password_hash

    async def log_in(factory: SessionFactory) -> OperatorUser:
        return await operators.log_in(
            session_factory=factory, email="ops@acme.test", password=password
        )

    assert on_db(cli_db, log_in).id == user.id
    again = ["operators", "create", "--org", "Acme", "--email", "t@acme.test", "--role", "viewer"]
    assert main(again) == 0
    assert "existing organisation 'Acme'" in capsys.readouterr().out
    assert len(_rows(cli_db, Operator)) == 1
    assert [r.action for r in _rows(cli_db, AuditRecord)] == ["operator_user.create"] * 2
    assert password not in str([r.detail for r in _rows(cli_db, AuditRecord)])


def test_operators_create_reads_a_password_from_stdin_and_refuses_a_bad_role(
    cli_db: str, engine: AsyncEngine, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-enough-password\n"))
    args = ["operators", "create", "--org", "A", "--email", "a@a.test", "--password-stdin"]
    assert main(args) == 0
    assert "shown once" not in capsys.readouterr().out
    assert main(["operators", "create", "--org", "A", "--email", "b@a.test", "--role", "boss"]) == 1
    assert "role 'boss' is unknown" in capsys.readouterr().err


def test_api_keys_create_prints_the_key_once_and_revoke_kills_it(
    cli_db: str, engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["api-keys", "create", "--partner", "Roamer", "--scopes", "locations:read"]
    assert main(args) == 0
    key = capsys.readouterr().out.split("key (shown once): ")[1].strip()
    [row] = _rows(cli_db, ApiKey)
    assert key.startswith(f"ck_{row.prefix}_")
    assert key not in row.key_hash
    assert main(["api-keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert f"ck_{row.prefix}  Roamer  locations:read  active" in listed
    assert key not in listed
    assert main(["api-keys", "revoke", f"ck_{row.prefix}"]) == 0

    async def verify(factory: SessionFactory) -> None:
        await api_keys.verify_key(session_factory=factory, key=key)

    with pytest.raises(Unauthenticated, match="revoked"):
        on_db(cli_db, verify)
    assert main(["api-keys", "create", "--partner", "X", "--scopes", "network:read"]) == 1
    assert "need an organisation" in capsys.readouterr().err
    actions = sorted(r.action for r in _rows(cli_db, AuditRecord))
    assert actions == ["api_key.create", "api_key.revoke"]
    assert all(r.actor == "cli" for r in _rows(cli_db, AuditRecord))
