"""StopTransaction reads the session, the CDR's context and the samples once each, and writes
the CDR and the session once; the CDR stays priced, attributed and written once."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import func, select

from app.db.engine import SessionFactory
from app.db.models import Cdr, ChargingSession, Evse, IdToken
from app.domain.enums import SessionStatus
from app.events import InProcessEventBus
from app.services import cdrs, transactions
from tests.services.test_cdrs import make_driver, priced_station, reading

T0 = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 18:00 in Amsterdam


@contextmanager
def recorded(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements the engine sends while the block runs."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def kinds(statements: list[str]) -> list[str]:
    """'SELECT meter_sample', 'UPDATE charging_session', ...: the verb and the table (of a
    SELECT's first column)."""
    out = []
    for statement in statements:
        verb, first, rest = statement.split(" ", 2)
        if verb == "SELECT":
            table = first.split(".")[0]
        elif verb == "INSERT":
            table = rest.split(" ")[0]
        else:
            table = first
        out.append(f"{verb} {table}")
    return out


async def _charged(session_factory: SessionFactory, *, token: str | None) -> tuple[str, str]:
    """A priced station with a session that has three meter values."""
    station_id = await priced_station(session_factory, dc=False)
    bus = InProcessEventBus()
    started = await transactions.start_session(
        session_factory=session_factory, bus=bus, station_id=station_id, ocpp_evse_id=1,
        id_token=token, meter_start_wh=1000, started_at=T0,
    )  # fmt: skip
    for minute in range(1, 4):
        await transactions.record_meter_values(
            session_factory=session_factory, bus=bus, station_id=station_id, ocpp_evse_id=1,
            transaction_id=started.transaction_id,
            readings=(reading(T0 + timedelta(minutes=minute), 1000 + 183 * minute, 11_000),),
        )  # fmt: skip
    return station_id, started.transaction_id


async def _stop(session_factory: SessionFactory, station_id: str, transaction_id: str) -> None:
    await transactions.stop_session(
        session_factory=session_factory, bus=InProcessEventBus(), station_id=station_id,
        transaction_id=transaction_id, meter_stop_wh=1000 + 183 * 4,
        ended_at=T0 + timedelta(minutes=5), reason="EVDisconnected",
    )  # fmt: skip


async def _cdrs(session_factory: SessionFactory) -> list[Cdr]:
    async with session_factory() as db:
        return list((await db.exec(select(Cdr))).all())


@pytest.mark.parametrize(
    ("driver", "extra"),
    [(False, []), (True, ["SELECT stripe_customer"])],
    ids=["token-without-driver", "driver"],
)
async def test_a_stop_reads_each_thing_once_and_writes_the_session_once(
    session_factory: SessionFactory, engine: AsyncEngine, driver: bool, extra: list[str]
) -> None:
    if driver:
        await make_driver(session_factory, "CARD-STOP")
    station_id, transaction_id = await _charged(session_factory, token="card-stop")
    with recorded(engine) as statements:
        await _stop(session_factory, station_id, transaction_id)
    # The session; its EVSE, location, tariff, token and any CDR in one read; its samples;
    # the CDR; the session's end and price in one UPDATE (the payment's read when it has a
    # driver belongs to the settlement).
    assert sorted(kinds(statements)) == sorted(
        [
            "SELECT charging_session",
            "SELECT evse",
            "SELECT meter_sample",
            "INSERT cdr",
            "UPDATE charging_session",
            *extra,
        ]
    ), statements
    (cdr,) = await _cdrs(session_factory)
    assert cdr.total_incl_vat_minor > 0
    assert cdr.evse_uid == f"{station_id}*1"
    assert cdr.location_id is not None
    assert (cdr.driver_id is not None) == driver


async def test_a_cdr_already_stored_is_returned_not_written_again(
    session_factory: SessionFactory,
) -> None:
    station_id, transaction_id = await _charged(session_factory, token=None)
    await _stop(session_factory, station_id, transaction_id)
    (first,) = await _cdrs(session_factory)
    async with session_factory() as db:
        session = await db.get(ChargingSession, first.session_id)
        assert session is not None
        assert session.status == SessionStatus.COMPLETED
        again = await cdrs.write_cdr(db, session)
        assert again.id == first.id
        assert again.receipt_token == first.receipt_token
        await db.commit()
    assert [c.id for c in await _cdrs(session_factory)] == [first.id]


async def test_two_calls_in_one_transaction_write_one_cdr(
    session_factory: SessionFactory,
) -> None:
    station_id, _ = await _charged(session_factory, token=None)
    async with session_factory() as db:
        session = (
            await db.exec(select(ChargingSession).where(ChargingSession.station_id == station_id))
        ).one()
        session.status = SessionStatus.COMPLETED
        session.ended_at = T0 + timedelta(minutes=5)
        first = await cdrs.write_cdr(db, session)
        second = await cdrs.write_cdr(db, session)
        assert second is first
        await db.commit()
    assert len(await _cdrs(session_factory)) == 1


async def _bare_session(
    session_factory: SessionFactory, station_id: str, *, token: str | None
) -> int:
    """A session written without the start service: no tariff attached, no driver."""
    async with session_factory() as db:
        evse = (await db.exec(select(Evse).where(Evse.station_id == station_id))).one()
        assert evse.id is not None
        session = ChargingSession(
            station_id=station_id, evse_id=evse.id, transaction_id="bare", id_token=token,
            started_at=T0, meter_start_wh=1000, last_meter_at=T0,
        )  # fmt: skip
        db.add(session)
        await db.commit()
        assert session.id is not None
        return session.id


async def test_a_session_without_its_tariff_is_priced_on_its_connector_at_the_stop(
    session_factory: SessionFactory,
) -> None:
    station_id = await priced_station(session_factory, dc=True)
    driver_id = await make_driver(session_factory, "BARE-CARD")
    session_id = await _bare_session(session_factory, station_id, token="bare-card")
    await transactions.stop_session(
        session_factory=session_factory, bus=InProcessEventBus(), station_id=station_id,
        transaction_id="bare", meter_stop_wh=2000, ended_at=T0 + timedelta(minutes=30),
    )  # fmt: skip
    (cdr,) = await _cdrs(session_factory)
    async with session_factory() as db:
        session = await db.get(ChargingSession, session_id)
    assert session is not None
    assert session.tariff_id is not None
    assert cdr.tariff is not None
    assert cdr.tariff["id"] == str(session.tariff_id)
    # DC: 1 kWh x 0.59 + 1.00 session fee = 1.59 excl., VAT 0.3339 -> 0.33: 1.92 in all
    assert (cdr.total_excl_vat_minor, cdr.total_vat_minor, cdr.total_incl_vat_minor) == (
        159,
        33,
        192,
    )
    assert (session.cost_incl_vat_minor, session.currency) == (192, "EUR")
    assert (cdr.driver_id, session.driver_id) == (driver_id, driver_id)  # found by its token


async def test_a_token_nobody_owns_leaves_the_cdr_without_a_driver(
    session_factory: SessionFactory,
) -> None:
    station_id = await priced_station(session_factory, dc=True)
    async with session_factory() as db:
        db.add(IdToken(uid="NOBODY"))
        await db.commit()
    await _bare_session(session_factory, station_id, token="nobody")
    await transactions.stop_session(
        session_factory=session_factory, bus=InProcessEventBus(), station_id=station_id,
        transaction_id="bare", meter_stop_wh=2000, ended_at=T0 + timedelta(minutes=30),
    )  # fmt: skip
    async with session_factory() as db:
        cdr = (await db.exec(select(Cdr))).one()
        count = (await db.exec(select(func.count()).select_from(Cdr))).one()
    assert (cdr.driver_id, cdr.id_token, count) == (None, "nobody", 1)
