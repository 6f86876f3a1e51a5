"""Partner API keys: create (the key is shown once), verify on every request, list, revoke.

A key is `ck_<prefix>_<secret>`: the 8-character prefix finds the row and is what lists show;
the secret is 32 random bytes. Only the SHA-256 digest of the whole key is stored. A slow hash
(argon2) protects guessable passwords; a 256-bit random secret cannot be guessed, so a fast
digest is as safe and keeps the per-request check cheap.
"""

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select, update

from app.db.engine import SessionFactory
from app.db.models import ApiKey
from app.domain.access import ORG_ONLY_SCOPES, ApiScope
from app.domain.errors import InvalidInput, NotFound, Unauthenticated
from app.services import audit
from app.services.auth import API_KEY_PREFIX, Principal, PrincipalKind

_KEY = re.compile(r"ck_([a-z0-9]{8})_([A-Za-z0-9_-]{43})")
_PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""`last_used_at` is written at most this often per key: not a write on every request."""
INVALID_KEY = "the API key is not valid"


@dataclass(frozen=True, slots=True)
class CreatedKey:
    row: ApiKey
    key: str
    """The whole key: shown to its owner once, never stored."""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_scopes(values: Iterable[str]) -> list[str]:
    """Known scopes, deduplicated and sorted; InvalidInput naming the first unknown one."""
    known = {scope.value for scope in ApiScope}
    scopes = sorted({value.strip() for value in values if value.strip()})
    for scope in scopes:
        if scope not in known:
            raise InvalidInput(f"scope {scope!r} is unknown: expected one of {sorted(known)}")
    if not scopes:
        raise InvalidInput("no scopes given: expected at least one of " + ", ".join(sorted(known)))
    return scopes


async def create_key(
    *,
    session_factory: SessionFactory,
    name: str,
    partner: str,
    scopes: Iterable[str],
    operator_id: int | None,
    actor: str,
) -> CreatedKey:
    """A new key for `partner` (owned by organisation `operator_id`, or network-wide when
    None), audited as `api_key.create`."""
    name, partner = name.strip(), partner.strip()
    if not partner or len(partner) > 100:
        raise InvalidInput(f"partner {partner!r} must have 1 to 100 characters")
    if len(name) > 100:
        raise InvalidInput(f"name has {len(name)} characters: expected at most 100")
    checked = parse_scopes(scopes)
    if operator_id is None and ORG_ONLY_SCOPES.intersection(checked):
        raise InvalidInput(
            f"scopes {sorted(ORG_ONLY_SCOPES.intersection(checked))} need an organisation: "
            "create the key for an operator organisation"
        )
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(8))
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    async with session_factory() as db:
        row = ApiKey(
            prefix=prefix,
            key_hash=_digest(key),
            name=name or partner,
            partner=partner,
            operator_id=operator_id,
            scopes=checked,
            created_by=actor[:100],
        )
        db.add(row)
        await db.flush()
        await audit.record(
            db=db,
            actor=actor,
            operator_id=operator_id,
            action="api_key.create",
            target=f"api-key:{prefix}",
            detail={"partner": partner, "scopes": checked},
        )
        await db.commit()
        await db.refresh(row)
        return CreatedKey(row=row, key=key)


async def verify_key(
    *, session_factory: SessionFactory, key: str, now: datetime | None = None
) -> Principal:
    """The principal of a valid, unrevoked key; Unauthenticated (one message) otherwise."""
    match = _KEY.fullmatch(key)
    if match is None:
        raise Unauthenticated(INVALID_KEY)
    now = now or datetime.now(UTC)
    async with session_factory() as db:
        row = (await db.exec(select(ApiKey).where(ApiKey.prefix == match.group(1)))).first()
        if row is None or not hmac.compare_digest(row.key_hash, _digest(key)):
            raise Unauthenticated(INVALID_KEY)
        if row.revoked_at is not None:
            raise Unauthenticated("the API key was revoked")
        assert row.id is not None
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
            await db.exec(update(ApiKey).where(col(ApiKey.id) == row.id).values(last_used_at=now))
            await db.commit()
        return Principal(
            PrincipalKind.API_KEY,
            row.id,
            operator_id=row.operator_id,
            scopes=frozenset(row.scopes),
        )


async def revoke_key(
    *,
    session_factory: SessionFactory,
    prefix: str,
    operator_id: int | None,
    actor: str,
    now: datetime | None = None,
) -> ApiKey:
    """Revoke the key with `prefix` (a `ck_<prefix>` form is accepted too). With `operator_id`
    set, only that organisation's keys are found: another's is NotFound. Idempotent."""
    prefix = prefix.strip().removeprefix(API_KEY_PREFIX).split("_", 1)[0]
    now = now or datetime.now(UTC)
    async with session_factory() as db:
        statement = select(ApiKey).where(ApiKey.prefix == prefix)
        if operator_id is not None:
            statement = statement.where(ApiKey.operator_id == operator_id)
        row = (await db.exec(statement)).first()
        if row is None:
            raise NotFound("API key", prefix)
        if row.revoked_at is None:
            row.revoked_at = now
            db.add(row)
            await audit.record(
                db=db,
                actor=actor,
                operator_id=row.operator_id,
                action="api_key.revoke",
                target=f"api-key:{prefix}",
            )
            await db.commit()
            await db.refresh(row)
        return row


async def list_keys(
    *, session_factory: SessionFactory, operator_id: int | None
) -> Sequence[ApiKey]:
    """The organisation's keys (all keys when None), newest first; no secrets in them."""
    statement = select(ApiKey).order_by(col(ApiKey.id).desc())
    if operator_id is not None:
        statement = statement.where(ApiKey.operator_id == operator_id)
    async with session_factory() as db:
        return list((await db.exec(statement)).all())
