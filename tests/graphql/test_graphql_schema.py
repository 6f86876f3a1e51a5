"""The exported SDL is current, errors are masked unless expected, and the explorer is served."""

from pathlib import Path

import httpx
import pytest
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.errors import InvalidInput
from app.graphql.export import sdl
from app.graphql.schema import should_mask
from app.main import create_app
from app.services import locations as location_service
from app.settings import Settings
from tests.conftest import running
from tests.graphql.conftest import GraphQLClient

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"


def test_committed_schema_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text() == sdl(), (
        "schema/schema.graphql is stale: run `make schema` and commit the result"
    )


def test_expected_errors_are_shown_and_others_masked() -> None:
    assert not should_mask(GraphQLError("Cannot query field 'x'"))
    assert not should_mask(GraphQLError("bad", original_error=InvalidInput("latitude 91")))
    assert should_mask(GraphQLError("boom", original_error=RuntimeError("password=hunter2")))


async def test_an_unexpected_error_reaches_the_client_masked(
    graphql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(**_: object) -> None:
        raise RuntimeError("connection to db-internal.example:5432 refused")

    monkeypatch.setattr(location_service, "search_locations", broken)
    body = await graphql.execute("{ locations { totalCount } }")
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "db-internal" not in str(body)


async def test_syntax_and_validation_errors_are_explained(graphql: GraphQLClient) -> None:
    messages = await graphql.error_messages("{ locations { nope } }")
    assert messages == ["Cannot query field 'nope' on type 'LocationConnection'."]


async def test_deep_queries_are_refused(graphql: GraphQLClient) -> None:
    deep = "{ locations " + "{ a " * 11 + "}" * 12
    messages = await graphql.error_messages(deep)
    assert "'anonymous' exceeds maximum operation depth of 10" in messages


async def test_graphiql_is_served_on_get(graphql: GraphQLClient) -> None:
    response = await graphql.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_queries_work_over_get(graphql: GraphQLClient) -> None:
    response = await graphql.http.get("/graphql", params={"query": "{ locations { totalCount } }"})
    assert response.json() == {"data": {"locations": {"totalCount": 0}}}


async def test_explorer_can_be_switched_off(settings: Settings, engine: AsyncEngine) -> None:
    app = create_app(settings.model_copy(update={"graphql_explorer": False}))
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            page = await http.get("/graphql", headers={"Accept": "text/html"})
            query = await http.get("/graphql", params={"query": "{ locations { totalCount } }"})
    assert page.status_code == 404
    assert query.json() == {"data": {"locations": {"totalCount": 0}}}
