"""OCPP 2.0.1 NotifyEvent entries mapped to version-neutral device events for alerts."""

from typing import Any

from app.domain.alerts import AlertSeverity, DeviceEvent
from app.ocpp.common import parse_timestamp

# Variables whose "true" means the component is broken (OCPP 2.0.1 Appendix 2 / Part 2 §N).
_FAULT_VARIABLES = frozenset({"Problem", "Fault", "Tripped", "Overload"})
_TRUE = frozenset({"true", "1", "on"})


def device_events(event_data: list[dict[str, Any]]) -> list[DeviceEvent]:
    """Alerting and Delta events become device events; Periodic ones are telemetry (skipped).

    The code is `Component.Variable` (with instances when given), as a NOC reads it. A fault
    variable reported false, or an event marked `cleared`, clears its alert.
    """
    events = []
    for entry in event_data:
        trigger = str(entry.get("trigger", ""))
        if trigger == "Periodic":
            continue
        component = entry.get("component") or {}
        variable = entry.get("variable") or {}
        code = _name(component) + "." + _name(variable)
        actual = str(entry.get("actual_value", ""))
        is_fault = variable.get("name") in _FAULT_VARIABLES
        cleared = bool(entry.get("cleared")) or (is_fault and actual.lower() not in _TRUE)
        evse = component.get("evse") or {}
        evse_id = evse.get("id")
        events.append(
            DeviceEvent(
                code=code,
                ocpp_evse_id=int(evse_id) if isinstance(evse_id, int) and evse_id > 0 else None,
                timestamp=parse_timestamp(str(entry["timestamp"])),
                trigger=trigger,
                actual_value=actual[:100],
                cleared=cleared,
                severity=(
                    AlertSeverity.MAJOR
                    if is_fault
                    else AlertSeverity.MINOR
                    if trigger == "Alerting"
                    else AlertSeverity.INFO
                ),
                tech_code=str(entry["tech_code"]) if entry.get("tech_code") else None,
                tech_info=str(entry["tech_info"]) if entry.get("tech_info") else None,
            )
        )
    return events


def _name(part: dict[str, Any]) -> str:
    name = str(part.get("name", "?"))
    instance = part.get("instance")
    return f"{name}[{instance}]" if instance else name
