"""An OpenADR 3.0 VEN: poll a VTN's events and apply IMPORT_CAPACITY_LIMIT intervals as limits.

An event's `targets` name the capacity nodes it limits (`RESOURCE_NAME` values are node names).
Each interval runs for the event's `intervalPeriod.duration` (or its own `intervalPeriod`),
back to back from the event's start. Values are in the payload descriptor's units (KW by
default, W and A also understood). The VTN is the source of truth: every poll replaces the
OpenADR limits still ahead with what it lists, so a cancelled event disappears on the next poll.
"""

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx

from app.db.engine import SessionFactory
from app.events import EventBus
from app.services.capacity_openadr import GridLimit, sync_openadr_limits
from app.settings import Settings

log = logging.getLogger(__name__)

CAPACITY_LIMIT = "IMPORT_CAPACITY_LIMIT"
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(value: str) -> timedelta:
    """An ISO 8601 duration as OpenADR uses it (days, hours, minutes, seconds)."""
    match = _DURATION.match(value)
    if match is None or value in ("P", "PT"):
        raise ValueError(f"duration {value!r}: expected ISO 8601 like PT1H or P1DT30M")
    parts = {k: float(v) for k, v in match.groupdict().items() if v is not None}
    return timedelta(
        days=parts.get("d", 0), hours=parts.get("h", 0),
        minutes=parts.get("m", 0), seconds=parts.get("s", 0),
    )  # fmt: skip


def _period(raw: Mapping[str, Any] | None) -> tuple[datetime | None, timedelta | None]:
    if not raw:
        return None, None
    start = raw.get("start")
    duration = raw.get("duration")
    return (
        datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None,
        parse_duration(duration) if duration else None,
    )


def capacity_limits(events: Sequence[Mapping[str, Any]]) -> list[GridLimit]:
    """The IMPORT_CAPACITY_LIMIT intervals of `events`, one limit per targeted node name."""
    limits: list[GridLimit] = []
    for event in events:
        names = [
            str(value)
            for target in event.get("targets") or ()
            if target.get("type") == "RESOURCE_NAME"
            for value in target.get("values") or ()
        ]
        units = {
            d.get("payloadType"): str(d.get("units") or "KW").upper()
            for d in event.get("payloadDescriptors") or ()
        }
        start, length = _period(event.get("intervalPeriod"))
        for interval in event.get("intervals") or ():
            own_start, own_length = _period(interval.get("intervalPeriod"))
            begins = own_start or (
                start + (length or timedelta()) * int(interval.get("id", 0)) if start else None
            )
            duration = own_length or length
            if begins is None or duration is None or begins.tzinfo is None:
                log.warning("OpenADR interval without a zoned start and duration: %r", interval)
                continue
            for payload in interval.get("payloads") or ():
                if payload.get("type") != CAPACITY_LIMIT or not payload.get("values"):
                    continue
                value = float(payload["values"][0])
                unit = units.get(CAPACITY_LIMIT, "KW")
                for name in names:
                    limits.append(
                        GridLimit(
                            node_name=name,
                            limit_a=value if unit == "A" else None,
                            limit_w=None
                            if unit == "A"
                            else round(value * (1000 if unit == "KW" else 1)),
                            valid_from=begins,
                            valid_to=begins + duration,
                        )
                    )
    return limits


class OpenAdrVen:
    """Polls the configured VTN every `openadr_poll_interval_s`; owned by the scheduler."""

    def __init__(
        self,
        *,
        settings: Settings,
        session_factory: SessionFactory,
        bus: EventBus,
        clock: Callable[[], datetime],
    ) -> None:
        assert settings.openadr_vtn_url is not None
        self.url = settings.openadr_vtn_url.rstrip("/") + "/events"
        self.interval_s = settings.openadr_poll_interval_s
        token = settings.openadr_vtn_token
        self.headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
        self.session_factory = session_factory
        self.bus = bus
        self.clock = clock

    async def poll_once(self, http: httpx.AsyncClient) -> int:
        """Fetch the events and apply them; returns how many limits are in force or ahead."""
        response = await http.get(self.url, headers=self.headers)
        response.raise_for_status()
        events = response.json()
        if not isinstance(events, list):
            raise ValueError(f"VTN answered {type(events).__name__}, expected a list of events")
        limits = capacity_limits(events)
        await sync_openadr_limits(
            session_factory=self.session_factory, bus=self.bus, limits=limits, now=self.clock()
        )
        return len(limits)

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            while True:
                try:
                    await self.poll_once(http)
                except Exception:  # a VTN outage must not end the loop; the limits stay
                    log.exception("OpenADR poll of %s failed", self.url)
                await asyncio.sleep(self.interval_s)
