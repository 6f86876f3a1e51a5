"""The executor's shortcuts: a shared object's fields completed once per operation (never when
they failed), enums serialised by lookup; each gives the response plain execution gives."""

import enum

import pytest
import strawberry
from graphql import GraphQLObjectType
from strawberry import relay

from app.graphql.execution import DIRECT, ChargenetExecutor
from app.graphql.types.station import eager_field
from tests.graphql.conftest import global_id


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    DEEP_BLUE = "deep blue"


def build_schema(
    type_name: str, *, fail: bool = False, plain: bool = False
) -> tuple[strawberry.Schema, list[int]]:
    """A query listing the same object three times; `calls` counts its field's executions."""
    calls: list[int] = []

    @strawberry.type(name=type_name)
    class Shared:
        key: int

        @strawberry.field
        def label(self) -> str | None:
            calls.append(self.key)
            if fail:
                raise ValueError(f"no label for {self.key}")
            return f"label {self.key}"

    one = Shared(key=7)

    @strawberry.type
    class Query:
        @strawberry.field
        def items(self) -> list[Shared]:
            return [one, one, one]

        @strawberry.field
        def others(self) -> list[Shared]:
            return [Shared(key=1), Shared(key=2)]

        @strawberry.field
        def colours(self) -> list[Colour]:
            return [Colour.DEEP_BLUE, Colour.RED]

    executor = None if plain else ChargenetExecutor
    schema = strawberry.Schema(query=Query, execution_context_class=executor)
    return schema, calls


def test_a_shared_object_is_completed_once_per_selection() -> None:
    schema, calls = build_schema("Tariff")
    result = schema.execute_sync("{ items { key label } again: items { label } others { label } }")
    assert result.errors is None
    assert result.data == {
        "items": [{"key": 7, "label": "label 7"}] * 3,
        "again": [{"label": "label 7"}] * 3,
        "others": [{"label": "label 1"}, {"label": "label 2"}],
    }
    # Once for `items`, once for `again` (another selection), once per distinct object.
    assert calls == [7, 7, 1, 2]


def test_other_types_are_completed_every_time() -> None:
    schema, calls = build_schema("Station")
    result = schema.execute_sync("{ items { label } }")
    assert result.data == {"items": [{"label": "label 7"}] * 3}
    assert calls == [7, 7, 7]


def test_a_failed_completion_is_not_reused_so_each_position_reports_its_error() -> None:
    schema, calls = build_schema("Tariff", fail=True)
    result = schema.execute_sync("{ items { label } }")
    plain, _ = build_schema("Tariff", fail=True, plain=True)
    assert (
        result.data
        == plain.execute_sync("{ items { label } }").data
        == {"items": [{"label": None}] * 3}
    )
    assert result.errors is not None
    assert sorted(tuple(error.path or ()) for error in result.errors) == [
        ("items", 0, "label"),
        ("items", 1, "label"),
        ("items", 2, "label"),
    ]
    assert calls == [7, 7, 7]


@pytest.mark.parametrize("query", ["{ colours }", "{ a: colours b: colours }"], ids=["one", "two"])
def test_enums_serialise_to_their_names(query: str) -> None:
    schema, _ = build_schema("Tariff")
    result = schema.execute_sync(query)
    assert result.errors is None
    assert result.data is not None
    assert all(value == ["DEEP_BLUE", "RED"] for value in result.data.values())


class Refused(strawberry.BasePermission):
    message = "refused"

    def has_permission(self, source: object, info: strawberry.Info, **kwargs: object) -> bool:
        return False


def reveal(root: object) -> str:
    return "leaked"


setattr(reveal, DIRECT, True)  # marked, yet its permission must keep Strawberry's resolver


def resolver_of(schema: strawberry.Schema, type_name: str, field: str) -> object:
    graphql_type = schema._schema.type_map[type_name]
    assert isinstance(graphql_type, GraphQLObjectType)
    return graphql_type.fields[field].resolve


def build_node_schema(*, plain: bool) -> tuple[strawberry.Schema, list[str]]:
    """A relay node with direct-marked resolvers (sync, async, and one with a permission, which
    must keep Strawberry's resolver); `calls` names the resolvers run."""
    calls: list[str] = []

    @strawberry.type
    class Site(relay.Node):
        id: relay.NodeID[int]

        @eager_field(graphql_type=int)
        def doubled(self, info: strawberry.Info) -> int:
            calls.append("doubled")
            return self.id * 2 + len(info.context["offset"])

        @eager_field(graphql_type=str)
        async def later(self, info: strawberry.Info) -> str:
            calls.append("later")
            return f"site {self.id}"

        secret: str = strawberry.field(resolver=reveal, permission_classes=[Refused])

    @strawberry.type
    class Query:
        @strawberry.field
        def sites(self) -> list[Site]:
            return [Site(id=1), Site(id=2)]

    executor = None if plain else ChargenetExecutor
    return strawberry.Schema(query=Query, execution_context_class=executor), calls


async def test_direct_resolvers_answer_as_strawberry_does() -> None:
    query = "{ sites { id doubled later } }"
    direct, calls = build_node_schema(plain=False)
    plain, _ = build_node_schema(plain=True)
    result = await direct.execute(query, context_value={"offset": "xy"})
    assert result.errors is None
    assert result.data == (await plain.execute(query, context_value={"offset": "xy"})).data
    assert result.data == {
        "sites": [
            {"id": global_id("Site", 1), "doubled": 4, "later": "site 1"},
            {"id": global_id("Site", 2), "doubled": 6, "later": "site 2"},
        ]
    }
    assert sorted(calls) == ["doubled", "doubled", "later", "later"]
    assert resolver_of(direct, "Site", "doubled") is not resolver_of(plain, "Site", "doubled")
    assert resolver_of(direct, "Site", "id") is not resolver_of(plain, "Site", "id")


async def test_a_field_with_permissions_keeps_strawberry_resolver() -> None:
    direct, _ = build_node_schema(plain=False)
    result = await direct.execute("{ sites { secret } }", context_value={"offset": ""})
    assert result.data is None
    # Called directly, the marked resolver would have answered "leaked".
    assert [error.message for error in result.errors or ()] == ["refused"]
