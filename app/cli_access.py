"""`chargenet operators create` and `chargenet api-keys create|revoke|list`: bootstrap access.

Secrets (a generated password, a new API key) are printed once on stdout and nowhere else;
everything done is audited with the actor `cli`.
"""

import argparse
import sys
from collections.abc import Awaitable, Callable

from app.db.engine import SessionFactory
from app.domain.errors import InvalidInput
from app.settings import Settings

CLI_ACTOR = "cli"

RunWithDb = Callable[[Settings, Callable[[SessionFactory], Awaitable[int]]], int]


def _operators_create(args: argparse.Namespace, settings: Settings, run: RunWithDb) -> int:
    from app.services import operators

    role = operators.parse_role(args.role)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        generated = False
    else:
        password, generated = operators.generate_password(), True

    async def work(session_factory: SessionFactory) -> int:
        created = await operators.create_operator_user(
            session_factory=session_factory, org=args.org, email=args.email,
            password=password, role=role, actor=CLI_ACTOR,
        )  # fmt: skip
        org = created.operator
        made = "created" if created.operator_created else "existing"
        print(f"operator user {created.user.email} ({role.value}) of {made} organisation "
              f"{org.name!r} (id {org.id})")  # fmt: skip
        if generated:
            print(f"password (shown once): {password}")
        return 0

    return run(settings, work)


def _api_keys_create(args: argparse.Namespace, settings: Settings, run: RunWithDb) -> int:
    from sqlmodel import select

    from app.db.models import Operator
    from app.services import api_keys

    async def work(session_factory: SessionFactory) -> int:
        operator_id = None
        if args.org is not None:
            async with session_factory() as db:
                operator_id = (
                    await db.exec(select(Operator.id).where(Operator.name == args.org))
                ).first()
            if operator_id is None:
                raise InvalidInput(f"organisation {args.org!r} does not exist")
        created = await api_keys.create_key(
            session_factory=session_factory, name=args.name or args.partner,
            partner=args.partner, scopes=args.scopes.split(","), operator_id=operator_id,
            actor=CLI_ACTOR,
        )  # fmt: skip
        print(f"API key ck_{created.row.prefix} for {created.row.partner}, scopes "
              f"{','.join(created.row.scopes)}")  # fmt: skip
        print(f"key (shown once): {created.key}")
        return 0

    return run(settings, work)


def _api_keys_revoke(args: argparse.Namespace, settings: Settings, run: RunWithDb) -> int:
    from app.services import api_keys

    async def work(session_factory: SessionFactory) -> int:
        row = await api_keys.revoke_key(
            session_factory=session_factory, prefix=args.prefix, operator_id=None,
            actor=CLI_ACTOR,
        )  # fmt: skip
        print(f"API key ck_{row.prefix} of {row.partner} revoked at {row.revoked_at}")
        return 0

    return run(settings, work)


def _api_keys_list(args: argparse.Namespace, settings: Settings, run: RunWithDb) -> int:
    from app.services import api_keys

    async def work(session_factory: SessionFactory) -> int:
        for row in await api_keys.list_keys(session_factory=session_factory, operator_id=None):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            print(f"ck_{row.prefix}  {row.partner}  {','.join(row.scopes)}  {state}")
        return 0

    return run(settings, work)


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]", run: RunWithDb) -> None:
    """The `operators` and `api-keys` commands; `run` opens the database for a command."""
    operators = sub.add_parser("operators", help="operator organisations' users")
    op_sub = operators.add_subparsers(dest="action", required=True)
    create = op_sub.add_parser("create", help="an operator user (and its organisation)")
    create.add_argument("--org", required=True, help="organisation name; created if missing")
    create.add_argument("--email", required=True)
    create.add_argument("--role", default="admin", help="admin, technician or viewer")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    create.set_defaults(handler=lambda a, s: _operators_create(a, s, run))

    keys = sub.add_parser("api-keys", help="partner API keys")
    key_sub = keys.add_subparsers(dest="action", required=True)
    key_create = key_sub.add_parser("create", help="a new key, printed once")
    key_create.add_argument("--partner", required=True)
    key_create.add_argument("--scopes", required=True, help="comma separated, e.g. locations:read")
    key_create.add_argument("--org", default=None, help="the organisation that owns the key")
    key_create.add_argument("--name", default=None)
    key_create.set_defaults(handler=lambda a, s: _api_keys_create(a, s, run))
    key_revoke = key_sub.add_parser("revoke", help="revoke a key by its prefix (ck_...)")
    key_revoke.add_argument("prefix")
    key_revoke.set_defaults(handler=lambda a, s: _api_keys_revoke(a, s, run))
    key_list = key_sub.add_parser("list", help="every key, without secrets")
    key_list.set_defaults(handler=lambda a, s: _api_keys_list(a, s, run))
