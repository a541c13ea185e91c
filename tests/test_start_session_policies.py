"""start-session policies that need their own server settings: rate limit, proxies, outages."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from storage.embedded import free_port
from tests.support import (
    ServerProcess,
    auth,
    create_application,
    running_server,
    start_session,
    tuned_server,
    user_token,
)


@pytest.fixture(scope="module")
def strict_server(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Default rate limit (3 per 10 minutes) and a trusted proxy on loopback."""
    directory = tmp_path_factory.mktemp("strict")
    with tuned_server(mongodb_url, directory, start_session_rate_limit="3", trusted_proxies="127.0.0.1/32") as process:
        yield process


@pytest.fixture
async def strict(strict_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=strict_server.base_url, timeout=15) as http:
        yield http


async def abandon_active(server: ServerProcess, application: dict[str, Any]) -> None:
    """End the application's active session as the abandon sweeper would (test set-up in the real store)."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(server.mongodb_url)
    try:
        await mongo[server.env["MONGODB_DB"]].interviewSessions.update_many(
            {"applicationId": application["id"], "status": {"$in": ["in_progress", "paused"]}},
            {"$set": {"status": "abandoned"}},
        )
    finally:
        await mongo.close()


async def new_sessions(
    server: ServerProcess, http: httpx.AsyncClient, application: dict[str, Any], n: int
) -> list[int]:
    """Start `n` sessions one after the other, each after the previous one was abandoned."""
    statuses = []
    for _ in range(n):
        await abandon_active(server, application)
        statuses.append((await start_session(http, application)).status_code)
    return statuses


async def test_fourth_new_session_within_window_is_rate_limited(
    strict_server: ServerProcess, strict: httpx.AsyncClient
) -> None:
    application = await create_application(strict)
    assert await new_sessions(strict_server, strict, application, 3) == [201, 201, 201]
    await abandon_active(strict_server, application)
    limited = await start_session(strict, application)
    assert limited.status_code == 429
    assert limited.json()["code"] == "RATE_LIMITED"
    retry_after = int(limited.headers["Retry-After"])
    assert 1 <= retry_after <= 600
    assert limited.json()["details"]["retryAfterSeconds"] == retry_after


async def test_resuming_the_active_session_is_never_rate_limited(strict: httpx.AsyncClient) -> None:
    application = await create_application(strict)
    responses = [await start_session(strict, application) for _ in range(6)]
    assert [r.status_code for r in responses] == [201, 200, 200, 200, 200, 200]
    assert len({r.json()["sessionId"] for r in responses}) == 1
    # A reload that lost its clientSessionId, or a retry that kept it: neither is a new session.
    again = await start_session(strict, application, clientSessionId=str(uuid.uuid4()))
    assert again.status_code == 200 and again.json()["resumed"] is True


async def test_rate_limit_is_per_application(strict_server: ServerProcess, strict: httpx.AsyncClient) -> None:
    first, second = await create_application(strict), await create_application(strict)
    await new_sessions(strict_server, strict, first, 3)
    await abandon_active(strict_server, first)
    assert (await start_session(strict, first)).status_code == 429
    assert (await start_session(strict, second)).status_code == 201


async def test_rate_limit_holds_across_server_processes(
    strict_server: ServerProcess, strict: httpx.AsyncClient, tmp_path: Path
) -> None:
    application = await create_application(strict)
    await new_sessions(strict_server, strict, application, 2)
    env = {"mongodb_db": strict_server.env["MONGODB_DB"]}
    with running_server(strict_server.mongodb_url, tmp_path, **env) as other:
        async with httpx.AsyncClient(base_url=other.base_url, timeout=15) as second_process:
            assert await new_sessions(strict_server, second_process, application, 2) == [201, 429]


async def test_forwarded_for_is_used_only_from_trusted_proxy(
    strict_server: ServerProcess, strict: httpx.AsyncClient
) -> None:
    application = await create_application(strict)
    response = await strict.post(
        "/api/interview/start-session",
        json={"applicationId": application["id"]},
        headers={**auth(user_token(application["candidateId"])), "X-Forwarded-For": "203.0.113.9, 127.0.0.1"},
    )
    assert response.status_code == 201
    mongo = AsyncMongoClient(strict_server.mongodb_url)
    try:
        stored = await mongo[strict_server.env["MONGODB_DB"]].interviewSessions.find_one(
            {"sessionId": response.json()["sessionId"]}
        )
    finally:
        await mongo.close()
    assert stored["metadata"]["ipAddress"] == "203.0.113.9"


async def test_completed_application_answers_already_completed(
    strict_server: ServerProcess, strict: httpx.AsyncClient
) -> None:
    application = await create_application(strict)
    mongo = AsyncMongoClient(strict_server.mongodb_url)
    try:
        await mongo[strict_server.env["MONGODB_DB"]].applications.update_one(
            {"_id": application["id"]}, {"$set": {"status": "completed"}}
        )
    finally:
        await mongo.close()
    response = await start_session(strict, application)
    assert response.status_code == 400
    assert response.json()["code"] == "ALREADY_COMPLETED"


async def test_unreachable_store_answers_503_quickly(tmp_path: Path) -> None:
    dead_url = f"mongodb://127.0.0.1:{free_port()}/?directConnection=true"
    server = ServerProcess(dead_url, tmp_path, {"MONGODB_TIMEOUT_MS": "1000"}, ready_path="/healthz").start()
    try:
        # A client timeout well under the driver's 30 s default: a hanging request fails the test.
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
            assert (await http.get("/readyz")).status_code == 503
            response = await http.post(
                "/api/interview/start-session", json={"applicationId": "app_x"}, headers=auth(user_token("c1"))
            )
        assert response.status_code == 503
        assert response.json()["code"] == "STORAGE_UNAVAILABLE"
    finally:
        server.stop()


async def test_concurrent_starts_create_one_session(strict_server: ServerProcess, strict: httpx.AsyncClient) -> None:
    application = await create_application(strict)
    responses = await asyncio.gather(*(start_session(strict, application) for _ in range(12)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 1 and set(statuses) <= {200, 201, 429}
    assert len({r.json()["sessionId"] for r in responses if r.status_code != 429}) == 1


async def test_concurrent_requests_never_exceed_the_limit(
    strict_server: ServerProcess, strict: httpx.AsyncClient
) -> None:
    application = await create_application(strict)
    await new_sessions(strict_server, strict, application, 3)
    await abandon_active(strict_server, application)
    responses = await asyncio.gather(*(start_session(strict, application) for _ in range(12)))
    assert [r.status_code for r in responses] == [429] * 12
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(strict_server.mongodb_url)
    try:
        stored = await mongo[strict_server.env["MONGODB_DB"]].interviewSessions.count_documents(
            {"applicationId": application["id"]}
        )
    finally:
        await mongo.close()
    assert stored == 3
