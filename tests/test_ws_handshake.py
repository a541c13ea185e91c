"""The channel's handshake over a real WebSocket: Origin, hello, welcome, replay, takeover, close codes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import websockets
from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory, PerMessageDeflate
from websockets.frames import Frame, Opcode
from websockets.typing import ExtensionParameter

from realtime.channel.uvicorn_protocol import PLAIN_BELOW_BYTES
from tests.support import (
    SESSION_SECRET,
    ServerProcess,
    start_interview,
    store_of,
    tuned_server,
    user_token,
)
from tests.ws_client import InterviewClient, close_code_of, new_id, open_socket, receive_json

ALLOWED_ORIGIN = "https://app.example.com"


@pytest.fixture(scope="module")
def ws_server(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with tuned_server(
        mongodb_url,
        tmp_path_factory.mktemp("ws-handshake"),
        ws_hello_timeout_seconds="1",
        allowed_origins=ALLOWED_ORIGIN,
    ) as process:
        yield process


@pytest.fixture
async def http(ws_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ws_server.base_url, timeout=15) as client:
        yield client


def session_token(session_id: str, *, ttl: int = 600, secret: str = SESSION_SECRET, **claims: object) -> str:
    now = datetime.now(UTC)
    body = {
        "sid": session_id,
        "app": "app_x",
        "sub": "cand_x",
        "typ": "interview",
        "jti": uuid.uuid4().hex,
        "iat": now - timedelta(seconds=5),
        "exp": now + timedelta(seconds=ttl),
        **claims,
    }
    return jwt.encode(body, secret, algorithm="HS256")


async def finish(client: InterviewClient) -> None:
    """Answer every question until the server ends the session."""
    while True:
        state = [m for m in client.of_type("session.state") if m["status"] == "completed"]
        if state:
            return
        question = client.current_question()
        assert question is not None
        answered = {m["questionId"] for m in client.of_type("answer.recorded")}
        if question["id"] not in answered:
            await client.send("answer.submit", questionId=question["id"], text="an answer")
        number: int = question["number"]

        def moved_on(m: dict[str, Any], number: int = number) -> bool:
            return (m.get("type") == "question" and m["number"] > number) or (
                m.get("type") == "session.state" and m["status"] == "completed"
            )

        await client.wait_for(moved_on)


async def test_welcome_then_replay_in_seq_order(http: httpx.AsyncClient, ws_server: ServerProcess) -> None:
    interview = await start_interview(http, question_count=2)
    ws = await open_socket(ws_server.ws_url)
    try:
        assert ws.subprotocol == "interview.v1"
        await ws.send(json.dumps({"type": "hello", "token": interview.token, "lastSeq": None}))
        welcome = await receive_json(ws)
        started = await receive_json(ws)
        question = await receive_json(ws)
    finally:
        await ws.close()
    assert welcome["type"] == "welcome"
    assert welcome["sessionId"] == interview.session_id
    assert welcome["status"] == "in_progress"
    assert welcome["currentQuestion"] == interview.start["currentQuestion"]
    assert welcome["lastSeq"] == 2
    assert welcome["heartbeatSeconds"] == 20 and welcome["maxMessageBytes"] == 65536
    assert welcome["iceServers"] == []
    assert started == {"type": "session.state", "seq": 1, "status": "in_progress", "event": "session.started"}
    assert question == {"type": "question", "seq": 2, **interview.start["currentQuestion"]}


async def test_resume_replays_only_what_follows_last_seq(http: httpx.AsyncClient, ws_server: ServerProcess) -> None:
    interview = await start_interview(http, question_count=2)
    client = InterviewClient(ws_server.ws_url, interview.token)
    client.last_seq = 1
    await client.connect()
    probe = await client.send("transcript", text="probe", startMs=0, endMs=1)
    await client.wait_acked(probe)
    await client.close()
    assert [m["seq"] for m in client.messages] == [2]

    resumed = InterviewClient(ws_server.ws_url, interview.token)
    resumed.last_seq = 2
    await resumed.connect()
    probe = await resumed.send("transcript", text="probe 2", startMs=2, endMs=3)
    await resumed.wait_acked(probe)  # acks queue behind the replay: nothing was replayed before it
    await resumed.close()
    assert resumed.messages == []


async def test_socket_without_subprotocol_still_works(http: httpx.AsyncClient, ws_server: ServerProcess) -> None:
    interview = await start_interview(http, question_count=1)
    # No Sec-WebSocket-Protocol header at all (websockets sends an empty, invalid one for `[]`).
    ws = await websockets.connect(ws_server.ws_url, ping_interval=None, open_timeout=10)
    try:
        assert ws.subprotocol is None
        await ws.send(json.dumps({"type": "hello", "token": interview.token}))
        assert (await receive_json(ws))["type"] == "welcome"
    finally:
        await ws.close()


async def test_foreign_origin_is_closed_with_4003(http: httpx.AsyncClient, ws_server: ServerProcess) -> None:
    interview = await start_interview(http, question_count=1)
    ws = await open_socket(ws_server.ws_url, origin="https://evil.example.net")
    with contextlib.suppress(websockets.ConnectionClosed):  # the server may have closed already
        await ws.send(json.dumps({"type": "hello", "token": interview.token}))
    assert await close_code_of(ws) == 4003
    assert ws.close_reason == "origin not allowed"


async def test_own_and_listed_origins_are_accepted(http: httpx.AsyncClient, ws_server: ServerProcess) -> None:
    interview = await start_interview(http, question_count=1)
    for origin in (f"http://127.0.0.1:{ws_server.port}", ALLOWED_ORIGIN):
        client = InterviewClient(ws_server.ws_url, interview.token, origin=origin)
        welcome = await client.connect()
        await client.close()
        assert welcome["sessionId"] == interview.session_id, origin


async def test_no_hello_in_time_closes_with_4001(ws_server: ServerProcess) -> None:
    ws = await open_socket(ws_server.ws_url)
    error = await receive_json(ws)  # sent without us saying anything, once the hello timeout passed
    assert error["type"] == "error" and error["code"] == "UNAUTHORIZED"
    assert await close_code_of(ws) == 4001


async def test_first_message_must_be_hello(http: httpx.AsyncClient, ws_server: ServerProcess) -> None:
    interview = await start_interview(http, question_count=1)
    first_messages = [
        json.dumps({"type": "transcript", "id": new_id(), "text": "hi", "startMs": 0, "endMs": 1}),
        "{not json",
        json.dumps({"type": "hello"}),
        json.dumps({"type": "hello", "token": interview.token, "lastSeq": -1}),
        json.dumps({"type": "hello", "token": interview.token, "extra": True}),
    ]
    for first in first_messages:
        ws = await open_socket(ws_server.ws_url)
        await ws.send(first)
        assert (await receive_json(ws))["code"] == "UNAUTHORIZED", first
        assert await close_code_of(ws) == 4001, first


async def test_invalid_tokens_close_with_4001_and_say_the_same(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    interview = await start_interview(http, question_count=1)
    tokens = {
        "garbage": "not-a-token",
        "expired": session_token(interview.session_id, ttl=-120),
        "user token": user_token(interview.application["candidateId"]),
        "other secret": session_token(interview.session_id, secret="another-secret-another-secret-another-1"),
        "not a session token": session_token(interview.session_id, typ="user"),
        "unknown session": session_token(str(uuid.uuid4())),
    }
    answers = {}
    for name, token in tokens.items():
        ws = await open_socket(ws_server.ws_url)
        await ws.send(json.dumps({"type": "hello", "token": token, "lastSeq": 0}))
        answers[name] = await receive_json(ws)
        assert await close_code_of(ws) == 4001, name
    assert all(answer["code"] == "UNAUTHORIZED" for answer in answers.values())
    assert answers["unknown session"] == answers["expired"] == answers["garbage"]  # nothing leaks


async def test_ended_session_sends_final_state_then_4010(http: httpx.AsyncClient, ws_server: ServerProcess) -> None:
    interview = await start_interview(http, question_count=1)
    client = InterviewClient(ws_server.ws_url, interview.token)
    await client.connect()
    await client.wait_type("question")
    await finish(client)
    assert await client.wait_closed() == 4010  # the live connection ends with the session

    late = InterviewClient(ws_server.ws_url, interview.token)
    welcome = await late.connect()
    assert welcome["status"] == "completed" and welcome["currentQuestion"] is None
    assert await late.wait_closed() == 4010
    states = late.of_type("session.state")
    assert states[-1]["status"] == "completed" and states[-1]["summary"]["questionsAnswered"] == 1
    assert [m["seq"] for m in late.messages] == sorted(client.seqs)  # the whole stream, in order


async def test_pending_ids_of_an_ended_session_are_settled_before_4010(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    interview = await start_interview(http, question_count=1)
    client = InterviewClient(ws_server.ws_url, interview.token)
    await client.connect()
    question = await client.wait_type("question")
    # Made before the end, never delivered (the client was "offline"), then the last answer.
    early = {"type": "event", "id": new_id(), "ts": datetime.now(UTC).isoformat(), "name": "tab.hidden"}
    answer = await client.send("answer.submit", questionId=question["id"], text="done")
    await client.wait_closed()
    assert answer in client.acked
    too_late = new_id()
    client.outbox = {
        early["id"]: early,  # not stored yet: accepted late (its ts is before the end)
        answer: {"type": "answer.submit", "id": answer, "questionId": question["id"], "text": "done"},
    }
    after_end = {"type": "event", "id": too_late, "ts": datetime.now(UTC).isoformat(), "name": "tab.shown"}
    client.outbox[too_late] = after_end  # happened after the end: refused for good

    welcome = await client.connect()
    assert welcome["status"] == "completed"
    assert await client.wait_closed() == 4010
    assert client.outbox == {}
    assert {early["id"], answer} <= client.acked
    assert client.rejected == {too_late: "SESSION_ALREADY_COMPLETED"}
    async with store_of(ws_server) as db:
        stored = await db.sessionEvents.find({"sessionId": interview.session_id, "source": "client"}).to_list()
    assert sorted(e["clientEventId"] for e in stored) == sorted([early["id"], answer])


async def test_second_hello_takes_over_and_first_is_closed_4009(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    interview = await start_interview(http, question_count=2)
    first = InterviewClient(ws_server.ws_url, interview.token)
    await first.connect()
    await first.wait_type("question")
    second = InterviewClient(ws_server.ws_url, interview.token)
    await second.connect()
    assert await first.wait_closed() == 4009
    event = await second.send("event", name="tab.hidden")
    await second.wait_acked(event)
    await second.close()


async def test_different_sessions_do_not_take_over_each_other(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    one, two = await start_interview(http, question_count=1), await start_interview(http, question_count=1)
    first = InterviewClient(ws_server.ws_url, one.token)
    second = InterviewClient(ws_server.ws_url, two.token)
    await first.connect()
    await second.connect()
    ids = [await first.send("event", name="tab.hidden"), await second.send("event", name="tab.hidden")]
    await first.wait_acked(ids[0])
    await second.wait_acked(ids[1])
    assert first.connected and second.connected
    await first.close()
    await second.close()


async def test_deflate_is_negotiated_without_context_takeover(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    """Compression keeps no zlib state between messages (idle memory), and messages still flow both ways."""
    interview = await start_interview(http, question_count=2)
    client = InterviewClient(ws_server.ws_url, interview.token)
    await client.connect()
    try:
        assert client.ws is not None and client.ws.response is not None
        offered = client.ws.response.headers["Sec-WebSocket-Extensions"]
        assert offered.startswith("permessage-deflate")
        assert "server_no_context_takeover" in offered and "client_no_context_takeover" in offered
        # Several messages in a row, each compressed from a fresh context: acked, so the server decoded them.
        ids = [
            await client.send("transcript", text=f"answer {n} " + "well compressible words " * 400, startMs=n, endMs=n)
            for n in range(5)
        ]
        await client.wait_acked(*ids)
    finally:
        await client.close()
    # The server's side too: the welcome, the replayed question and five acks, each decoded on its own.
    assert [m["type"] for m in client.log[:3]] == ["welcome", "session.state", "question"]
    assert any(m["type"] == "ack" for m in client.log)


class _SeenDeflate(PerMessageDeflate):
    """The client's decoder, noting each data frame as it came off the wire: (bytes, compressed)."""

    seen: list[tuple[int, bool]]

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self.seen.append((len(frame.data), frame.rsv1))
        return super().decode(frame, max_size=max_size)


class _SeenDeflateFactory(ClientPerMessageDeflateFactory):
    def __init__(self, seen: list[tuple[int, bool]]) -> None:
        super().__init__(client_max_window_bits=True)
        self._seen = seen

    def process_response_params(
        self, params: Sequence[ExtensionParameter], accepted_extensions: Sequence[Extension]
    ) -> PerMessageDeflate:
        extension = super().process_response_params(params, accepted_extensions)
        extension.__class__ = _SeenDeflate
        extension.seen = self._seen  # type: ignore[attr-defined]
        return extension


async def test_small_messages_go_uncompressed_and_large_ones_compressed(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    """An ack is not worth a zlib context (RFC 7692 lets each message choose); a question still is."""
    interview = await start_interview(http, question_count=2)
    seen: list[tuple[int, bool]] = []
    ws = await open_socket(ws_server.ws_url, extensions=[_SeenDeflateFactory(seen)], compression=None)
    try:
        await ws.send(json.dumps({"type": "hello", "token": interview.token, "lastSeq": 0, "pendingIds": []}))
        texts = [str(await asyncio.wait_for(ws.recv(), 15)) for _ in range(3)]  # welcome, session.state, question
        message_id = new_id()
        await ws.send(json.dumps({"type": "transcript", "id": message_id, "text": "hi", "startMs": 0, "endMs": 1}))
        texts.append(str(await asyncio.wait_for(ws.recv(), 15)))
    finally:
        await ws.close()
    assert [json.loads(t)["type"] for t in texts] == ["welcome", "session.state", "question", "ack"]
    assert json.loads(texts[-1])["ids"] == [message_id]
    sizes = [len(t.encode()) for t in texts]
    assert [compressed for _wire, compressed in seen] == [size >= PLAIN_BELOW_BYTES for size in sizes]
    assert [wire for wire, compressed in seen if not compressed] == [size for size in sizes if size < PLAIN_BELOW_BYTES]
    assert seen[-1] == (sizes[-1], False)  # the ack, as it is
    assert any(compressed for _wire, compressed in seen)  # the question (its text and options) is compressed
