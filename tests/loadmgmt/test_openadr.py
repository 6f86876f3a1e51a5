"""The OpenADR 3.0 VEN: IMPORT_CAPACITY_LIMIT intervals from a VTN on 127.0.0.1 become (and stop
being) capacity limits of the nodes the events target."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.db.engine import SessionFactory
from app.db.models import CapacityLimit
from app.db.models.capacity import CapacityNodeKind, LimitSource
from app.events import InProcessEventBus
from app.loadmgmt.openadr import OpenAdrVen, capacity_limits, parse_duration
from app.services.capacity import LIMITS_CHANGED, create_node
from app.settings import Settings
from tests.conftest import serve

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TOKEN = "vtn-token-0001"


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "ev-1",
        "programID": "capacity",
        "intervalPeriod": {"start": "2026-11-26T12:30:00Z", "duration": "PT15M"},
        "targets": [{"type": "RESOURCE_NAME", "values": ["site-a"]}],
        "payloadDescriptors": [{"payloadType": "IMPORT_CAPACITY_LIMIT", "units": "KW"}],
        "intervals": [
            {"id": 0, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [30]}]},
            {"id": 1, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [22.5]}]},
            {"id": 2, "payloads": [{"type": "PRICE", "values": [0.31]}]},
        ],
    }
    return base | overrides


@pytest.mark.parametrize(
    ("value", "expected"),
    [("PT1H", timedelta(hours=1)), ("PT15M", timedelta(minutes=15)),
     ("P1DT30M", timedelta(days=1, minutes=30)), ("PT0.5S", timedelta(seconds=0.5))],
    ids=["hour", "minutes", "day-and-minutes", "fraction"],
)  # fmt: skip
def test_durations_parse(value: str, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize("value", ["", "P", "1H", "PT", "PTXM"])
def test_bad_durations_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_duration(value)


def test_intervals_run_back_to_back_in_the_payload_units() -> None:
    start = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)
    limits = capacity_limits([event()])
    assert [(x.node_name, x.limit_w, x.valid_from, x.valid_to) for x in limits] == [
        ("site-a", 30_000, start, start + timedelta(minutes=15)),
        ("site-a", 22_500, start + timedelta(minutes=15), start + timedelta(minutes=30)),
    ]
    amps = event(payloadDescriptors=[{"payloadType": "IMPORT_CAPACITY_LIMIT", "units": "A"}])
    assert [(x.limit_a, x.limit_w) for x in capacity_limits([amps])] == [(30.0, None), (22.5, None)]


async def test_the_ven_applies_and_then_withdraws_a_vtn_s_limits(
    settings: Settings, session_factory: SessionFactory
) -> None:
    await create_node(
        session_factory=session_factory, name="site-a", kind=CapacityNodeKind.SITE, limit_a=100.0
    )
    published: list[dict[str, Any]] = []
    served: list[dict[str, Any]] = [event()]

    async def events(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"title": "unauthorized"}, status_code=401)
        return JSONResponse(served)

    vtn = Starlette(routes=[Route("/openadr3/events", events)])
    bus = InProcessEventBus()
    async with serve(vtn) as server, bus.subscribe(LIMITS_CHANGED) as changes:
        settings.openadr_vtn_url = f"{server.http_url}/openadr3"
        settings.openadr_vtn_token = SecretStr(TOKEN)
        ven = OpenAdrVen(
            settings=settings, session_factory=session_factory, bus=bus, clock=lambda: NOW
        )
        async with httpx.AsyncClient(timeout=10) as http:
            assert await ven.poll_once(http) == 2
            published.append((await changes.get())[1])
            assert await ven.poll_once(http) == 2  # unchanged: no second event
            served.clear()  # the VTN cancelled the event
            assert await ven.poll_once(http) == 0
            published.append((await changes.get())[1])
        async with session_factory() as db:
            rows = (await db.exec(select(CapacityLimit))).all()
    assert rows == []
    assert [p["limits"] for p in published] == [2, 0]
    assert changes.dropped == 0


async def test_the_ven_stores_openadr_limits_on_the_targeted_node(
    settings: Settings, session_factory: SessionFactory
) -> None:
    node = await create_node(
        session_factory=session_factory, name="site-a", kind=CapacityNodeKind.SITE, limit_a=100.0
    )

    async def events(_: Request) -> JSONResponse:
        return JSONResponse([event()])

    async with serve(Starlette(routes=[Route("/events", events)])) as server:
        settings.openadr_vtn_url = server.http_url
        ven = OpenAdrVen(
            settings=settings, session_factory=session_factory, bus=InProcessEventBus(),
            clock=lambda: NOW,
        )  # fmt: skip
        async with httpx.AsyncClient(timeout=10) as http:
            await ven.poll_once(http)
    async with session_factory() as db:
        rows = (await db.exec(select(CapacityLimit).order_by(CapacityLimit.valid_from))).all()  # type: ignore[arg-type]
    assert [(r.node_id, r.limit_w, r.source) for r in rows] == [
        (node.id, 30_000, LimitSource.OPENADR), (node.id, 22_500, LimitSource.OPENADR),
    ]  # fmt: skip
