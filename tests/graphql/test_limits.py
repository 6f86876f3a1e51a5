"""GraphQL limits at their edges: N passes, N+1 is refused with an error naming the limit."""

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from app.graphql.extensions import count_tokens
from app.settings import Settings
from tests.graphql.conftest import GraphQLClient

MAX_DEPTH = 4
MAX_TOKENS = 120
MAX_ALIASES = 5
MAX_BODY = 2048


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "graphql_max_depth": MAX_DEPTH,
            "graphql_max_tokens": MAX_TOKENS,
            "graphql_max_aliases": MAX_ALIASES,
            "graphql_max_body_bytes": MAX_BODY,
            "graphql_max_page_size": 7,
        }
    )


def nested(depth: int) -> str:
    """A valid query of operation depth `depth` (the root field is depth 0, its leaf at
    `depth`): locations > edges > node > evses > station > __typename."""
    path = ["locations", "edges", "node", "evses", "station"][:depth]
    return "{ " + " { ".join(path) + " { __typename }" + " }" * depth


async def test_depth_limit_edge(graphql: GraphQLClient) -> None:
    body = await graphql.execute(nested(MAX_DEPTH))
    assert body == {"data": {"locations": {"edges": []}}}
    refused = await graphql.error_messages(nested(MAX_DEPTH + 1))
    assert refused == [f"'anonymous' exceeds maximum operation depth of {MAX_DEPTH}"]


def typenames(tokens: int) -> str:
    """A valid document of exactly `tokens` tokens: braces plus repeated `__typename`."""
    document = "{ " + "__typename " * (tokens - 2) + "}"
    assert count_tokens(document) == tokens
    return document


async def test_token_limit_edge(graphql: GraphQLClient) -> None:
    assert await graphql.data(typenames(MAX_TOKENS)) == {"__typename": "Query"}
    body = await graphql.execute(typenames(MAX_TOKENS + 1))
    assert body["data"] is None
    assert body["errors"] == [
        {
            "message": f"query has {MAX_TOKENS + 1} tokens; the limit is {MAX_TOKENS}",
            "extensions": {"code": "QUERY_TOO_COMPLEX"},
        }
    ]


def test_comments_and_commas_are_not_tokens() -> None:
    assert count_tokens("# a comment\n{ a, b }") == 4


def aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


async def test_alias_limit_edge(graphql: GraphQLClient) -> None:
    data = await graphql.data(aliases(MAX_ALIASES))
    assert data == {f"a{i}": "Query" for i in range(MAX_ALIASES)}
    refused = await graphql.error_messages(aliases(MAX_ALIASES + 1))
    assert refused == [f"{MAX_ALIASES + 1} aliases found. Allowed: {MAX_ALIASES}"]


async def test_aliases_hidden_in_fragments_count(graphql: GraphQLClient) -> None:
    document = (
        "query { ...F ...F b: __typename } fragment F on Query { "
        + " ".join(f"a{i}: __typename" for i in range(MAX_ALIASES))
        + " }"
    )
    refused = await graphql.error_messages(document)
    assert refused == [f"{2 * MAX_ALIASES + 1} aliases found. Allowed: {MAX_ALIASES}"]


async def test_page_size_limit_edge(graphql: GraphQLClient) -> None:
    query = "query ($n: Int) { locations(first: $n) { totalCount } }"
    assert await graphql.data(query, n=7) == {"locations": {"totalCount": 0}}
    refused = await graphql.error_messages(query, n=8)
    assert refused == ["first 8 is above the page size limit: expected at most 7"]


def body_of(size: int) -> bytes:
    """A valid request body of exactly `size` bytes (padding is whitespace in the query)."""
    empty = json.dumps({"query": "{ __typename }"}).encode()
    padded = json.dumps({"query": "{ __typename }" + " " * (size - len(empty))}).encode()
    assert len(padded) == size
    return padded


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_body_size_limit_edge(graphql: GraphQLClient, chunked: bool) -> None:
    async def stream(body: bytes) -> AsyncIterator[bytes]:
        for start in range(0, len(body), 500):
            yield body[start : start + 500]

    async def post(body: bytes) -> httpx.Response:
        content = stream(body) if chunked else body
        return await graphql.http.post(
            "/graphql", content=content, headers={"content-type": "application/json"}
        )

    accepted = await post(body_of(MAX_BODY))
    assert accepted.status_code == 200
    assert accepted.json() == {"data": {"__typename": "Query"}}
    refused = await post(body_of(MAX_BODY + 1))
    assert refused.status_code == 413
    assert refused.json()["errors"][0] == {
        "message": f"request body is larger than the limit of {MAX_BODY} bytes "
        "(GRAPHQL_MAX_BODY_BYTES)",
        "extensions": {"code": "PAYLOAD_TOO_LARGE"},
    }
