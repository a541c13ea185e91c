"""/openapi.json describes exactly the app's HTTP routes, and every schema reference resolves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from server.app import create_app
from server.config import Settings
from tests.support import SESSION_SECRET, USER_SECRET, ServerProcess

# Served by the app itself, not by a route module: the document does not describe itself.
UNDOCUMENTED = {("GET", "/openapi.json")}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


@pytest.fixture(scope="module")
async def app(server: ServerProcess) -> AsyncIterator[Starlette]:
    """An app built as the server builds it (never started: only its routes are read)."""
    settings = Settings(
        mongodb_url=server.mongodb_url, auth_jwt_secret=USER_SECRET, session_token_secret=SESSION_SECRET
    )
    built = create_app(settings)
    try:
        yield built
    finally:
        await built.state.dispose()


@pytest.fixture(scope="module")
def app_routes(app: Starlette) -> set[tuple[str, str]]:
    """(method, path) of every HTTP route (HEAD is implied by GET)."""
    routes: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Route):
            routes |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    return routes - UNDOCUMENTED


@pytest.fixture(scope="module")
def websocket_paths(app: Starlette) -> set[str]:
    return {route.path for route in app.routes if isinstance(route, WebSocketRoute)}


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, operation


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


async def test_every_route_is_documented(document: dict[str, Any], app_routes: set[tuple[str, str]]) -> None:
    documented = {(method, path) for method, path, _ in operations(document)}
    assert app_routes - documented == set()


async def test_every_documented_operation_is_a_route(
    document: dict[str, Any], app_routes: set[tuple[str, str]], websocket_paths: set[str]
) -> None:
    documented = {(method, path) for method, path, _ in operations(document)}
    # A WebSocket endpoint may be described as its GET upgrade request.
    extra = {(method, path) for method, path in documented - app_routes if path not in websocket_paths}
    assert extra == set()


async def test_every_reference_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    found = list(refs(document))
    assert found, "the document references no schemas at all"
    for ref in found:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


async def test_path_parameters_are_declared(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        templated = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert declared == templated, (method, path)


async def test_operation_ids_are_unique(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))


async def test_session_endpoints_name_their_bodies(document: dict[str, Any]) -> None:
    def schema_of(path: str, method: str, status: str) -> str:
        content = document["paths"][path][method]["responses"][status]["content"]
        return content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]

    base = "/api/interview/sessions/{sessionId}"
    assert schema_of("/api/interview/sessions", "get", "200") == "SessionListResponse"
    assert schema_of(base, "get", "200") == "SessionOut"
    assert schema_of(f"{base}/details", "get", "200") == "SessionDetails"
    assert schema_of(f"{base}/complete", "post", "200") == "SessionOut"
    assert schema_of(f"{base}/events", "get", "200") == "EventsPage"
    assert schema_of(f"{base}/events", "post", "200") == "EventBatchResponse"
    assert schema_of(f"{base}/token", "post", "200") == "SessionTokenResponse"
    assert schema_of("/api/interview/analytics", "get", "200") == "AnalyticsReport"
    upload = document["paths"][f"{base}/events"]["post"]["requestBody"]
    assert upload["required"] is True
    assert document["paths"][f"{base}/pause"]["post"]["requestBody"]["required"] is False
    queries = {p["name"] for p in document["paths"]["/api/interview/sessions"]["get"]["parameters"]}
    assert queries == {"status", "applicationId", "from", "to", "minScore", "maxScore", "limit", "cursor"}
    assert schema_of(f"{base}/recording-link", "post", "200") == "RecordingLinkResponse"
    linked = document["paths"]["/api/interview/recordings/{sessionId}"]["get"]
    assert [(p["name"], p["required"]) for p in linked["parameters"] if p["in"] == "query"] == [("sig", True)]
    assert "security" not in linked  # the signed link is the only credential
    analytics = {p["name"] for p in document["paths"]["/api/interview/analytics"]["get"]["parameters"]}
    assert analytics == {"from", "to"}


async def test_error_responses_use_the_error_shape(document: dict[str, Any]) -> None:
    error = document["components"]["schemas"]["ErrorBody"]
    assert set(error["required"]) == {"error", "code"}
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]["$ref"]
                assert schema == "#/components/schemas/ErrorBody", (method, path, status)


async def test_required_query_parameters_are_marked_required(document: dict[str, Any]) -> None:
    parameters = document["paths"]["/api/interview/offline-pack"]["get"]["parameters"]
    assert [(p["name"], p["required"]) for p in parameters] == [("applicationId", True)]
