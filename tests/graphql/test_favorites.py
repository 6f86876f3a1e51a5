"""setFavorite and `me.favorites` over HTTP: idempotent, per driver, anonymous refused."""

import pytest
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import Favorite
from tests.factories import make_location
from tests.graphql.conftest import GraphQLClient, global_id
from tests.graphql.test_accounts_auth import as_driver, sign_up

SET = """
mutation Set($id: ID!, $favorite: Boolean!) {
  setFavorite(input: {locationId: $id, favorite: $favorite}) {
    __typename
    ... on FavoriteSet { favorite location { id name } }
    ... on LocationNotFound { message }
  }
}
"""
FAVORITES = "{ me { favorites { id name } } }"


async def favorite_names(graphql: GraphQLClient, token: str) -> list[str]:
    body = await as_driver(graphql, token, FAVORITES)
    return [location["name"] for location in body["data"]["me"]["favorites"]]


async def test_favorites_are_set_idempotently_and_per_driver(
    graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    dam = await make_location(session_factory, name="Dam")
    zuid = await make_location(session_factory, name="Zuid")
    ada = (await sign_up(graphql, "ada@example.org"))["accessToken"]
    bob = (await sign_up(graphql, "bob@example.org"))["accessToken"]
    for _ in range(2):
        body = await as_driver(graphql, ada, SET, id=global_id("Location", dam.id), favorite=True)
        assert body["data"]["setFavorite"] == {
            "__typename": "FavoriteSet",
            "favorite": True,
            "location": {"id": global_id("Location", dam.id), "name": "Dam"},
        }
    await as_driver(graphql, ada, SET, id=global_id("Location", zuid.id), favorite=True)
    await as_driver(graphql, bob, SET, id=global_id("Location", zuid.id), favorite=True)
    assert await favorite_names(graphql, ada) == ["Zuid", "Dam"]
    assert await favorite_names(graphql, bob) == ["Zuid"]
    for _ in range(2):
        body = await as_driver(graphql, ada, SET, id=global_id("Location", zuid.id), favorite=False)
        assert body["data"]["setFavorite"]["favorite"] is False
    assert await favorite_names(graphql, ada) == ["Dam"]
    assert await favorite_names(graphql, bob) == ["Zuid"]


@pytest.mark.parametrize(
    "location_id",
    [global_id("Location", 424242), global_id("Evse", 1), "not-an-id"],
    ids=["unknown", "wrong-type", "malformed"],
)
async def test_an_unknown_location_is_a_typed_failure(
    graphql: GraphQLClient, session_factory: SessionFactory, location_id: str
) -> None:
    await make_location(session_factory)
    token = (await sign_up(graphql))["accessToken"]
    body = await as_driver(graphql, token, SET, id=location_id, favorite=True)
    assert body["data"]["setFavorite"] == {
        "__typename": "LocationNotFound",
        "message": f"location {location_id!r} not found",
    }
    assert await favorite_names(graphql, token) == []


async def test_anonymous_callers_cannot_set_favorites(
    graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    location = await make_location(session_factory)
    body = await as_driver(graphql, None, SET, id=global_id("Location", location.id), favorite=True)
    assert body["data"] is None
    assert body["errors"][0]["message"].startswith("log in first")
    async with session_factory() as db:
        assert (await db.exec(select(Favorite))).all() == []
