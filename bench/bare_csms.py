"""The baseline of bench/ocpp.py: a bare OCPP 1.6 central system made of the `ocpp` package
alone (its ChargePoint on a `websockets` server), whose handlers answer and store nothing.

    python bench/bare_csms.py --port 9000

The package's defaults are kept (schema validation included), so the ratio to it measures
what chargenet adds: authentication, persistence of every message, events, pricing.
"""

import argparse
import asyncio
import contextlib
import signal
import sys
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ocpp.py must not shadow the package
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus
from websockets.asyncio.server import ServerConnection, serve

_transactions = count(1)


def _now() -> str:
    return datetime.now(UTC).isoformat()


class BareChargePoint(ChargePoint):  # type: ignore[misc]
    @on(Action.boot_notification)
    async def on_boot(self, **_: Any) -> Any:
        return call_result.BootNotification(
            current_time=_now(), interval=60, status=RegistrationStatus.accepted
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self, **_: Any) -> Any:
        return call_result.Heartbeat(current_time=_now())

    @on(Action.status_notification)
    async def on_status(self, **_: Any) -> Any:
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, **_: Any) -> Any:
        return call_result.Authorize(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.start_transaction)
    async def on_start(self, **_: Any) -> Any:
        return call_result.StartTransaction(
            transaction_id=next(_transactions),
            id_tag_info={"status": AuthorizationStatus.accepted},
        )

    @on(Action.stop_transaction)
    async def on_stop(self, **_: Any) -> Any:
        return call_result.StopTransaction()

    @on(Action.meter_values)
    async def on_meter_values(self, **_: Any) -> Any:
        return call_result.MeterValues()


async def _handle(connection: ServerConnection) -> None:
    path = connection.request.path if connection.request else "/unknown"
    charge_point = BareChargePoint(path.rstrip("/").rsplit("/", 1)[-1], connection)
    with contextlib.suppress(Exception):  # a dropped station ends its own loop only
        await charge_point.start()


async def main(port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # As uvicorn serves chargenet: a listen backlog of 2048 (asyncio's default is 100) and no
    # handshake deadline of its own (websockets closes a handshake unfinished after 10 s),
    # so a 10,000-station storm meets the same front door on both servers.
    async with serve(
        _handle,
        "127.0.0.1",
        port,
        subprotocols=["ocpp1.6"],
        ping_interval=None,
        max_queue=64,
        open_timeout=None,
        backlog=2048,
    ):
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(main(args.port))  # the app's uvicorn runs on uvloop too
    except ImportError:
        asyncio.run(main(args.port))
