"""StatusNotification on Core statements: the EVSE, its location and whether it has open
status alerts in one read; the status, its interval history and its alerts as before."""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import Alert, Evse, EvseStatusInterval
from app.domain.alerts import AlertState
from app.domain.enums import EvseStatus
from app.events import InProcessEventBus
from app.services import availability
from tests.factories import make_location, make_station
from tests.services.test_transactions_stop import kinds, recorded

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _report(
    session_factory: SessionFactory,
    station_id: str,
    status: EvseStatus,
    *,
    evse: int | None = 1,
    error_code: str | None = None,
    at: datetime = AT,
) -> list[dict[str, Any]]:
    return await availability.record_status(
        session_factory=session_factory, bus=InProcessEventBus(), station_id=station_id,
        ocpp_evse_id=evse, status=status, error_code=error_code, at=at,
    )  # fmt: skip


async def _intervals(session_factory: SessionFactory) -> list[tuple[Any, ...]]:
    async with session_factory() as db:
        rows = (
            await db.exec(select(EvseStatusInterval).order_by(col(EvseStatusInterval.id)))
        ).all()
    return [(r.evse_id, r.status, r.error_code, r.started_at, r.ended_at) for r in rows]


async def _alerts(session_factory: SessionFactory) -> list[tuple[Any, ...]]:
    async with session_factory() as db:
        rows = (await db.exec(select(Alert).order_by(col(Alert.id)))).all()
    return [(r.code, r.state, r.count, r.info) for r in rows]


async def test_a_change_is_one_read_and_three_writes(
    session_factory: SessionFactory, engine: AsyncEngine
) -> None:
    location = await make_location(session_factory)
    station = await make_station(session_factory, location=location)
    with recorded(engine) as statements:
        events = await _report(session_factory, station.id, EvseStatus.CHARGING)
    assert kinds(statements) == [
        "SELECT evse",
        "UPDATE evse",
        "UPDATE evse_status_interval",
        "INSERT evse_status_interval",
    ], statements
    async with session_factory() as db:
        evse = (await db.exec(select(Evse).where(Evse.station_id == station.id))).one()
    assert (evse.status, evse.error_code, evse.status_updated_at) == (EvseStatus.CHARGING, None, AT)
    assert [
        (e["evse_uid"], e["status"], e["previous_status"], e["location_id"]) for e in events
    ] == [(f"{station.id}*1", "CHARGING", "UNKNOWN", location.id)]
    assert await _intervals(session_factory) == [(evse.id, EvseStatus.CHARGING, None, AT, None)]
    with recorded(engine) as statements:
        assert await _report(session_factory, station.id, EvseStatus.CHARGING) == []
    assert kinds(statements) == ["SELECT evse"]  # no change: nothing written


async def test_a_fault_raises_an_alert_and_the_healthy_report_resolves_it(
    session_factory: SessionFactory, engine: AsyncEngine
) -> None:
    station = await make_station(session_factory)
    later = AT + timedelta(minutes=5)
    healed = AT + timedelta(minutes=10)
    await _report(session_factory, station.id, EvseStatus.AVAILABLE)
    await _report(
        session_factory, station.id, EvseStatus.OUTOFORDER, error_code="GroundFailure", at=later
    )
    assert await _alerts(session_factory) == [
        ("GroundFailure", AlertState.OPEN, 1, f"EVSE {station.id}*1 reported OUTOFORDER")
    ]
    with recorded(engine) as statements:
        await _report(session_factory, station.id, EvseStatus.AVAILABLE, at=healed)
    # The open alert is read to be resolved: the EVSE's read said it had one.
    assert "SELECT alert" in kinds(statements)
    assert await _alerts(session_factory) == [
        ("GroundFailure", AlertState.RESOLVED, 1, f"EVSE {station.id}*1 reported OUTOFORDER")
    ]
    (evse_id,) = {row[0] for row in await _intervals(session_factory)}
    assert await _intervals(session_factory) == [
        (evse_id, EvseStatus.AVAILABLE, None, AT, later),
        (evse_id, EvseStatus.OUTOFORDER, "GroundFailure", later, healed),
        (evse_id, EvseStatus.AVAILABLE, None, healed, None),
    ]


async def test_a_late_report_closes_the_open_interval_at_its_start(
    session_factory: SessionFactory,
) -> None:
    station = await make_station(session_factory)
    await _report(session_factory, station.id, EvseStatus.CHARGING)
    await _report(session_factory, station.id, EvseStatus.AVAILABLE, at=AT - timedelta(minutes=1))
    assert [(r[1], r[3], r[4]) for r in await _intervals(session_factory)] == [
        (EvseStatus.CHARGING, AT, AT),
        (EvseStatus.AVAILABLE, AT - timedelta(minutes=1), None),
    ]


async def test_a_station_wide_fault_changes_every_evse_and_a_new_evse_is_created(
    session_factory: SessionFactory,
) -> None:
    station = await make_station(session_factory, evses=2)
    await _report(session_factory, station.id, EvseStatus.CHARGING, evse=2)
    events = await _report(session_factory, station.id, EvseStatus.INOPERATIVE, evse=None)
    assert [(e["evse_uid"], e["previous_status"]) for e in events] == [
        (f"{station.id}*1", "UNKNOWN"),
        (f"{station.id}*2", "CHARGING"),
    ]
    events = await _report(session_factory, station.id, EvseStatus.AVAILABLE, evse=3)
    assert [(e["evse_uid"], e["previous_status"]) for e in events] == [
        (f"{station.id}*3", "UNKNOWN")
    ]
    async with session_factory() as db:
        evses = (await db.exec(select(Evse).order_by(col(Evse.ocpp_evse_id)))).all()
    assert [e.status for e in evses] == [
        EvseStatus.INOPERATIVE,
        EvseStatus.INOPERATIVE,
        EvseStatus.AVAILABLE,
    ]
    assert len(await _intervals(session_factory)) == 4
