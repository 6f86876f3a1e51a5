"""A page of locations with EVSEs, connectors and stations costs the same SQL at any page size."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.db.engine import SessionFactory
from app.services import tariffs
from app.services.demo import create_demo_tariffs
from tests.factories import make_location, make_station
from tests.graphql.conftest import GraphQLClient

DEEP_PAGE = """
query Deep($first: Int, $filter: LocationFilter) {
  locations(first: $first, filter: $filter) {
    totalCount
    edges { node {
      name distanceMeters availableEvses totalEvses maxPowerKw
      evses { uid status connectors { standard maxElectricPowerKw } station { identity online } }
    } }
  }
}
"""


@contextmanager
def counting_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@pytest.mark.parametrize(
    "filter_",
    [None, {"near": {"latitude": 52.37, "longitude": 4.89}, "radiusMeters": 100_000}],
    ids=["by-id", "by-distance"],
)
async def test_statement_count_does_not_grow_with_page_size(
    app: Starlette,
    graphql: GraphQLClient,
    session_factory: SessionFactory,
    filter_: dict[str, object] | None,
) -> None:
    for i in range(50):
        location = await make_location(
            session_factory, name=f"Q{i:02d}", latitude=52.37 + i / 1000, longitude=4.89
        )
        await make_station(session_factory, location=location, evses=2, password=None)
    engine: AsyncEngine = app.state.runtime.engine
    await graphql.data(DEEP_PAGE, first=1, filter=filter_)  # warm up connections and caches

    counts: dict[int, int] = {}
    for first in (5, 50):
        with counting_statements(engine) as statements:
            data = await graphql.data(DEEP_PAGE, first=first, filter=filter_)
        edges = data["locations"]["edges"]
        assert len(edges) == first
        assert all(len(edge["node"]["evses"]) == 2 for edge in edges)
        assert all(edge["node"]["evses"][0]["connectors"] for edge in edges)
        counts[first] = len(statements)
    assert counts[5] == counts[50], counts
    # The page (2), EVSEs by location, connectors by EVSE, stations by id.
    assert counts[5] <= 5, counts


FRAGMENT_PAGE = """
query Fragments($first: Int) {
  locations(first: $first) {
    edges { ...Edge }
  }
}
fragment Edge on LocationEdge { node { name ...Counts evses { ... on Evse { uid ...Plugs } } } }
fragment Counts on Location { availableEvses totalEvses maxPowerKw }
fragment Plugs on Evse {
  connectors { standard tariff { id summary elements { priceComponents { type price } } } }
  station { identity }
}
"""
PLAIN_PAGE = """
query Plain($first: Int) {
  locations(first: $first) {
    edges { node { name availableEvses totalEvses maxPowerKw evses { uid
      connectors { standard tariff { id summary elements { priceComponents { type price } } } }
      station { identity } } } }
  }
}
"""


async def test_fields_selected_through_fragments_are_prefetched_too(
    app: Starlette, graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    ac, _ = await create_demo_tariffs(session_factory=session_factory)
    for i in range(12):
        location = await make_location(session_factory, name=f"F{i:02d}")
        station = await make_station(session_factory, location=location, evses=2, password=None)
        if i % 2:  # half the stations priced, all with one tariff
            await tariffs.assign_tariff(
                session_factory=session_factory, tariff_id=ac.id, station_ids=[station.id]
            )
    engine: AsyncEngine = app.state.runtime.engine
    await graphql.data(FRAGMENT_PAGE, first=1)  # warm up connections and caches

    counts: dict[int, int] = {}
    for first in (3, 12):
        with counting_statements(engine) as statements:
            data = await graphql.data(FRAGMENT_PAGE, first=first)
        counts[first] = len(statements)
        assert data == await graphql.data(PLAIN_PAGE, first=first)
    assert counts[3] == counts[12], counts
    # The page (2), EVSEs by location, connectors by EVSE, tariffs by id, stations by id.
    assert counts[3] <= 6, counts
    nodes = [edge["node"] for edge in data["locations"]["edges"]]
    priced = [c["tariff"] for n in nodes for e in n["evses"] for c in e["connectors"]]
    assert sum(t is not None for t in priced) == 12  # 6 stations x 2 EVSEs
    assert all(n["totalEvses"] == 2 and n["maxPowerKw"] == 22.0 for n in nodes)
