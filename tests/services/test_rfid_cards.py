"""RFID card services, and the OCPP verdicts on a driver's app token and cards."""

import pytest
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import IdToken
from app.domain.enums import AuthorizationStatus
from app.domain.errors import Conflict, InvalidInput, NotFound
from app.services import rfid_cards, transactions
from tests.factories import make_id_token
from tests.services.test_accounts import sign_up


async def test_chargers_accept_the_app_token_and_cards_until_a_card_is_removed(
    session_factory: SessionFactory,
) -> None:
    login = await sign_up(session_factory)
    assert login.driver.id is not None
    [app_token] = await rfid_cards.list_id_tokens(
        session_factory=session_factory, driver_id=login.driver.id
    )
    card = await rfid_cards.add_rfid_card(
        session_factory=session_factory, driver_id=login.driver.id, uid="04a1-b2c3", label="Blue"
    )
    assert card.uid == "04A1-B2C3"

    async def verdict(uid: str) -> AuthorizationStatus:
        result = await transactions.authorize(session_factory=session_factory, id_token=uid)
        return result.status

    assert await verdict(app_token.uid) == AuthorizationStatus.ACCEPTED
    assert await verdict(app_token.uid.lower()) == AuthorizationStatus.ACCEPTED
    assert await verdict("04a1-b2c3") == AuthorizationStatus.ACCEPTED
    await rfid_cards.remove_rfid_card(
        session_factory=session_factory, driver_id=login.driver.id, uid="04a1-B2C3"
    )
    assert await verdict("04A1-B2C3") == AuthorizationStatus.BLOCKED
    assert await verdict(app_token.uid) == AuthorizationStatus.ACCEPTED


@pytest.mark.parametrize(
    "uid",
    ["", "   ", "A" * 21, "04:A1:B2", "04 A1", "Ünïcode"],
    ids=["empty", "blank", "too-long", "colons", "space", "non-ascii"],
)
async def test_malformed_card_uids_are_refused(session_factory: SessionFactory, uid: str) -> None:
    login = await sign_up(session_factory)
    assert login.driver.id is not None
    with pytest.raises(InvalidInput, match="is not a card uid"):
        await rfid_cards.add_rfid_card(
            session_factory=session_factory, driver_id=login.driver.id, uid=uid, label=None
        )


async def test_a_card_uid_is_taken_whatever_its_case_or_owner(
    session_factory: SessionFactory,
) -> None:
    await make_id_token(session_factory, uid="legacy-tag")  # stored mixed-case by an operator
    ada = await sign_up(session_factory)
    assert ada.driver.id is not None
    await rfid_cards.add_rfid_card(
        session_factory=session_factory, driver_id=ada.driver.id, uid="CARD-1", label=None
    )
    for uid in ("card-1", "LEGACY-TAG"):
        with pytest.raises(Conflict, match="already registered"):
            await rfid_cards.add_rfid_card(
                session_factory=session_factory, driver_id=ada.driver.id, uid=uid, label=None
            )


async def test_a_driver_cannot_remove_another_drivers_card(
    session_factory: SessionFactory,
) -> None:
    ada = await sign_up(session_factory, email="ada@example.org")
    bob = await sign_up(session_factory, email="bob@example.org")
    assert ada.driver.id is not None
    assert bob.driver.id is not None
    await rfid_cards.add_rfid_card(
        session_factory=session_factory, driver_id=ada.driver.id, uid="ADA-CARD", label=None
    )
    [bob_app] = await rfid_cards.list_id_tokens(
        session_factory=session_factory, driver_id=bob.driver.id
    )
    for uid in ("ADA-CARD", bob_app.uid):  # someone else's card; one's own app token
        with pytest.raises(NotFound):
            await rfid_cards.remove_rfid_card(
                session_factory=session_factory, driver_id=bob.driver.id, uid=uid
            )
    async with session_factory() as db:
        statuses = set((await db.exec(select(IdToken.status))).all())
    assert statuses == {AuthorizationStatus.ACCEPTED}
