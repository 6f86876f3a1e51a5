"""A driver's RFID cards: register one (its uid then authorises charging), remove (block) one."""

import re

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import IdToken
from app.domain.enums import AuthorizationStatus, IdTokenType
from app.domain.errors import Conflict, InvalidInput, NotFound
from app.domain.id_tokens import canonical_uid

MAX_LABEL_LENGTH = 100
# OCPP 1.6 idTag is CiString20; 2.0.1 allows 36, so 20 fits every charger we speak to.
_UID = re.compile(r"[0-9A-Za-z-]{1,20}")


normalize_uid = canonical_uid


async def list_id_tokens(*, session_factory: SessionFactory, driver_id: int) -> list[IdToken]:
    """The driver's tokens, oldest first (the app token, then cards), removed ones included."""
    async with session_factory() as db:
        rows = await db.exec(
            select(IdToken)
            .where(IdToken.driver_id == driver_id)
            .order_by(col(IdToken.created_at), col(IdToken.id))
        )
        return list(rows.all())


async def add_rfid_card(
    *, session_factory: SessionFactory, driver_id: int, uid: str, label: str | None
) -> IdToken:
    """Register an RFID card for the driver, ACCEPTED at once.

    Raises InvalidInput for a uid that is not 1-20 of [0-9A-Za-z-] or a label over 100
    characters, Conflict when the uid (any case) is already registered, by anyone.
    """
    uid = normalize_uid(uid)
    if not _UID.fullmatch(uid):
        raise InvalidInput(f"uid {uid!r} is not a card uid: expected 1-20 of 0-9, A-Z and '-'")
    label = label.strip() if label else None
    if label and len(label) > MAX_LABEL_LENGTH:
        raise InvalidInput(
            f"label has {len(label)} characters: expected at most {MAX_LABEL_LENGTH}"
        )
    taken = Conflict(f"card {uid!r} is already registered")
    async with session_factory() as db:
        existing = await db.exec(select(IdToken.id).where(func.upper(IdToken.uid) == uid))
        if existing.first() is not None:
            raise taken
        token = IdToken(
            uid=uid,
            type=IdTokenType.RFID,
            status=AuthorizationStatus.ACCEPTED,
            label=label or None,
            driver_id=driver_id,
        )
        db.add(token)
        try:
            await db.commit()
        except IntegrityError:  # registered concurrently
            raise taken from None
        return token


async def remove_rfid_card(*, session_factory: SessionFactory, driver_id: int, uid: str) -> IdToken:
    """Block one of the driver's RFID cards: a charger's Authorize then answers Blocked.

    The row stays, so the uid cannot be registered again by someone else and past sessions
    keep their token. Idempotent. Raises NotFound when the driver has no such card (another
    driver's card is not found either: its existence is not revealed).
    """
    uid = normalize_uid(uid)
    async with session_factory() as db:
        token = (
            await db.exec(
                select(IdToken).where(
                    func.upper(IdToken.uid) == uid,
                    IdToken.driver_id == driver_id,
                    IdToken.type == IdTokenType.RFID,
                )
            )
        ).first()
        if token is None:
            raise NotFound("RFID card", uid)
        token.status = AuthorizationStatus.BLOCKED
        await db.commit()
        return token
