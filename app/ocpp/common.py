"""Conversions both OCPP versions share: timestamps and sampled meter values."""

import dataclasses
import logging
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from ocpp.exceptions import PropertyConstraintViolationError

from app.domain.commands import SetChargingLimit
from app.domain.errors import InvalidInput
from app.domain.metering import MeterReading, SampledValue, normalise

log = logging.getLogger(__name__)


def parse_timestamp(value: str | None, *, default: datetime | None = None) -> datetime:
    """An OCPP dateTime as a UTC-aware datetime; one without a zone is taken as UTC."""
    if value is None:
        if default is None:
            raise PropertyConstraintViolationError(description="timestamp is required")
        return default
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise PropertyConstraintViolationError(
            description=f"timestamp {value!r} is not an RFC 3339 date-time"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def reading(
    timestamp: str, sampled_values: Iterable[Mapping[str, Any]], *, version_unit_key: str
) -> MeterReading:
    """One MeterValue (snake_case keys, as the `ocpp` package hands them) as a MeterReading.

    1.6 puts `unit` on the sampled value; 2.0.1 nests `unit_of_measure` {unit, multiplier}.
    A value that is not a number (e.g. 1.6 SignedData) is skipped, not fatal.
    """
    values: list[SampledValue] = []
    for sampled in sampled_values:
        if sampled.get("format") == "SignedData":
            continue
        if version_unit_key == "unit_of_measure":
            unit_of_measure = sampled.get("unit_of_measure") or {}
            unit, multiplier = (
                unit_of_measure.get("unit"),
                int(unit_of_measure.get("multiplier", 0)),
            )
        else:
            unit, multiplier = sampled.get("unit"), 0
        try:
            values.append(
                normalise(
                    measurand=sampled.get("measurand"),
                    raw_value=sampled["value"],
                    unit=unit,
                    multiplier=multiplier,
                    phase=sampled.get("phase"),
                    location=sampled.get("location"),
                    context=sampled.get("context"),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("skipping sampled value %r: %s", sampled, exc)
    return MeterReading(timestamp=parse_timestamp(timestamp), values=tuple(values))


def readings(
    meter_values: Iterable[Mapping[str, Any]] | None, *, version_unit_key: str
) -> tuple[MeterReading, ...]:
    return tuple(
        reading(mv["timestamp"], mv.get("sampled_value") or (), version_unit_key=version_unit_key)
        for mv in meter_values or ()
    )


def profile_limit(command: SetChargingLimit) -> float:
    """The schedule limit: amps rounded down to 0.1 A (both versions' precision), or whole W.

    Rounded down, never up, so a limit the backend computed to fit a constraint still fits.
    """
    if (command.limit_a is None) == (command.limit_w is None):
        raise InvalidInput(
            f"limit_a={command.limit_a}, limit_w={command.limit_w}: expected exactly one"
        )
    if command.limit_a is not None:
        if command.limit_a < 0:
            raise InvalidInput(f"limit_a={command.limit_a}: expected >= 0")
        return math.floor(command.limit_a * 10 + 1e-9) / 10
    assert command.limit_w is not None
    if command.limit_w < 0:
        raise InvalidInput(f"limit_w={command.limit_w}: expected >= 0")
    return float(math.floor(command.limit_w))


def schedule_periods(command: SetChargingLimit) -> list[dict[str, Any]]:
    """The schedule's periods: the limit from 0 s, then `later_periods` (start s, limit)."""
    starts = [start for start, _ in command.later_periods]
    if command.later_periods and (command.starts_at is None or starts != sorted(set(starts))):
        raise InvalidInput(
            f"later_periods {command.later_periods}: expected increasing starts after starts_at"
        )
    periods: list[dict[str, Any]] = []
    amps = command.limit_a is not None
    for start, limit in ((0, None), *command.later_periods):
        if start < 0 or (start == 0 and limit is not None):
            raise InvalidInput(f"period start {start} s: expected > 0 after the first")
        one = command
        if limit is not None:
            one = (
                dataclasses.replace(command, limit_a=limit)
                if amps
                else dataclasses.replace(command, limit_w=limit)
            )
        period: dict[str, Any] = {"start_period": start, "limit": profile_limit(one)}
        if command.number_phases is not None and command.limit_a is not None:
            period["number_phases"] = command.number_phases
        periods.append(period)
    return periods
