"""The command service on a real database: idempotency under concurrent retries, the runner."""

import asyncio

import pytest
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, Evse, RemoteCommand
from app.services import commands
from app.services.command_runner import CommandRunner
from tests.factories import make_station
from tests.reservation_builders import make_driver


async def online_evse(session_factory: SessionFactory) -> int:
    station = await make_station(session_factory)
    async with session_factory() as db:
        row = await db.get(ChargingStation, station.id)
        assert row is not None
        row.online = True
        evse = (await db.exec(select(Evse).where(Evse.station_id == station.id))).one()
        await db.commit()
    assert evse.id is not None
    return evse.id


async def test_concurrent_retries_of_one_client_mutation_id_record_one_command(
    session_factory: SessionFactory,
) -> None:
    evse_id = await online_evse(session_factory)
    driver_id, token = await make_driver(session_factory)
    results = await asyncio.gather(
        *(
            commands.request_start(
                session_factory=session_factory,
                driver_id=driver_id,
                evse_id=evse_id,
                client_mutation_id="retry-1",
            )
            for _ in range(5)
        )
    )
    assert len({r.command.id for r in results}) == 1
    assert [r.created for r in results].count(True) == 1
    async with session_factory() as db:
        rows = (await db.exec(select(RemoteCommand))).all()
    assert len(rows) == 1
    assert rows[0].detail is not None
    assert rows[0].detail["id_token"] == token
    assert rows[0].remote_start_id == 1


async def test_a_second_start_on_the_same_evse_is_occupied(session_factory: SessionFactory) -> None:
    evse_id = await online_evse(session_factory)
    first_driver, _ = await make_driver(session_factory)
    second_driver, _ = await make_driver(session_factory)
    await commands.request_start(
        session_factory=session_factory, driver_id=first_driver, evse_id=evse_id,
        client_mutation_id="a",
    )  # fmt: skip
    with pytest.raises(commands.EvseUnavailable) as refused:
        await commands.request_start(
            session_factory=session_factory, driver_id=second_driver, evse_id=evse_id,
            client_mutation_id="b",
        )  # fmt: skip
    assert refused.value.reason == "OCCUPIED"


async def test_the_runner_cancels_its_tasks_on_exit() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    async with CommandRunner() as runner:
        task = runner.spawn(forever(), name="forever")
        async with asyncio.timeout(5):
            await started.wait()
        assert len(runner) == 1
    assert task.cancelled()
    with pytest.raises(RuntimeError, match="not running"):
        runner.spawn(forever(), name="late")
