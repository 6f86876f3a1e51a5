"""The access matrix: every operation in schema/schema.graphql, tried as each kind of caller
who must not have it, is refused with a typed error (extensions.code UNAUTHENTICATED or
FORBIDDEN) or yields nothing of another's (NotFound, null, empty), never data.

ROWS says who each operation is for; the matrix fails when an operation has no row. Documents
and variables are generated from the SDL; ids point at driver A's and organisation A's objects,
so driver B and organisation B's admin try them against someone else's data.
"""

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    build_schema,
    get_named_type,
)
from starlette.applications import Starlette

from app.db.models import ChargingSession, Evse
from app.db.models.capacity import CapacityNodeKind
from app.domain.access import OperatorRole
from app.domain.alerts import AlertSeverity, AlertSource
from app.domain.enums import SessionStatus
from app.services import alerts
from app.services.capacity import create_node
from app.settings import Settings
from tests.access_builders import make_api_key, make_operator, make_operator_user, operator_bearer
from tests.conftest import LiveServer
from tests.factories import make_location, make_station
from tests.reservation_builders import bearer, make_driver, make_reservation

SDL = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"

PUBLIC, DRIVER, VIEWER, TECHNICIAN, ADMIN, DRIVER_OR_VIEWER = (
    "public", "driver", "viewer", "technician", "admin", "driver|viewer",
)  # fmt: skip


@dataclass(frozen=True)
class Row:
    need: str
    cross: bool = False
    """Its ids name someone's objects: driver B / organisation B must get nothing back."""


ROWS: dict[str, Row] = {
    "Query.locations": Row(PUBLIC),
    "Query.location": Row(PUBLIC),
    "Query.node": Row(PUBLIC),
    "Query.me": Row(DRIVER),
    "Query.priceEstimate": Row(PUBLIC),
    "Query.receipt": Row(DRIVER, cross=True),
    "Query.alerts": Row(VIEWER, cross=True),
    "Query.capacityNode": Row(VIEWER, cross=True),
    "Query.capacityNodes": Row(VIEWER, cross=True),
    "Query.chargingLimit": Row(VIEWER, cross=True),
    "Query.uptime": Row(VIEWER, cross=True),
    "Query.worstEvses": Row(VIEWER, cross=True),
    "Query.maintenanceWindows": Row(VIEWER, cross=True),
    "Query.stationMessages": Row(VIEWER, cross=True),
    "Query.stationDiagnostics": Row(VIEWER, cross=True),
    "Query.auditLog": Row(ADMIN),  # organisation B's own records: tests/access/test_audit_api
    "Query.apiKeys": Row(ADMIN, cross=True),
    "Query.stationConfiguration": Row(VIEWER, cross=True),
    "Query.firmwareUpdates": Row(VIEWER, cross=True),
    "Query.diagnosticsUploads": Row(VIEWER, cross=True),
    "Query.adHocSession": Row(PUBLIC),
    "Query.membershipPlans": Row(PUBLIC),
    "Query.myMemberships": Row(DRIVER),
    "Query.sessionPayment": Row(DRIVER, cross=True),
    "Mutation.signUp": Row(PUBLIC),
    "Mutation.logIn": Row(PUBLIC),
    "Mutation.refreshTokens": Row(PUBLIC),
    "Mutation.logOut": Row(PUBLIC),
    "Mutation.operatorLogIn": Row(PUBLIC),
    "Mutation.createApiKey": Row(ADMIN),
    "Mutation.revokeApiKey": Row(ADMIN, cross=True),
    "Mutation.addRfidCard": Row(DRIVER),
    "Mutation.removeRfidCard": Row(DRIVER, cross=True),
    "Mutation.setFavorite": Row(DRIVER),
    "Mutation.reserveEvse": Row(DRIVER),
    "Mutation.cancelReservation": Row(DRIVER, cross=True),
    "Mutation.startSession": Row(DRIVER),
    "Mutation.stopSession": Row(DRIVER, cross=True),
    "Mutation.addPaymentMethod": Row(DRIVER),
    "Mutation.setDefaultPaymentMethod": Row(DRIVER, cross=True),
    "Mutation.removePaymentMethod": Row(DRIVER, cross=True),
    "Mutation.acknowledgeAlert": Row(TECHNICIAN, cross=True),
    "Mutation.resolveAlert": Row(TECHNICIAN, cross=True),
    "Mutation.setCapacityLimit": Row(ADMIN, cross=True),
    "Mutation.createCapacityNode": Row(ADMIN, cross=True),
    "Mutation.updateCapacityNode": Row(ADMIN, cross=True),
    "Mutation.deleteCapacityNode": Row(ADMIN, cross=True),
    "Mutation.setHoldAmount": Row(ADMIN, cross=True),
    "Mutation.refundSession": Row(ADMIN, cross=True),
    "Mutation.createAdHocPayment": Row(PUBLIC),
    "Mutation.confirmAdHocPayment": Row(PUBLIC),
    "Mutation.createMembershipPlan": Row(ADMIN),
    "Mutation.subscribeToPlan": Row(DRIVER),
    "Mutation.cancelSubscription": Row(DRIVER, cross=True),
    "Mutation.rotateStationPassword": Row(ADMIN, cross=True),
    "Mutation.changeAvailability": Row(TECHNICIAN, cross=True),
    "Mutation.changeConfiguration": Row(TECHNICIAN, cross=True),
    "Mutation.clearCache": Row(TECHNICIAN, cross=True),
    "Mutation.getConfiguration": Row(TECHNICIAN, cross=True),
    "Mutation.resetStation": Row(TECHNICIAN, cross=True),
    "Mutation.triggerMessage": Row(TECHNICIAN, cross=True),
    "Mutation.unlockConnector": Row(TECHNICIAN, cross=True),
    "Mutation.updateFirmware": Row(TECHNICIAN, cross=True),
    "Mutation.uploadDiagnostics": Row(TECHNICIAN, cross=True),
    "Mutation.scheduleMaintenance": Row(TECHNICIAN, cross=True),
    "Mutation.cancelMaintenance": Row(TECHNICIAN, cross=True),
    "Mutation.flagExcludedOutage": Row(TECHNICIAN, cross=True),
    "Mutation.removeExcludedOutage": Row(TECHNICIAN, cross=True),
    "Subscription.evseStatusChanged": Row(PUBLIC),
    "Subscription.commandResult": Row(DRIVER_OR_VIEWER),
    "Subscription.sessionUpdated": Row(DRIVER, cross=True),
    "Subscription.alertRaised": Row(VIEWER),
    "Subscription.allocationChanged": Row(VIEWER, cross=True),
    "Subscription.stationUpdated": Row(VIEWER, cross=True),
}

DENIED = {"UNAUTHENTICATED", "FORBIDDEN"}
NOTHING = DENIED | {"NOT_FOUND"}


def sdl() -> GraphQLSchema:
    return build_schema(SDL.read_text(encoding="utf-8"))


def operations(schema: GraphQLSchema) -> dict[str, tuple[str, GraphQLField]]:
    found = {}
    for root in (schema.query_type, schema.mutation_type, schema.subscription_type):
        assert root is not None
        for name, field in root.fields.items():
            found[f"{root.name}.{name}"] = (root.name, field)
    return found


def gid(type_name: str, key: object) -> str:
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()


@dataclass
class World:
    """Driver A's and organisation A's objects, and the callers."""

    ids: dict[str, str]
    headers: dict[str, dict[str, str]]


ID_FOR = {
    "stationId": "station", "evseId": "evse", "locationId": "location", "locationIds": "location",
    "nodeId": "node", "parentId": "node", "alertId": "alert", "sessionId": "session",
    "reservationId": "reservation", "commandId": "command",
}  # fmt: skip
ID_FOR_OPERATION = {"Query.capacityNode": "node", "Query.location": "location"}
OMIT = {"Query.uptime": {"evseId", "locationId"}}
"""Optional arguments left out (uptime takes exactly one target)."""
NOTHING_TYPENAMES = ("NotFound", "PaymentsUnavailable", "Refused")
"""Result-union members that carry no data of the object asked for."""


def value(kind: GraphQLInputType, name: str, world: World, operation: str) -> Any:
    """A valid value of `kind` for an argument or input field called `name`."""
    if isinstance(kind, GraphQLNonNull):
        return value(kind.of_type, name, world, operation)
    if isinstance(kind, GraphQLList):
        return [value(kind.of_type, name, world, operation)]
    if isinstance(kind, GraphQLInputObjectType):
        return {
            field_name: value(field.type, field_name, world, operation)
            for field_name, field in kind.fields.items()
            if isinstance(field.type, GraphQLNonNull) or field_name in ID_FOR
        }
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    assert isinstance(kind, GraphQLScalarType)
    scalars: dict[str, Any] = {
        "String": "x", "Int": 1, "Float": 1.0, "Boolean": False,
        "DateTime": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    }  # fmt: skip
    if kind.name == "ID":
        key = ID_FOR_OPERATION.get(operation) if name == "id" else ID_FOR.get(name)
        return world.ids.get(key or "", gid("Nothing", 1))
    if name == "from":
        return (datetime.now(UTC) - timedelta(days=1)).isoformat()
    return scalars[kind.name]


def document(root: str, name: str, field: GraphQLField, world: World) -> tuple[str, dict[str, Any]]:
    operation = f"{root}.{name}"
    variables = {arg: value(a.type, arg, world, operation) for arg, a in field.args.items()}
    variables = {
        arg: v
        for arg, v in variables.items()
        if isinstance(field.args[arg].type, GraphQLNonNull)
        or (arg in ID_FOR and arg not in OMIT.get(operation, set()))
    }
    declared = ", ".join(f"${arg}: {field.args[arg].type}" for arg in variables)
    passed = ", ".join(f"{arg}: ${arg}" for arg in variables)
    returned = get_named_type(field.type)
    selection = " { __typename }" if not isinstance(returned, GraphQLScalarType) else ""
    if returned.name.endswith("Connection"):
        selection = " { edges { node { __typename } } }"
    call = f"{name}({passed})" if passed else name
    text = f"{root.lower()}{f'({declared})' if declared else ''} {{ {call}{selection} }}"
    return text, variables


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        rate_limit_principal_per_s=0,
        rate_limit_ip_per_s=0,
    )


@pytest.fixture
async def world(app: Starlette) -> World:
    return await build_world(app.state.runtime)


async def build_world(runtime: Any) -> World:
    factory, tokens = runtime.session_factory, runtime.tokens
    org_a, org_b = await make_operator(factory), await make_operator(factory)
    location = await make_location(factory)
    async with factory() as db:
        from app.db.models import Location

        row = await db.get(Location, location.id)
        assert row is not None
        row.operator_id = org_a.id
        db.add(row)
        await db.commit()
    station = await make_station(factory, location=location, password=None)
    async with factory() as db:
        from sqlmodel import select

        evse = (await db.exec(select(Evse).where(Evse.station_id == station.id))).one()
    driver_a, uid_a = await make_driver(factory)
    driver_b, _ = await make_driver(factory)
    async with factory() as db:
        session = ChargingSession(
            station_id=station.id, evse_id=evse.id, transaction_id="tx-a", id_token=uid_a,
            status=SessionStatus.ACTIVE, started_at=datetime.now(UTC),
        )  # fmt: skip
        db.add(session)
        raised = await alerts.raise_alert(
            db, station_id=station.id, evse_id=None, code="GroundFailure",
            severity=AlertSeverity.MAJOR, source=AlertSource.STATUS, at=datetime.now(UTC),
        )  # fmt: skip
        await db.commit()
        await db.refresh(session)
    assert evse.id is not None
    reservation = await make_reservation(
        factory, driver_id=driver_a, evse_id=evse.id, id_token=uid_a
    )
    node = await create_node(
        session_factory=factory, name="grid", kind=CapacityNodeKind.GRID,
        location_id=location.id, limit_a=63.0,
    )  # fmt: skip
    users = {
        role: await make_operator_user(factory, operator=org_a, role=role) for role in OperatorRole
    }
    admin_b = await make_operator_user(factory, operator=org_b, role=OperatorRole.ADMIN)
    key = await make_api_key(factory, scopes=("locations:read",), operator=org_a)
    return World(
        ids={
            "location": gid("Location", location.id),
            "station": gid("ChargingStation", station.id),
            "evse": gid("Evse", evse.id),
            "session": gid("ChargingSession", session.id),
            "reservation": gid("Reservation", reservation.id),
            "alert": gid("Alert", raised["alert_id"] if raised else None),
            "node": gid("CapacityNode", node.id),
            "command": "00000000-0000-0000-0000-000000000000",
        },
        headers={
            "anonymous": {},
            "driver A": bearer(tokens, driver_a),
            "driver B": bearer(tokens, driver_b),
            "viewer A": operator_bearer(tokens, users[OperatorRole.VIEWER]),
            "technician A": operator_bearer(tokens, users[OperatorRole.TECHNICIAN]),
            "admin A": operator_bearer(tokens, users[OperatorRole.ADMIN]),
            "admin B": operator_bearer(tokens, admin_b),
            "partner key without the scope": {"X-Api-Key": key},
        },
    )


def callers_refused(row: Row) -> dict[str, set[str]]:
    """Who must be refused outright, and with which codes."""
    refused: dict[str, set[str]] = {}
    if row.need == PUBLIC:
        return refused
    refused["anonymous"] = {"UNAUTHENTICATED"}
    refused["partner key without the scope"] = {"FORBIDDEN"}
    if row.need == DRIVER:
        refused["admin A"] = {"FORBIDDEN"}
    if row.need in (VIEWER, TECHNICIAN, ADMIN):
        refused["driver B"] = {"FORBIDDEN"}
    if row.need in (TECHNICIAN, ADMIN):
        refused["viewer A"] = {"FORBIDDEN"}
    if row.need == ADMIN:
        refused["technician A"] = {"FORBIDDEN"}
    return refused


def test_the_matrix_covers_every_operation_in_the_schema() -> None:
    names = set(operations(sdl()))
    assert sorted(names - ROWS.keys()) == [], "add a row to ROWS for each new operation"
    assert sorted(ROWS.keys() - names) == [], "remove the rows of operations that are gone"


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def _no_data(body: dict[str, Any], field: str) -> bool:
    data = (body.get("data") or {}).get(field)
    if data is None or data == []:
        return True
    if isinstance(data, dict) and "edges" in data:
        return data["edges"] == []
    if isinstance(data, dict):
        typename = str(data.get("__typename", ""))
        return any(part in typename for part in NOTHING_TYPENAMES)
    return False


def _codes(body: dict[str, Any]) -> set[str]:
    return {str((e.get("extensions") or {}).get("code")) for e in body.get("errors") or []}


QUERIES_AND_MUTATIONS = [name for name in ROWS if not name.startswith("Subscription.")]


@pytest.mark.parametrize("operation", QUERIES_AND_MUTATIONS)
async def test_callers_without_the_right_are_refused(
    http: httpx.AsyncClient, world: World, operation: str
) -> None:
    root, field = operations(sdl())[operation]
    name = operation.split(".")[1]
    text, variables = document(root, name, field, world)
    row = ROWS[operation]
    for caller, codes in callers_refused(row).items():
        response = await http.post(
            "/graphql", json={"query": text, "variables": variables},
            headers=world.headers[caller],
        )  # fmt: skip
        body = response.json()
        assert (body.get("data") or {}).get(name) is None, (caller, body)
        assert body.get("errors"), (caller, body)
        assert _codes(body) <= codes, (caller, text, body)
    if row.cross:
        other = "driver B" if row.need == DRIVER else "admin B"
        response = await http.post(
            "/graphql", json={"query": text, "variables": variables},
            headers=world.headers[other],
        )  # fmt: skip
        body = response.json()
        assert _no_data(body, name), (other, text, body)
        assert _codes(body) <= NOTHING, (other, body)


SUBSCRIPTIONS = [name for name in ROWS if name.startswith("Subscription.")]


async def _subscribe(server: LiveServer, headers: dict[str, str], text: str, variables: Any) -> Any:
    """The errors a subscription is refused with; fails if it streams data instead."""
    transport = WebsocketsTransport(url=f"{server.ws_url}/graphql", init_payload=headers)
    async with asyncio.timeout(10), Client(transport=transport) as session:
        try:
            async for result in session.subscribe(GraphQLRequest(text, variable_values=variables)):
                raise AssertionError(f"data streamed: {result}")
        except TransportQueryError as exc:
            return exc.errors
    raise AssertionError("the subscription ended without an error")


@pytest.mark.parametrize("operation", [n for n in SUBSCRIPTIONS if ROWS[n].need != PUBLIC])
async def test_subscribers_without_the_right_are_refused(
    live_server: LiveServer, operation: str
) -> None:
    world = await build_world(live_server.runtime)
    root, field = operations(sdl())[operation]
    text, variables = document(root, operation.split(".")[1], field, world)
    row = ROWS[operation]
    callers = callers_refused(row)
    if row.cross:
        callers["driver B" if row.need == DRIVER else "admin B"] = NOTHING
    for caller, codes in callers.items():
        errors = await _subscribe(live_server, world.headers[caller], text, variables)
        assert errors, caller
        assert {str((e.get("extensions") or {}).get("code")) for e in errors} <= codes, (
            caller,
            errors,
        )
