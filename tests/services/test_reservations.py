"""Reservation services without a socket: limits, the expiry sweep with an explicit clock, use,
cancellation, and a station that does not answer. The commander records what would be sent."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import Evse, Reservation
from app.domain.commands import (
    CancelReservation,
    CommandOutcome,
    CommandStatus,
    ReserveNow,
    StationCommand,
)
from app.domain.errors import InvalidInput, NotFound
from app.domain.reservations import (
    EvseUnavailable,
    ReservationLimitReached,
    ReservationStatus,
    UnavailableReason,
)
from app.services import reservations
from app.services.reservation_lifecycle import ReservationExpiry, expire_due, mark_used
from tests.factories import make_station
from tests.reservation_builders import make_driver, make_reservation

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class RecordingCommander:
    """A station edge that answers every command with `answer` and records it."""

    def __init__(self, answer: CommandStatus = CommandStatus.ACCEPTED, detail: str = "") -> None:
        self.answer, self.detail = answer, detail
        self.sent: list[tuple[str, StationCommand]] = []
        self.online = True

    def is_connected(self, station_id: str) -> bool:
        return self.online

    async def send(
        self, station_id: str, command: StationCommand, *, timeout_s: float | None = None
    ) -> CommandOutcome:
        self.sent.append((station_id, command))
        return CommandOutcome(self.answer, {"status": self.detail} if self.detail else {})


async def status_of(session_factory: SessionFactory, reservation_id: int | None) -> str:
    async with session_factory() as db:
        row = await db.get(Reservation, reservation_id)
    assert row is not None
    return row.status


async def setup(session_factory: SessionFactory) -> tuple[int, str, int]:
    """(driver id, app token, EVSE id) of a one-EVSE station."""
    station = await make_station(session_factory, station_id="SVC-1")
    driver_id, token = await make_driver(session_factory)
    async with session_factory() as db:
        evse = (await db.exec(select(Evse).where(Evse.station_id == station.id))).one()
    assert evse.id is not None
    return driver_id, token, evse.id


async def test_reserve_sends_reserve_now_with_the_app_token_and_becomes_active(
    session_factory: SessionFactory,
) -> None:
    driver_id, token, evse_id = await setup(session_factory)
    commander = RecordingCommander(detail="Accepted")
    outcome = await reservations.reserve_evse(
        session_factory=session_factory, commander=commander, driver_id=driver_id,
        evse_id=evse_id, minutes=20, now=NOW,
    )  # fmt: skip
    reservation = outcome.reservation
    assert reservation.status == ReservationStatus.ACTIVE
    assert reservation.expires_at == NOW + timedelta(minutes=20)
    assert commander.sent == [
        ("SVC-1", ReserveNow(1, token, reservation.id or 0, NOW + timedelta(minutes=20)))
    ]


@pytest.mark.parametrize("minutes", [0, 61, -5], ids=["zero", "over-an-hour", "negative"])
async def test_minutes_out_of_range_are_refused(
    session_factory: SessionFactory, minutes: int
) -> None:
    driver_id, _, evse_id = await setup(session_factory)
    commander = RecordingCommander()
    with pytest.raises(InvalidInput, match=f"minutes={minutes}: expected 1 to 60"):
        await reservations.reserve_evse(
            session_factory=session_factory, commander=commander, driver_id=driver_id,
            evse_id=evse_id, minutes=minutes,
        )  # fmt: skip
    assert commander.sent == []


async def test_one_holding_reservation_per_driver(session_factory: SessionFactory) -> None:
    driver_id, token, evse_id = await setup(session_factory)
    held = await make_reservation(
        session_factory, driver_id=driver_id, evse_id=evse_id, id_token=token,
        expires_at=NOW + timedelta(minutes=5),
    )  # fmt: skip
    with pytest.raises(ReservationLimitReached) as raised:
        await reservations.reserve_evse(
            session_factory=session_factory, commander=RecordingCommander(),
            driver_id=driver_id, evse_id=evse_id, minutes=10, now=NOW,
        )  # fmt: skip
    assert raised.value.reservation_id == held.id
    # Once past its expiry it no longer counts, swept or not.
    outcome = await reservations.reserve_evse(
        session_factory=session_factory, commander=RecordingCommander(),
        driver_id=driver_id, evse_id=evse_id, minutes=10, now=NOW + timedelta(minutes=6),
    )  # fmt: skip
    assert outcome.reservation.status == ReservationStatus.ACTIVE


@pytest.mark.parametrize(
    ("online", "other_holds", "reason"),
    [(False, False, UnavailableReason.OFFLINE), (True, True, UnavailableReason.RESERVED)],
    ids=["offline", "reserved-by-another"],
)
async def test_an_unavailable_evse_is_refused_before_anything_is_sent(
    session_factory: SessionFactory, online: bool, other_holds: bool, reason: UnavailableReason
) -> None:
    driver_id, _, evse_id = await setup(session_factory)
    if other_holds:
        other_id, other_token = await make_driver(session_factory)
        await make_reservation(
            session_factory, driver_id=other_id, evse_id=evse_id, id_token=other_token,
            expires_at=NOW + timedelta(minutes=5),
        )  # fmt: skip
    commander = RecordingCommander()
    commander.online = online
    with pytest.raises(EvseUnavailable) as raised:
        await reservations.reserve_evse(
            session_factory=session_factory, commander=commander, driver_id=driver_id,
            evse_id=evse_id, minutes=10, now=NOW,
        )  # fmt: skip
    assert raised.value.reason == reason
    assert commander.sent == []


async def test_an_unknown_evse_is_not_found(session_factory: SessionFactory) -> None:
    driver_id, _, _ = await setup(session_factory)
    with pytest.raises(NotFound, match="Evse 999"):
        await reservations.reserve_evse(
            session_factory=session_factory, commander=RecordingCommander(),
            driver_id=driver_id, evse_id=999, minutes=10,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "detail", "status", "timed_out"),
    [
        (CommandStatus.REJECTED, "Occupied", ReservationStatus.REJECTED, False),
        (CommandStatus.REJECTED, "Faulted", ReservationStatus.REJECTED, False),
        (CommandStatus.TIMEOUT, "", ReservationStatus.CANCELLED, True),
    ],
    ids=["occupied", "faulted", "no-answer"],
)
async def test_a_refusal_or_silence_leaves_no_holding_reservation(
    session_factory: SessionFactory,
    answer: CommandStatus,
    detail: str,
    status: ReservationStatus,
    timed_out: bool,
) -> None:
    driver_id, _, evse_id = await setup(session_factory)
    outcome = await reservations.reserve_evse(
        session_factory=session_factory, commander=RecordingCommander(answer, detail),
        driver_id=driver_id, evse_id=evse_id, minutes=10,
    )  # fmt: skip
    assert (outcome.reservation.status, outcome.answer or "", outcome.timed_out) == (
        status.value,
        detail,
        timed_out,
    )
    assert (
        await reservations.list_reservations(
            session_factory=session_factory, driver_id=driver_id, active=True
        )
        == []
    )


async def test_the_sweep_expires_past_due_reservations_and_cancels_them_at_the_station(
    session_factory: SessionFactory,
) -> None:
    driver_id, token, evse_id = await setup(session_factory)
    due = await make_reservation(
        session_factory, driver_id=driver_id, evse_id=evse_id, id_token=token,
        expires_at=NOW - timedelta(seconds=1),
    )  # fmt: skip
    other_id, other_token = await make_driver(session_factory)
    later = await make_reservation(
        session_factory, driver_id=other_id, evse_id=evse_id, id_token=other_token,
        expires_at=NOW + timedelta(minutes=1),
    )  # fmt: skip
    commander = RecordingCommander()
    assert await expire_due(session_factory=session_factory, commander=commander, now=NOW) == [
        due.id
    ]
    assert commander.sent == [("SVC-1", CancelReservation(due.id or 0))]
    assert await status_of(session_factory, due.id) == "EXPIRED"
    assert await status_of(session_factory, later.id) == "ACTIVE"
    # A second sweep finds nothing more to do.
    assert await expire_due(session_factory=session_factory, commander=commander, now=NOW) == []


async def test_the_expiry_task_sweeps_with_its_clock(session_factory: SessionFactory) -> None:
    driver_id, token, evse_id = await setup(session_factory)
    row = await make_reservation(
        session_factory, driver_id=driver_id, evse_id=evse_id, id_token=token,
        expires_at=NOW + timedelta(minutes=10),
    )  # fmt: skip
    clock: dict[str, datetime] = {"now": NOW}
    expiry = ReservationExpiry(
        session_factory=session_factory, commander=RecordingCommander(),
        interval_s=0.01, clock=lambda: clock["now"],
    )  # fmt: skip
    async with expiry:
        async with asyncio.timeout(5):
            await expiry.swept.wait()
        assert await status_of(session_factory, row.id) == "ACTIVE"
        clock["now"] = NOW + timedelta(minutes=11)
        # A pass already running read the old clock and may signal after the change: wait
        # pass by pass (bounded) until one that read the new clock has expired the reservation.
        async with asyncio.timeout(5):
            while await status_of(session_factory, row.id) != "EXPIRED":
                expiry.swept.clear()
                await expiry.swept.wait()
    assert await status_of(session_factory, row.id) == "EXPIRED"


@pytest.mark.parametrize(
    ("by_token", "by_id", "used"),
    [(True, False, True), (False, True, True), (False, False, False)],
    ids=["token", "reservation-id", "someone-else"],
)
async def test_a_session_start_uses_the_reservation(
    session_factory: SessionFactory, by_token: bool, by_id: bool, used: bool
) -> None:
    driver_id, token, evse_id = await setup(session_factory)
    row = await make_reservation(
        session_factory, driver_id=driver_id, evse_id=evse_id, id_token=token,
        expires_at=NOW + timedelta(minutes=10),
    )  # fmt: skip
    async with session_factory() as db:
        found = await mark_used(
            db, evse_id=evse_id, id_token=token.lower() if by_token else "OTHER-TOKEN",
            reservation_id=row.id if by_id else None, at=NOW,
        )  # fmt: skip
        await db.commit()
    assert found == (row.id if used else None)
    assert await status_of(session_factory, row.id) == ("USED" if used else "ACTIVE")


async def test_cancel_is_idempotent_own_only_and_says_expired(
    session_factory: SessionFactory,
) -> None:
    driver_id, token, evse_id = await setup(session_factory)
    other_id, _ = await make_driver(session_factory)
    row = await make_reservation(
        session_factory, driver_id=driver_id, evse_id=evse_id, id_token=token,
        expires_at=NOW + timedelta(minutes=10),
    )  # fmt: skip
    assert row.id is not None
    commander = RecordingCommander()
    kwargs: dict[str, Any] = {"session_factory": session_factory, "commander": commander}
    with pytest.raises(NotFound):
        await reservations.cancel_reservation(**kwargs, driver_id=other_id, reservation_id=row.id)
    first = await reservations.cancel_reservation(
        **kwargs, driver_id=driver_id, reservation_id=row.id, now=NOW
    )
    again = await reservations.cancel_reservation(
        **kwargs, driver_id=driver_id, reservation_id=row.id, now=NOW
    )
    assert (first.status, again.status) == ("CANCELLED", "CANCELLED")
    assert commander.sent == [("SVC-1", CancelReservation(row.id))]  # sent once

    late = await make_reservation(
        session_factory, driver_id=driver_id, evse_id=evse_id, id_token=token,
        expires_at=NOW + timedelta(minutes=1),
    )  # fmt: skip
    assert late.id is not None
    expired = await reservations.cancel_reservation(
        **kwargs, driver_id=driver_id, reservation_id=late.id, now=NOW + timedelta(minutes=2)
    )
    assert expired.status == "EXPIRED"
