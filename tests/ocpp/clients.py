"""Real OCPP charge point clients (the `ocpp` package over `websockets`) for end-to-end tests."""

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import websockets
from ocpp import v16, v201
from ocpp.routing import on

from tests.conftest import LiveServer

PASSWORD = "secret-password-1"
V16 = "ocpp1.6"
V201 = "ocpp2.0.1"

BOOT16 = json.dumps(
    [2, "ok-1", "BootNotification", {"chargePointVendor": "A", "chargePointModel": "B"}]
)
BOOT201 = json.dumps(
    [
        2,
        "ok-1",
        "BootNotification",
        {"chargingStation": {"vendorName": "A", "model": "B"}, "reason": "PowerUp"},
    ]
)


def basic_auth(station_id: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class Charger16(v16.ChargePoint):
    """A 1.6 charger that accepts remote starts."""

    @on("RemoteStartTransaction")
    async def on_remote_start(self, id_tag: str, **_: Any) -> Any:
        return v16.call_result.RemoteStartTransaction(status="Accepted")


class Charger201(v201.ChargePoint):
    """A 2.0.1 charger that accepts remote starts."""

    @on("RequestStartTransaction")
    async def on_request_start(self, id_token: dict[str, Any], **_: Any) -> Any:
        return v201.call_result.RequestStartTransaction(status="Accepted", transaction_id="tx-r")


async def exchange(websocket: Any, frame: str) -> Any:
    """Send one raw frame; return the next frame received, parsed (bounded wait)."""
    await websocket.send(frame)
    async with asyncio.timeout(5):
        return json.loads(await websocket.recv())


@contextlib.asynccontextmanager
async def raw_socket(
    server: LiveServer,
    station_id: str,
    *,
    subprotocols: tuple[str, ...] = (V16,),
    password: str | None = PASSWORD,
) -> AsyncIterator[Any]:
    """A bare WebSocket (nothing reads it for us): for raw and malformed frames."""
    headers = basic_auth(station_id, password) if password is not None else {}
    async with websockets.connect(
        f"{server.ws_url}/ocpp/{station_id}",
        subprotocols=list(subprotocols),  # type: ignore[arg-type]
        additional_headers=headers,
        open_timeout=5,
        close_timeout=2,
    ) as websocket:
        yield websocket


@contextlib.asynccontextmanager
async def charger(
    server: LiveServer,
    station_id: str,
    *,
    version: str = V16,
    password: str = PASSWORD,
) -> AsyncIterator[Any]:
    """A connected charger running its receive loop; yields its ChargePoint."""
    async with raw_socket(server, station_id, subprotocols=(version,), password=password) as ws:
        assert ws.subprotocol == version
        charge_point = (Charger16 if version == V16 else Charger201)(
            station_id, ws, response_timeout=5
        )
        task = asyncio.create_task(charge_point.start())
        try:
            yield charge_point
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await task


async def boot16(charge_point: Any) -> Any:
    return await charge_point.call(
        v16.call.BootNotification(charge_point_vendor="Acme", charge_point_model="AC22")
    )


async def boot201(charge_point: Any) -> Any:
    return await charge_point.call(
        v201.call.BootNotification(
            charging_station={
                "vendor_name": "Acme",
                "model": "DC150",
                "serial_number": "S-1",
                "firmware_version": "2.1",
            },
            reason="PowerUp",
        )
    )
