"""A search page's EVSE subtrees are reused across requests only while the rows they show are
unchanged: every write (status, connector, tariff, tariff assignment) shows in the next search,
even one made behind the app's back (no event, as another instance's write would look here)."""

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from app.db.engine import SessionFactory
from app.db.models import Connector, Evse, Location
from app.domain.enums import EvseStatus
from app.graphql.execution import subtree_cache
from app.graphql.schema import schema
from app.graphql.types import station as station_types
from app.services.tariffs import assign_tariff, create_tariff
from tests.factories import make_location, make_station
from tests.graphql.conftest import GraphQLClient, global_id

SEARCH = """
query Search($filter: LocationFilter) {
  locations(filter: $filter, first: 10) {
    edges { node {
      name
      evses { id uid status lastUpdated connectors {
        standard maxElectricPowerKw
        tariff { id currency summary elements { priceComponents { price } } }
      } }
    } }
  }
}
"""
# The same page with a variable below `evses`: its subtree cannot be keyed by the nodes alone.
SEARCH_WITH_VARIABLE_BELOW = SEARCH.replace(
    "query Search($filter: LocationFilter)",
    "query Search($filter: LocationFilter, $withTariff: Boolean!)",
).replace("tariff { id", "tariff @include(if: $withTariff) { id")
NEAR = {"near": {"latitude": 52.3702, "longitude": 4.8952}, "radiusMeters": 5000}


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Each EVSE object the API builds (the work a reused subtree skips), by id."""
    built: list[int] = []
    from_row = station_types.Evse.from_row

    def counted(row: Any) -> station_types.Evse:
        evse = from_row(row)
        built.append(evse.id)
        return evse

    monkeypatch.setattr(station_types.Evse, "from_row", counted)
    subtree_cache(schema._schema).clear()
    yield built
    subtree_cache(schema._schema).clear()


async def _site(session_factory: SessionFactory) -> tuple[int, list[int]]:
    location = await make_location(session_factory, name="Damrak")
    station = await make_station(session_factory, location=location, evses=2)
    tariff = await create_tariff(
        session_factory=session_factory,
        currency="EUR",
        elements=[{"price_components": [{"type": "ENERGY", "price": "0.39", "step_size": 1}]}],
    )
    assert location.id is not None
    assert tariff.id is not None
    await assign_tariff(
        session_factory=session_factory, tariff_id=tariff.id, station_ids=[station.id]
    )
    async with session_factory() as db:
        ids = (await db.exec(sa.select(Evse.id).where(Evse.station_id == station.id))).all()
    return tariff.id, sorted(i for (i,) in ids)


async def _evses(graphql: GraphQLClient, query: str = SEARCH, **variables: Any) -> Any:
    data = await graphql.data(query, filter=NEAR, **variables)
    [edge] = data["locations"]["edges"]
    return edge["node"]


async def _write(session_factory: SessionFactory, statement: Any) -> None:
    """A write the app is not told about: no service, no event."""
    async with session_factory() as db:
        await db.exec(statement)
        await db.commit()


async def test_a_repeated_search_reuses_the_evse_subtrees_with_the_same_answer(
    graphql: GraphQLClient, session_factory: SessionFactory, built: list[int]
) -> None:
    await _site(session_factory)
    first = await _evses(graphql)
    assert len(built) == 2
    second = await _evses(graphql)
    assert second == first
    assert len(built) == 2  # nothing rebuilt: both EVSEs came from the first search
    assert [c["tariff"]["summary"] for e in second["evses"] for c in e["connectors"]] == [
        "€0.39/kWh",
        "€0.39/kWh",
    ]


@pytest.mark.parametrize(
    "change",
    ["evse status", "connector power", "tariff price", "tariff price digits", "tariff unassigned"],
)
async def test_each_write_shows_in_the_next_search(
    graphql: GraphQLClient, session_factory: SessionFactory, built: list[int], change: str
) -> None:
    tariff_id, evse_ids = await _site(session_factory)
    before = await _evses(graphql)
    await _evses(graphql)
    assert len(built) == 2  # the second search was served from the kept subtrees
    target = evse_ids[1]
    if change == "evse status":
        await _write(
            session_factory,
            sa.update(Evse).where(Evse.id == target).values(status=EvseStatus.CHARGING),
        )
    elif change == "connector power":
        await _write(
            session_factory,
            sa.update(Connector).where(Connector.evse_id == target).values(max_electric_power=7400),
        )
    elif change.startswith("tariff price"):
        price = "0.390" if change.endswith("digits") else "0.45"  # equal Decimal, other text
        elements = [{"price_components": [{"type": "ENERGY", "price": price, "step_size": 1}]}]
        await _write(
            session_factory,
            sa.text("UPDATE tariff SET elements = :e WHERE id = :i").bindparams(
                sa.bindparam("e", type_=sa.JSON), i=tariff_id, e=elements
            ),
        )
    else:
        await assign_tariff(session_factory=session_factory, tariff_id=None, evse_ids=[target])
    after = await _evses(graphql)
    shown = {e["id"]: e for e in after["evses"]}
    old = {e["id"]: e for e in before["evses"]}
    changed = [key for key in shown if shown[key] != old[key]]
    target_id = global_id("Evse", target)
    # The tariff is shared by both EVSEs; every other write touches the target only.
    shared = change.startswith("tariff price")
    assert changed == (list(shown) if shared else [target_id]), change
    connector = shown[target_id]["connectors"][0]
    if change == "evse status":
        assert shown[target_id]["status"] == "CHARGING"
    elif change == "connector power":
        assert connector["maxElectricPowerKw"] == 7.4
    elif change == "tariff price":
        assert all(e["connectors"][0]["tariff"]["summary"] == "€0.45/kWh" for e in after["evses"])
    elif change == "tariff price digits":
        tariffs = [e["connectors"][0]["tariff"] for e in after["evses"]]
        assert [t["elements"][0]["priceComponents"][0]["price"] for t in tariffs] == ["0.390"] * 2
    else:
        assert connector["tariff"] is None


async def test_a_location_edit_shows_in_the_next_search(
    graphql: GraphQLClient, session_factory: SessionFactory, built: list[int]
) -> None:
    await _site(session_factory)
    assert (await _evses(graphql))["name"] == "Damrak"
    await _write(session_factory, sa.update(Location).values(name="Damrak 2"))
    assert (await _evses(graphql))["name"] == "Damrak 2"


async def test_a_selection_with_a_variable_below_is_not_reused(
    graphql: GraphQLClient, session_factory: SessionFactory, built: list[int]
) -> None:
    await _site(session_factory)
    shown = await _evses(graphql, SEARCH_WITH_VARIABLE_BELOW, withTariff=True)
    hidden = await _evses(graphql, SEARCH_WITH_VARIABLE_BELOW, withTariff=False)
    assert all("tariff" in c for e in shown["evses"] for c in e["connectors"])
    assert all("tariff" not in c for e in hidden["evses"] for c in e["connectors"])
    assert len(built) == 4  # built by each search
    assert len(subtree_cache(schema._schema)) == 0
