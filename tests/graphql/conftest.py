"""GraphQL test helpers: a client posting to the app's /graphql over httpx.ASGITransport."""

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette


def global_id(type_name: str, key: int | str | None) -> str:
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()


@dataclass
class GraphQLClient:
    http: httpx.AsyncClient

    async def execute(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.execute(query, **variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def error_messages(self, query: str, **variables: Any) -> list[str]:
        body = await self.execute(query, **variables)
        assert body.get("errors"), f"expected errors, got {body}"
        return [error["message"] for error in body["errors"]]


@pytest.fixture
async def graphql(app: Starlette) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)
