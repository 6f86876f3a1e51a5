"""Alerts from 1.6 StatusNotification through the handler (no socket): error codes with the
vendor's details, one live alert per condition, cleared when the connector reports healthy."""

import json
from typing import Any

import pytest
from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import Alert
from app.domain.alerts import AlertSeverity, AlertState
from tests.factories import make_station
from tests.ocpp.harness import handlers16


async def alerts(factory: SessionFactory) -> list[tuple[str, AlertSeverity, AlertState, int]]:
    async with factory() as db:
        rows = (await db.exec(select(Alert).order_by(col(Alert.id)))).all()
    return [(a.code, a.severity, a.state, a.count) for a in rows]


@pytest.fixture
async def charge_point(session_factory: SessionFactory) -> Any:
    await make_station(session_factory, station_id="SA-1")
    charge_point, _ = handlers16(session_factory, None, "SA-1")
    return charge_point


async def status(charge_point: Any, n: int, status: str, code: str, **extra: str) -> None:
    payload = {"connectorId": 1, "errorCode": code, "status": status,
               "timestamp": f"2026-03-01T10:00:0{n}Z", **extra}  # fmt: skip
    await charge_point.route_message(json.dumps([2, str(n), "StatusNotification", payload]))


async def test_an_error_code_raises_with_vendor_details_and_clears(
    charge_point: Any, session_factory: SessionFactory
) -> None:
    await status(charge_point, 1, "Available", "NoError")
    await status(
        charge_point, 2, "Faulted", "GroundFailure",
        vendorId="ACME", vendorErrorCode="GF-7", info="RCD tripped",
    )  # fmt: skip
    async with session_factory() as db:
        alert = (await db.exec(select(Alert))).one()
    assert (alert.code, alert.vendor_error_code) == ("GroundFailure", "ACME:GF-7")
    assert alert.info == "EVSE SA-1*1 reported OUTOFORDER: RCD tripped"
    # A different fault replaces it; the charger recovering resolves everything.
    await status(charge_point, 3, "Faulted", "HighTemperature")
    await status(charge_point, 4, "Available", "NoError")
    assert await alerts(session_factory) == [
        ("GroundFailure", AlertSeverity.MAJOR, AlertState.RESOLVED, 1),
        ("HighTemperature", AlertSeverity.MAJOR, AlertState.RESOLVED, 1),
    ]


async def test_a_warning_code_on_a_working_connector_is_a_warning(
    charge_point: Any, session_factory: SessionFactory
) -> None:
    await status(charge_point, 1, "Available", "WeakSignal")
    await status(charge_point, 2, "Charging", "WeakSignal")  # same condition: counted again
    assert await alerts(session_factory) == [
        ("WeakSignal", AlertSeverity.WARNING, AlertState.OPEN, 2)
    ]
