"""Production switches (introspection, explorer, trusted documents) and masked errors."""

import base64
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app import cli
from app.graphql.trusted_documents import (
    ManifestError,
    build_manifest,
    document_hash,
    load_manifest,
)
from app.main import create_app
from app.settings import Settings
from tests.conftest import running
from tests.graphql.conftest import GraphQLClient

INTROSPECT = "{ __schema { queryType { name } } }"
REGISTERED = "{ __typename }"
ALSO_REGISTERED = "query Locations { locations(first: 1) { totalCount } }"


@asynccontextmanager
async def client(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=changes))
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.mark.parametrize("introspection", [True, False], ids=["on", "off"])
async def test_introspection_can_be_switched_off(
    settings: Settings, engine: AsyncEngine, introspection: bool
) -> None:
    async with client(settings, graphql_introspection=introspection) as http:
        body = (await http.post("/graphql", json={"query": INTROSPECT})).json()
        typename = (await http.post("/graphql", json={"query": REGISTERED})).json()
    if introspection:
        assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    else:
        assert body["data"] is None
        assert body["errors"][0]["message"] == (
            "GraphQL introspection has been disabled, but the requested query contained "
            "the field '__schema'."
        )
    assert typename == {"data": {"__typename": "Query"}}  # not introspection: always allowed


async def test_the_explorer_can_be_switched_off(settings: Settings, engine: AsyncEngine) -> None:
    async with client(settings, graphql_explorer=False) as http:
        response = await http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "graphiql" not in response.text.lower()


async def test_a_database_failure_is_masked_and_its_request_id_logged(
    graphql: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    # An id past every integer column: the driver refuses it (OverflowError on SQLite,
    # DataError on PostgreSQL), an error no resolver expects.
    too_large = base64.b64encode(b"Location:99999999999999999999").decode()
    with caplog.at_level(logging.ERROR):
        body = await graphql.execute("query ($id: ID!) { node(id: $id) { id } }", id=too_large)
    [error] = body["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    request_id = error["extensions"]["requestId"]
    text = json.dumps(body)
    for leak in ("Traceback", "SELECT", "sqlite", "asyncpg", "Overflow", "DataError"):
        assert leak.lower() not in text.lower()
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged, "the request id is not in the server log"
    assert logged[0].exc_info is not None  # the traceback stays on the server


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "trusted.json"
    path.write_text(json.dumps(build_manifest([REGISTERED, ALSO_REGISTERED])))
    return path


async def test_trusted_documents_run_only_registered_documents(
    settings: Settings, engine: AsyncEngine, manifest: Path
) -> None:
    digest = document_hash(REGISTERED)

    async def post(http: httpx.AsyncClient, payload: dict[str, Any]) -> Any:
        return (await http.post("/graphql", json=payload)).json()

    async with client(settings, graphql_trusted_documents=str(manifest)) as http:
        by_apollo_hash = await post(
            http, {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
        )
        by_document_id = await post(http, {"documentId": f"sha256:{digest}"})
        by_get = (await http.get("/graphql", params={"documentId": digest})).json()
        by_text = await post(http, {"query": ALSO_REGISTERED})
        arbitrary = await post(http, {"query": "{ __typename __typename }"})
        unknown = await post(http, {"documentId": "sha256:" + "0" * 64})
        mismatch = await post(
            http,
            {
                "query": ALSO_REGISTERED,
                "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}},
            },
        )
    assert by_apollo_hash == by_document_id == by_get == {"data": {"__typename": "Query"}}
    assert by_text == {"data": {"locations": {"totalCount": 0}}}
    arbitrary_digest = document_hash("{ __typename __typename }")
    assert arbitrary["errors"] == [
        {
            "message": "only registered documents run on this server; document "
            f"sha256:{arbitrary_digest} is not registered",
            "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
        }
    ]
    assert unknown["errors"][0]["message"] == f"document id sha256:{'0' * 64} is not registered"
    assert mismatch["errors"][0]["message"] == (
        f"document id sha256:{digest} does not match the document sent"
    )


async def test_without_the_mode_a_bare_document_id_is_a_clear_400(graphql: GraphQLClient) -> None:
    response = await graphql.http.post("/graphql", json={"documentId": "sha256:" + "0" * 64})
    assert response.status_code == 400
    assert response.text == "No GraphQL query found in the request"


def test_a_manifest_whose_hash_does_not_match_is_refused_at_startup(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"0" * 64: REGISTERED}))
    with pytest.raises(ManifestError, match=r"entry '0+' is not the SHA-256 of its document"):
        create_app(settings.model_copy(update={"graphql_trusted_documents": str(path)}))


def test_the_cli_builds_a_manifest_the_server_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = []
    for i, document in enumerate([REGISTERED, ALSO_REGISTERED]):
        files.append(tmp_path / f"q{i}.graphql")
        files[-1].write_text(document)
    assert cli.main(["documents", "hash", *map(str, files)]) == 0
    path = tmp_path / "manifest.json"
    path.write_text(capsys.readouterr().out)
    assert load_manifest(str(path)) == build_manifest([REGISTERED, ALSO_REGISTERED])
