"""Values the store cannot hold, over a real WebSocket: a poison message gets its own error, the rest are acked."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.support import ServerProcess, start_interview, store_of, tuned_server
from tests.ws_client import InterviewClient, close_code_of, new_id, open_socket, receive_json

POISON: dict[str, dict[str, Any]] = {
    "integer past int64": {"type": "event", "name": "n", "payload": {"big": 10**19}},
    "NUL in a key": {"type": "event", "name": "k", "payload": {"a\x00b": 1}},
    "operator key": {"type": "event", "name": "k", "payload": {"$where": "1"}},
    "nested 40 deep": {"type": "event", "name": "k", "payload": json.loads('{"a":' * 40 + "1" + "}" * 40)},
    "NaN": {"type": "event", "name": "k", "payload": {"value": float("nan")}},
    "lone surrogate": {"type": "transcript", "text": "half \ud83d", "startMs": 0, "endMs": 1},
    "ts before year 1 in UTC": {
        "type": "transcript",
        "text": "old",
        "startMs": 0,
        "endMs": 1,
        "ts": "0001-01-01T00:00:00+05:00",
    },
}


@pytest.fixture(scope="module")
def ws_server(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with tuned_server(mongodb_url, tmp_path_factory.mktemp("ws-poison"), ws_hello_timeout_seconds="2") as process:
        yield process


@pytest.fixture
async def http(ws_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ws_server.base_url, timeout=15) as client:
        yield client


async def connected(http: httpx.AsyncClient, server: ServerProcess, question_count: int) -> tuple[str, InterviewClient]:
    """A fresh session and its connected channel client."""
    interview = await start_interview(http, question_count=question_count)
    client = InterviewClient(server.ws_url, interview.token)
    await client.connect()
    return interview.session_id, client


async def stored_payloads(server: ServerProcess, session_id: str) -> dict[str, dict[str, Any]]:
    async with store_of(server) as db:
        cursor = db.sessionEvents.find({"sessionId": session_id, "source": "client"})
        return {e["clientEventId"]: e["payload"] async for e in cursor}


@pytest.mark.parametrize("kind", list(POISON))
async def test_poison_message_is_refused_alone_and_its_neighbours_are_acked(
    http: httpx.AsyncClient, ws_server: ServerProcess, kind: str
) -> None:
    session_id, client = await connected(http, ws_server, 1)
    good = [await client.send("transcript", text=f"line {i}", startMs=i, endMs=i + 1) for i in range(2)]
    poison_id = new_id()
    await client.send_raw(json.dumps({"id": poison_id, **POISON[kind]}, allow_nan=True))
    good += [await client.send("transcript", text=f"line {i}", startMs=i, endMs=i + 1) for i in range(2, 4)]
    await client.wait_acked(*good)
    error = await client.wait_for(lambda m: m.get("type") == "error" and m.get("id") == poison_id)
    assert error["code"] == "VALIDATION_ERROR" and error["retryable"] is False
    after = await client.send("event", name="tab.hidden")  # still open: no 1011
    await client.wait_acked(after)
    await client.close()
    assert client.close_codes[-1] not in (1011,)
    assert set(await stored_payloads(ws_server, session_id)) == {*good, after}


@pytest.mark.parametrize("text", ["a" * 20_000, "Ж" * 20_000, "😀" * 20_000], ids=["ascii", "cyrillic", "emoji"])
async def test_full_length_answers_fit_in_one_frame_and_are_stored_whole(
    http: httpx.AsyncClient, ws_server: ServerProcess, text: str
) -> None:
    session_id, client = await connected(http, ws_server, 2)
    question = await client.wait_type("question", number=1)
    answer_id = new_id()
    # As a browser sends it (JSON.stringify leaves non-ASCII as is): 20,000 emoji are 80 kB of UTF-8.
    message = {"type": "answer.submit", "id": answer_id, "questionId": question["id"], "text": text}
    await client.send_raw(json.dumps(message, ensure_ascii=False))
    await client.wait_acked(answer_id)
    await client.wait_type("answer.recorded", answerId=answer_id)
    await client.close()
    assert (await stored_payloads(ws_server, session_id))[answer_id]["text"] == text


async def test_far_future_ts_is_stored_as_the_receipt_time(http: httpx.AsyncClient, ws_server: ServerProcess) -> None:
    _, client = await connected(http, ws_server, 1)
    sent = new_id()
    await client.send_raw({"type": "event", "id": sent, "name": "k", "ts": "9999-12-31T23:59:59-12:00"})
    await client.wait_acked(sent)
    await client.close()
    async with store_of(ws_server) as db:
        stored = await db.sessionEvents.find_one({"clientEventId": sent})
    assert stored["ts"].year == stored["receivedAt"].year and stored["ts"] <= stored["receivedAt"]


async def test_hello_with_a_seq_past_int64_is_refused_with_4001(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    interview = await start_interview(http, question_count=1)
    ws = await open_socket(ws_server.ws_url)
    await ws.send(json.dumps({"type": "hello", "token": interview.token, "lastSeq": 2**63}))
    assert (await receive_json(ws))["code"] == "UNAUTHORIZED"
    assert await close_code_of(ws) == 4001


@pytest.mark.parametrize(
    "frame",
    ["[" * 60_000, '{"type": "hello", "token": "t", "pendingIds": ' + "[" * 30_000 + "]" * 30_000 + "}"],
    ids=["arrays", "inside-hello"],
)
async def test_deeply_nested_first_frame_gets_a_clean_4001(ws_server: ServerProcess, frame: str) -> None:
    ws = await open_socket(ws_server.ws_url)
    await ws.send(frame)
    assert (await receive_json(ws))["code"] == "UNAUTHORIZED"
    assert await close_code_of(ws) == 4001


async def test_deeply_nested_frame_after_hello_is_answered_and_the_socket_stays(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    _, client = await connected(http, ws_server, 1)
    since = len(client.log)
    await client.send_raw('{"type": "event", "payload": ' + "[" * 30_000 + "]" * 30_000 + "}")
    error = await client.wait_type("error", since=since)
    assert error["code"] == "INVALID_JSON" and error["retryable"] is False
    alive = await client.send("event", name="tab.visible")
    await client.wait_acked(alive)
    await client.close()
