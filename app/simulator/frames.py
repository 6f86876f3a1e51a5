"""Wire formats shared by the simulator's stations: meter values and stop reasons per version."""

from datetime import UTC, datetime
from typing import Any

from app.simulator.model import Sample


def now_iso() -> str:
    """UTC now as OCPP wants it: ISO 8601 with milliseconds and a Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


STOP_REASONS_16 = {
    "local": "Local", "remote": "Remote", "ev_disconnected": "EVDisconnected",
    "deauthorized": "DeAuthorized", "reset": "SoftReset", "hard_reset": "HardReset",
    "unlock": "UnlockCommand", "other": "Other",
}  # fmt: skip
# neutral reason -> (stoppedReason, triggerReason)
STOP_REASONS_201 = {
    "local": ("Local", "StopAuthorized"), "remote": ("Remote", "RemoteStop"),
    "ev_disconnected": ("EVDisconnected", "EVCommunicationLost"),
    "deauthorized": ("DeAuthorized", "Deauthorized"), "reset": ("ImmediateReset", "ResetCommand"),
    "hard_reset": ("ImmediateReset", "ResetCommand"), "unlock": ("Other", "UnlockCommand"),
    "other": ("Other", "AbnormalCondition"),
}  # fmt: skip


def sampled_values_16(sample: Sample, context: str) -> list[dict[str, Any]]:
    """1.6 SampledValue list: values are strings, units per measurand."""
    values = [
        ("Energy.Active.Import.Register", str(sample.energy_wh), "Wh", "Outlet"),
        ("Power.Active.Import", str(sample.power_w), "W", "Outlet"),
        ("Current.Import", f"{sample.current_a:.1f}", "A", "Outlet"),
    ]
    if sample.soc_percent is not None:
        values.append(("SoC", str(sample.soc_percent), "Percent", "EV"))
    return [
        {"value": v, "context": context, "measurand": m, "unit": u, "location": loc}
        for m, v, u, loc in values
    ]


def meter_value_201(sample: Sample, context: str) -> dict[str, Any]:
    """2.0.1 MeterValueType: numeric values with a unitOfMeasure."""
    values: list[tuple[str, float, str, str]] = [
        ("Energy.Active.Import.Register", sample.energy_wh, "Wh", "Outlet"),
        ("Power.Active.Import", sample.power_w, "W", "Outlet"),
        ("Current.Import", sample.current_a, "A", "Outlet"),
    ]
    if sample.soc_percent is not None:
        values.append(("SoC", sample.soc_percent, "Percent", "EV"))
    return {
        "timestamp": now_iso(),
        "sampled_value": [
            {"value": v, "context": context, "measurand": m, "location": loc,
             "unit_of_measure": {"unit": u}}
            for m, v, u, loc in values
        ],
    }  # fmt: skip
