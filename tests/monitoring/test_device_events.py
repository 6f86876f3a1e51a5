"""2.0.1 NotifyEvent through the handler (no socket): a problem raises an alert with the
charger's tech code; the cleared event resolves it; Periodic telemetry raises nothing."""

import asyncio
import json
from typing import Any

from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import Alert
from app.domain.alerts import AlertSeverity, AlertState
from app.events import InProcessEventBus
from app.services.alerts import ALERTS_TOPIC
from tests.factories import make_station
from tests.ocpp.harness import handlers201


def event(event_id: int, *, trigger: str, value: str, cleared: bool = False) -> dict[str, Any]:
    return {
        "eventId": event_id, "timestamp": "2026-03-01T10:00:00Z", "trigger": trigger,
        "actualValue": value, "cleared": cleared, "techCode": "E-42",
        "techInfo": "isolation monitor", "eventNotificationType": "HardWiredMonitor",
        "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
        "variable": {"name": "Problem"},
    }  # fmt: skip


async def test_notify_event_raises_and_clears_an_alert(session_factory: SessionFactory) -> None:
    await make_station(session_factory, station_id="NE-1")
    bus = InProcessEventBus()
    charge_point, connection = handlers201(session_factory, None, "NE-1", bus=bus)

    async def notify(unique_id: str, *events: dict[str, Any]) -> None:
        payload = {"generatedAt": "2026-03-01T10:00:00Z", "seqNo": 0, "eventData": list(events)}
        await charge_point.route_message(json.dumps([2, unique_id, "NotifyEvent", payload]))

    async with bus.subscribe(ALERTS_TOPIC) as published:
        await notify("1", event(1, trigger="Alerting", value="true"))
        await notify("2", event(2, trigger="Periodic", value="true"))
        async with asyncio.timeout(5):
            _, raised = await published.get()
        assert (raised["type"], raised["code"]) == ("AlertRaised", "Connector.Problem")
        async with session_factory() as db:
            [alert] = (await db.exec(select(Alert))).all()
        assert (alert.severity, alert.state, alert.vendor_error_code) == (
            AlertSeverity.MAJOR, AlertState.OPEN, "E-42",
        )  # fmt: skip
        assert alert.evse_id is not None
        assert alert.info == "Alerting: true (isolation monitor)"

        await notify("3", event(3, trigger="Delta", value="false", cleared=True))
        async with asyncio.timeout(5):
            _, resolved = await published.get()
        assert resolved["type"] == "AlertResolved"
    assert [frame[0] for frame in connection.sent] == [3, 3, 3]
    async with session_factory() as db:
        rows = (await db.exec(select(Alert).order_by(col(Alert.id)))).all()
    assert [(a.state, a.resolved_by) for a in rows] == [(AlertState.RESOLVED, None)]
