"""StartTransaction finds its EVSE and a retransmitted start in one query: what counts as the
same start (station, EVSE, token or none, start time), and an EVSE reported for the first time."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, Evse
from app.events import InProcessEventBus
from app.services import transactions
from tests.factories import make_station

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _start(
    session_factory: SessionFactory,
    *,
    evse: int = 1,
    token: str | None = "TAG-1",
    at: datetime = AT,
) -> transactions.StartedSession:
    return await transactions.start_session(
        session_factory=session_factory,
        bus=InProcessEventBus(),
        station_id="CS-START",
        ocpp_evse_id=evse,
        id_token=token,
        meter_start_wh=100,
        started_at=at,
    )


@pytest.mark.parametrize("token", ["TAG-1", None], ids=["token", "no-token"])
async def test_a_repeated_start_returns_the_session_it_created(
    session_factory: SessionFactory, token: str | None
) -> None:
    await make_station(session_factory, station_id="CS-START")
    first = await _start(session_factory, token=token)
    again = await _start(session_factory, token=token)
    assert (again.session_id, again.transaction_id) == (first.session_id, first.transaction_id)
    async with session_factory() as db:
        assert len((await db.exec(select(ChargingSession))).all()) == 1


async def test_another_token_time_or_evse_is_a_new_session(
    session_factory: SessionFactory,
) -> None:
    await make_station(session_factory, station_id="CS-START", evses=2)
    first = await _start(session_factory)
    others = [
        await _start(session_factory, token="TAG-2"),
        await _start(session_factory, token=None),
        await _start(session_factory, at=AT + timedelta(seconds=1)),
        await _start(session_factory, evse=2),
    ]
    ids = {first.session_id, *(s.session_id for s in others)}
    assert len(ids) == 5
    async with session_factory() as db:
        sessions = (await db.exec(select(ChargingSession))).all()
    assert {s.transaction_id for s in sessions} == {str(i) for i in ids}


async def test_a_start_on_an_evse_not_reported_yet_creates_it(
    session_factory: SessionFactory,
) -> None:
    await make_station(session_factory, station_id="CS-START")
    started = await _start(session_factory, evse=7)
    again = await _start(session_factory, evse=7)
    assert again.session_id == started.session_id
    async with session_factory() as db:
        evse = (
            await db.exec(select(Evse).where(Evse.station_id == "CS-START", Evse.ocpp_evse_id == 7))
        ).one()
        session = await db.get(ChargingSession, started.session_id)
    assert session is not None
    assert session.evse_id == evse.id
