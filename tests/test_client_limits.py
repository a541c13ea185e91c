"""Per-client limits over a real server: request rate, concurrent uploads, bytes, sockets before hello, per user."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import websockets

from tests.session_support import named_event, new_session, transcript_event
from tests.support import ServerProcess, auth, create_application, start_session, tuned_server, unique, user_token
from tests.ws_client import InterviewClient, close_code_of, open_socket, receive_json

LIMITS = {
    "http_rate_limit_per_second": "0.5",
    "http_rate_limit_burst": "8",
    "upload_concurrency": "1",
    "upload_bytes_per_minute": str(1024 * 1024 + 64 * 1024),
    "ws_prehello_per_ip": "2",
    "ws_sessions_per_user": "1",
    "ws_hello_timeout_seconds": "3",
}


@pytest.fixture(scope="module")
def limited(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with tuned_server(mongodb_url, tmp_path_factory.mktemp("limits"), **LIMITS) as process:
        yield process


@pytest.fixture
async def http(limited: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=limited.base_url, timeout=15) as client:
        yield client


def assert_limited(response: httpx.Response, limit: str) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["code"] == "RATE_LIMITED" and body["details"]["limit"] == limit
    assert int(response.headers["retry-after"]) == body["details"]["retryAfterSeconds"] >= 1


async def test_one_user_is_limited_and_others_are_not(http: httpx.AsyncClient) -> None:
    flooding = auth(user_token(unique("cand")))
    answers = [await http.get("/api/interview/sessions", headers=flooding) for _ in range(12)]
    assert [r.status_code for r in answers[:8]] == [200] * 8  # the burst
    assert_limited(answers[-1], "requests")
    assert (await http.get("/api/interview/sessions", headers=auth(user_token(unique("cand"))))).status_code == 200
    assert (await http.get("/readyz")).status_code == 200  # probes are never limited


async def test_clients_without_a_valid_token_are_limited_by_address(http: httpx.AsyncClient) -> None:
    forged = {"Authorization": "Bearer not-a-token"}
    statuses = [(await http.get("/api/interview/sessions", headers=forged)).status_code for _ in range(12)]
    assert statuses[0] == 401 and statuses[-1] == 429
    anonymous = await http.get("/api/interview/link-status", params={"applicationId": "app_x"})
    assert_limited(anonymous, "requests")  # the same address: the same budget
    # Pages and their client files are outside the API's budget (a page load fetches ~30 of them).
    assert (await http.get("/client/api.js")).status_code == 200


async def test_a_second_upload_at_the_same_time_is_refused(limited: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=limited.base_url, timeout=15) as http:
        started = await new_session(http)
        release = asyncio.Event()

        async def slow_body() -> AsyncIterator[bytes]:
            yield b'{"events": ['
            await release.wait()
            yield json.dumps(transcript_event("held")).encode() + b"]}"

        headers = {**started.bearer, "Content-Type": "application/json"}
        first = asyncio.create_task(http.post(started.url("/events"), content=slow_body(), headers=headers))
        await asyncio.sleep(0.5)  # the first upload is being read
        second = await http.post(started.url("/events"), json={"events": [transcript_event("x")]}, headers=headers)
        assert_limited(second, "concurrent uploads")
        release.set()
        assert (await first).status_code == 200


async def test_bytes_per_minute_are_limited_per_client(http: httpx.AsyncClient) -> None:
    started = await new_session(http)
    big = [named_event("notes", blob="b" * 12_000) for _ in range(50)]  # ~600 kB
    assert (await http.post(started.url("/events"), json={"events": big}, headers=started.bearer)).status_code == 200
    again = await http.post(started.url("/events"), json={"events": big}, headers=started.bearer)
    assert_limited(again, "bytes")
    other = await new_session(http)
    assert (await http.post(other.url("/events"), json={"events": big}, headers=other.bearer)).status_code == 200


async def test_sockets_waiting_for_hello_are_limited_per_address(limited: ServerProcess) -> None:
    waiting = [await open_socket(limited.ws_url) for _ in range(2)]
    # The third upgrade itself is refused (cheaper than accepting it): 429 with Retry-After.
    with pytest.raises(websockets.InvalidStatus) as refused:
        await open_socket(limited.ws_url)
    response = refused.value.response
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert json.loads(response.body)["code"] == "RATE_LIMITED"
    for ws in waiting:
        await ws.close()
    await asyncio.sleep(0.5)
    accepted = await open_socket(limited.ws_url)  # a slot is free again: this one waits for its hello
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(accepted.recv(), 1)
    await accepted.close()


async def test_live_sessions_per_user_are_limited_and_a_reconnect_is_not(
    http: httpx.AsyncClient, limited: ServerProcess
) -> None:
    candidate = unique("cand")
    tokens = []
    for _ in range(2):
        application = await create_application(http, candidate)
        tokens.append((await start_session(http, application)).json()["token"])
    first = InterviewClient(limited.ws_url, tokens[0])
    await first.connect()
    ws = await open_socket(limited.ws_url)
    await ws.send(json.dumps({"type": "hello", "token": tokens[1]}))
    error = await receive_json(ws)
    assert error["code"] == "RATE_LIMITED" and error["details"]["retryAfterMs"] > 0
    assert await close_code_of(ws) == 1013
    again = InterviewClient(limited.ws_url, tokens[0])
    await again.connect()  # the same session taking over is not a second one
    assert await first.wait_closed() == 4009
    await again.close()
    second = InterviewClient(limited.ws_url, tokens[1])
    async with asyncio.timeout(20):
        while True:  # once the server has let the first session's socket go, there is room again
            try:
                await second.connect()
                break
            except ConnectionRefusedError:
                await asyncio.sleep(0.2)
    await second.close()


async def test_connections_beyond_the_rate_per_address_are_dropped_on_accept(
    mongodb_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = {"connection_rate_per_ip": "0.1", "connection_burst_per_ip": "4"}
    with tuned_server(mongodb_url, tmp_path_factory.mktemp("accept"), **settings) as server:
        answers = []
        for _ in range(8):  # a new connection each time (no keep-alive)
            try:
                async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as fresh:
                    answers.append((await fresh.get("/client/api.js")).status_code)
            except httpx.TransportError:
                answers.append(0)  # reset before a byte was parsed
        # (The readiness probes of the server's start-up spent some of the burst.)
        assert answers[0] == 200 and answers[-1] == 0 and answers == sorted(answers, reverse=True)
