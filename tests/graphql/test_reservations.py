"""reserveEvse, cancelReservation and me.reservations over HTTP: typed refusals, own data only."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from app.db.engine import SessionFactory
from app.db.models import Evse
from app.domain.reservations import ReservationStatus
from tests.factories import make_station
from tests.graphql.conftest import global_id
from tests.reservation_builders import bearer, make_driver, make_reservation

RESERVE = """
    mutation Reserve($evseId: ID!, $minutes: Int!) {
      reserveEvse(input: {evseId: $evseId, minutes: $minutes}) {
        __typename
        ... on EvseNotFound { message }
        ... on EvseUnavailable { message reason }
        ... on ReservationLimitReached { message activeReservationId }
        ... on InvalidReservationInput { message field }
      }
    }
"""
CANCEL = """
    mutation Cancel($id: ID!) {
      cancelReservation(input: {reservationId: $id}) {
        __typename
        ... on ReservationPayload { reservation { status } }
        ... on ReservationNotFound { message }
        ... on ReservationExpired { message reservation { status } }
        ... on ReservationNotActive { message reservation { status } }
      }
    }
"""
MINE = """
    query Mine($active: Boolean) {
      me { reservations(active: $active) { id status expiresAt evse { uid } } }
    }
"""


async def post(
    app: Starlette, query: str, headers: dict[str, str] | None = None, **variables: Any
) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers or {}
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def factory_of(app: Starlette) -> SessionFactory:
    factory: SessionFactory = app.state.runtime.session_factory
    return factory


async def one_evse(app: Starlette) -> Evse:
    station = await make_station(factory_of(app), station_id="GQL-RSV")
    async with factory_of(app)() as db:
        return (await db.exec(select(Evse).where(Evse.station_id == station.id))).one()


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (RESERVE, {"evseId": global_id("Evse", 1), "minutes": 10}),
        (CANCEL, {"id": global_id("Reservation", 1)}),
        (MINE, {}),
    ],
    ids=["reserveEvse", "cancelReservation", "me.reservations"],
)
async def test_anonymous_callers_are_refused(
    app: Starlette, query: str, variables: dict[str, Any]
) -> None:
    body = await post(app, query, **variables)
    assert body["data"] is None
    assert body["errors"][0]["message"].startswith("log in first")


@pytest.mark.parametrize(
    ("evse", "minutes", "expected"),
    [
        ("missing", 10, {"__typename": "EvseNotFound", "message": "EVSE {gid!r} not found"}),
        ("garbage", 10, {"__typename": "EvseNotFound", "message": "EVSE {gid!r} not found"}),
        (
            "real",
            0,
            {
                "__typename": "InvalidReservationInput",
                "message": "minutes=0: expected 1 to 60",
                "field": "minutes",
            },
        ),
        (
            "real",
            30,
            {
                "__typename": "EvseUnavailable",
                "message": "EVSE {key} cannot be reserved: offline",
                "reason": "OFFLINE",
            },
        ),
    ],
    ids=["unknown-evse", "not-a-global-id", "zero-minutes", "station-offline"],
)
async def test_reserve_refusals_are_typed(
    app: Starlette, evse: str, minutes: int, expected: dict[str, str]
) -> None:
    real = await one_evse(app)
    driver_id, _ = await make_driver(factory_of(app))
    gid = {"missing": global_id("Evse", 999), "garbage": "nope", "real": global_id("Evse", real.id)}
    body = await post(
        app, RESERVE, bearer(app.state.runtime.tokens, driver_id), evseId=gid[evse], minutes=minutes
    )
    want = {k: v.format(gid=gid[evse], key=real.id) for k, v in expected.items()}
    assert body == {"data": {"reserveEvse": want}}


async def test_a_second_reservation_hits_the_limit(app: Starlette) -> None:
    evse = await one_evse(app)
    driver_id, token = await make_driver(factory_of(app))
    assert evse.id is not None
    held = await make_reservation(
        factory_of(app), driver_id=driver_id, evse_id=evse.id, id_token=token
    )
    body = await post(
        app, RESERVE, bearer(app.state.runtime.tokens, driver_id),
        evseId=global_id("Evse", evse.id), minutes=10,
    )  # fmt: skip
    result = body["data"]["reserveEvse"]
    assert result["__typename"] == "ReservationLimitReached"
    assert result["activeReservationId"] == global_id("Reservation", held.id)


async def test_cancel_answers_for_each_state_and_hides_others_reservations(app: Starlette) -> None:
    evse = await one_evse(app)
    assert evse.id is not None
    factory = factory_of(app)
    owner, token = await make_driver(factory)
    other, _ = await make_driver(factory)
    tokens = app.state.runtime.tokens
    now = datetime.now(UTC)
    expired = await make_reservation(
        factory, driver_id=owner, evse_id=evse.id, id_token=token,
        expires_at=now - timedelta(minutes=1),
    )  # fmt: skip
    used = await make_reservation(
        factory, driver_id=owner, evse_id=evse.id, id_token=token, status=ReservationStatus.USED
    )
    active = await make_reservation(factory, driver_id=owner, evse_id=evse.id, id_token=token)

    stranger = await post(
        app, CANCEL, bearer(tokens, other), id=global_id("Reservation", active.id)
    )
    assert stranger["data"]["cancelReservation"]["__typename"] == "ReservationNotFound"

    results = [
        (await post(app, CANCEL, bearer(tokens, owner), id=global_id("Reservation", row.id)))[
            "data"
        ]["cancelReservation"]
        for row in (expired, used, active, active)
    ]
    assert [(r["__typename"], r["reservation"]["status"]) for r in results] == [
        ("ReservationExpired", "EXPIRED"),
        ("ReservationNotActive", "USED"),
        ("ReservationPayload", "CANCELLED"),  # the station is offline: cancelled here all the same
        ("ReservationPayload", "CANCELLED"),  # idempotent
    ]


async def test_me_reservations_lists_only_the_callers_own(app: Starlette) -> None:
    evse = await one_evse(app)
    assert evse.id is not None
    factory = factory_of(app)
    owner, token = await make_driver(factory)
    other, other_token = await make_driver(factory)
    tokens = app.state.runtime.tokens
    done = await make_reservation(
        factory, driver_id=owner, evse_id=evse.id, id_token=token,
        status=ReservationStatus.CANCELLED,
    )  # fmt: skip
    live = await make_reservation(factory, driver_id=owner, evse_id=evse.id, id_token=token)
    await make_reservation(factory, driver_id=other, evse_id=evse.id, id_token=other_token)

    async def ids(driver_id: int, active: bool | None) -> list[str]:
        body = await post(app, MINE, bearer(tokens, driver_id), active=active)
        return [r["id"] for r in body["data"]["me"]["reservations"]]

    assert await ids(owner, None) == [
        global_id("Reservation", live.id),
        global_id("Reservation", done.id),
    ]
    assert await ids(owner, True) == [global_id("Reservation", live.id)]
    assert await ids(owner, False) == [global_id("Reservation", done.id)]
    body = await post(app, MINE, bearer(tokens, owner), active=True)
    assert body["data"]["me"]["reservations"][0]["evse"] == {"uid": "GQL-RSV*1"}
