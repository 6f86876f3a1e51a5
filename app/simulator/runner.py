"""run_simulation: a network of simulated chargers, one task group per station, no threads."""

import asyncio
import contextlib
import logging

from app.simulator.config import SimulationConfig, SimulationStats
from app.simulator.station import SimulatedStation
from app.simulator.v16 import SimulatedStation16
from app.simulator.v201 import SimulatedStation201

log = logging.getLogger(__name__)

STATION_CLASSES: dict[str, type[SimulatedStation]] = {
    "1.6": SimulatedStation16,
    "2.0.1": SimulatedStation201,
}


def create_station(
    config: SimulationConfig, index: int, stats: SimulationStats | None = None
) -> SimulatedStation:
    """The `index`-th (0-based) station of `config`: its id, protocol, password and kind."""
    station_id = config.station_id(index)
    dc = bool(config.dc_every) and index % config.dc_every == config.dc_every - 1
    return STATION_CLASSES[config.station_protocol(index)](
        url=config.url,
        station_id=station_id,
        password=config.station_password(station_id),
        id_tokens=config.id_tokens,
        evses=config.evses_per_station,
        dc=dc,
        seed=config.seed,
        heartbeat_s=config.heartbeat_s,
        meter_interval_s=config.meter_interval_s,
        time_scale=config.time_scale,
        reconnect_delay_s=config.reconnect_delay_s,
        stats=stats,
        validate_messages=config.validate_messages,
    )


async def _run_station(station: SimulatedStation, delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    await station.run()


async def run_simulation(
    config: SimulationConfig, *, stop: asyncio.Event | None = None
) -> SimulationStats:
    """Run `config.stations` chargers until `duration_s` passes, `stop` is set or the caller
    cancels; then end their sessions, hand the stops to the CSMS (bounded) and disconnect.

    Stations start spread evenly over `config.ramp_s` so a large network does not connect in
    one burst. Returns the counters of the whole network.
    """
    stats = SimulationStats()
    stations = [create_station(config, i, stats) for i in range(config.stations)]
    step = config.ramp_s / len(stations) if stations else 0.0
    tasks = [
        asyncio.create_task(_run_station(s, i * step), name=f"simulator:{s.station_id}")
        for i, s in enumerate(stations)
    ]
    log.info("simulating %d stations against %s", len(stations), config.url)
    try:
        async with asyncio.timeout(config.duration_s):
            await (stop.wait() if stop is not None else asyncio.Future())
    except TimeoutError:
        pass
    finally:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10.0):
                await asyncio.gather(*(s.shutdown() for s in stations))
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for station, result in zip(stations, results, strict=True):
            if isinstance(result, Exception):
                stats.errors += 1
                log.error("%s crashed", station.station_id, exc_info=result)
    return stats
