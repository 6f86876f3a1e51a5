"""Parse and validation caches: limits still apply to a cached document; the caches are bounded."""

import uuid
from functools import _lru_cache_wrapper
from typing import Any, cast

import pytest
from strawberry.extensions import ParserCache, ValidationCache

from app.graphql.extensions import DOCUMENT_CACHE_SIZE, DOCUMENT_CACHES
from app.settings import Settings
from tests.graphql.conftest import GraphQLClient
from tests.graphql.test_limits import aliases, nested, typenames

MAX_DEPTH = 4
MAX_TOKENS = 120
MAX_ALIASES = 5


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "graphql_max_depth": MAX_DEPTH,
            "graphql_max_tokens": MAX_TOKENS,
            "graphql_max_aliases": MAX_ALIASES,
        }
    )


def cache_infos() -> list[tuple[int, int, int]]:
    """(hits, current size, max size) of the parse and the validation cache."""
    parser, validation = (factory() for factory in DOCUMENT_CACHES)
    assert isinstance(parser, ParserCache)
    assert isinstance(validation, ValidationCache)
    cached = [parser.cached_parse_document, validation.cached_validate_document]
    infos = [cast("_lru_cache_wrapper[Any]", function).cache_info() for function in cached]
    return [(info.hits, info.currsize, info.maxsize or 0) for info in infos]


async def test_over_deep_document_refused_every_time(graphql: GraphQLClient) -> None:
    expected = [f"'anonymous' exceeds maximum operation depth of {MAX_DEPTH}"]
    # A text no other test sent (the caches are per process): first a miss, then a hit.
    document = f"# {uuid.uuid4()}\n{nested(MAX_DEPTH + 1)}"
    hits_before = [hits for hits, _, _ in cache_infos()]
    assert await graphql.error_messages(document) == expected
    assert await graphql.error_messages(document) == expected
    # The second answer came from both caches, and still carried the error.
    assert [hits for hits, _, _ in cache_infos()] == [hits + 1 for hits in hits_before]


async def test_alias_and_token_limits_hold_for_cached_documents(graphql: GraphQLClient) -> None:
    refused = [f"{MAX_ALIASES + 1} aliases found. Allowed: {MAX_ALIASES}"]
    too_long = [f"query has {MAX_TOKENS + 1} tokens; the limit is {MAX_TOKENS}"]
    for _ in range(2):
        assert await graphql.error_messages(aliases(MAX_ALIASES + 1)) == refused
        assert await graphql.error_messages(typenames(MAX_TOKENS + 1)) == too_long
        assert await graphql.data(typenames(MAX_TOKENS)) == {"__typename": "Query"}


async def test_valid_document_answered_the_same_from_the_cache(graphql: GraphQLClient) -> None:
    query = "query ($n: Int) { locations(first: $n) { totalCount } }"
    assert await graphql.data(query, n=3) == {"locations": {"totalCount": 0}}
    assert await graphql.data(query, n=3) == {"locations": {"totalCount": 0}}
    # Variables are not part of the cached document: a bad one is still refused.
    assert await graphql.error_messages(query, n="three") == [
        "Variable '$n' has invalid value: Int cannot represent non-integer value: 'three'"
    ]


async def test_unique_documents_do_not_grow_the_caches(graphql: GraphQLClient) -> None:
    for index in range(DOCUMENT_CACHE_SIZE + 20):
        assert await graphql.data(f"{{ a{index}: __typename }}") == {f"a{index}": "Query"}
    for _, size, maxsize in cache_infos():
        assert maxsize == DOCUMENT_CACHE_SIZE
        assert size == DOCUMENT_CACHE_SIZE
