"""The channel under misbehaviour over a real WebSocket: limits, garbage, idle peers, slow consumers, outages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from storage.embedded import EmbeddedMongo
from tests.support import ServerProcess, auth, running_server, start_interview, store_of, tuned_server
from tests.ws_client import (
    SUBPROTOCOL,
    InterviewClient,
    close_code_of,
    new_id,
    open_socket,
    receive_json,
    small_buffer_socket,
)


@pytest.fixture(scope="module")
def ws_server(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with tuned_server(mongodb_url, tmp_path_factory.mktemp("ws-robust")) as process:
        yield process


@pytest.fixture
async def http(ws_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ws_server.base_url, timeout=15) as client:
        yield client


async def client_event_ids(server: ServerProcess, session_id: str) -> list[str]:
    async with store_of(server) as db:
        cursor = db.sessionEvents.find({"sessionId": session_id, "source": "client"}).sort("seq", 1)
        return [e["clientEventId"] async for e in cursor]


async def test_oversized_message_closes_1009_and_the_session_resumes(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    interview = await start_interview(http, question_count=1)
    client = InterviewClient(ws_server.ws_url, interview.token)
    await client.connect()
    await client.send_raw({"type": "transcript", "id": new_id(), "text": "x" * 70_000, "startMs": 0, "endMs": 1})
    assert await client.wait_closed() == 1009
    await client.connect()
    event = await client.send("event", name="tab.hidden")
    await client.wait_acked(event)
    await client.close()
    assert await client_event_ids(ws_server, interview.session_id) == [event]


async def test_malformed_messages_get_errors_and_the_connection_stays_open(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    interview = await start_interview(http, question_count=1)
    client = InterviewClient(ws_server.ws_url, interview.token)
    await client.connect()
    bad_id = new_id()
    cases: list[tuple[Any, str, str | None]] = [
        ("{not json", "INVALID_JSON", None),
        ("[1, 2, 3]", "VALIDATION_ERROR", None),
        (b"\x00\x01binary", "VALIDATION_ERROR", None),
        ({"type": "bogus.type", "id": bad_id}, "UNKNOWN_MESSAGE_TYPE", bad_id),
        ({"id": bad_id}, "UNKNOWN_MESSAGE_TYPE", bad_id),
        ({"type": "transcript", "id": bad_id, "text": "x", "startMs": 9, "endMs": 1}, "VALIDATION_ERROR", bad_id),
        ({"type": "transcript", "text": "no id", "startMs": 0, "endMs": 1}, "VALIDATION_ERROR", None),
        ({"type": "event", "id": "not-a-uuid", "name": "tab.hidden"}, "VALIDATION_ERROR", "not-a-uuid"),
        ({"type": "hello", "token": interview.token}, "VALIDATION_ERROR", None),
    ]
    for raw, code, id in cases:
        since = len(client.log)
        await client.send_raw(raw)
        error = await client.wait_type("error", since=since)
        assert error["code"] == code, raw
        assert error.get("id") == id, raw
        assert error["retryable"] is False
    valid = await client.send("event", name="tab.hidden")
    await client.wait_acked(valid)  # still open after 9 bad messages (the limit is 10 a minute)
    await client.close()
    assert await client_event_ids(ws_server, interview.session_id) == [valid]


async def test_a_peer_that_keeps_sending_garbage_is_closed_4008(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    interview = await start_interview(http, question_count=1)
    client = InterviewClient(ws_server.ws_url, interview.token)
    await client.connect()
    with contextlib.suppress(websockets.ConnectionClosed):
        for _ in range(30):
            await client.send_raw("garbage")
    assert await client.wait_closed() == 4008
    errors = [m for m in client.log if m.get("type") == "error"]
    assert len(errors) == 10 and {e["code"] for e in errors} == {"INVALID_JSON"}


async def test_rate_limit_warns_then_closes_4008(http: httpx.AsyncClient, ws_server: ServerProcess) -> None:
    interview = await start_interview(http, question_count=1)
    client = InterviewClient(ws_server.ws_url, interview.token)
    await client.connect()
    with contextlib.suppress(websockets.ConnectionClosed):
        for _ in range(400):  # defaults: 20/s, bursts of 60
            await client.send_raw({"type": "pong"})
    assert await client.wait_closed() == 4008
    warnings = [m for m in client.log if m.get("type") == "error"]
    assert [w["code"] for w in warnings] == ["RATE_LIMITED"]
    assert warnings[0]["retryable"] is True and warnings[0]["details"]["retryAfterMs"] > 0


async def test_rate_limited_message_is_not_stored_until_resent(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    interview = await start_interview(http, question_count=1)
    client = InterviewClient(ws_server.ws_url, interview.token)
    await client.connect()
    for _ in range(60):
        await client.send_raw({"type": "pong"})
    limited = await client.send("event", name="network.quality", payload={"quality": "poor"})
    warning = await client.wait_type("error", code="RATE_LIMITED")
    assert warning["id"] == limited and limited in client.outbox  # kept: retryable
    await client.close()
    await client.connect()  # resends the outbox
    await client.wait_acked(limited)
    await client.close()
    assert await client_event_ids(ws_server, interview.session_id) == [limited]


async def test_silent_connection_is_closed_4002_but_a_ponging_one_stays(mongodb_url: str, tmp_path: Path) -> None:
    env = {
        "mongodb_db": f"test_{uuid.uuid4().hex[:12]}",
        "ws_heartbeat_seconds": "0.2",
        "ws_idle_timeout_seconds": "1",
    }
    with running_server(mongodb_url, tmp_path, **env) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
            silent = await start_interview(http, question_count=1)
            lively = await start_interview(http, question_count=1)
        ws = await open_socket(server.ws_url)
        await ws.send(json.dumps({"type": "hello", "token": silent.token}))
        assert (await receive_json(ws))["type"] == "welcome"
        client = InterviewClient(server.ws_url, lively.token)  # answers every ping
        await client.connect()
        code = await close_code_of(ws)
        # Twice the idle timeout's worth of pings later, the ponging client is still connected.
        await client.wait_for(lambda _m: sum(1 for m in client.log if m.get("type") == "ping") >= 10)
        still_open = client.connected
        await client.close()
        resumed = InterviewClient(server.ws_url, silent.token)
        welcome = await resumed.connect()
        await resumed.close()
    assert code == 4002
    assert still_open
    assert welcome["status"] == "in_progress"  # an idle close is a disconnect: the session stays resumable


async def seed_history(server: ServerProcess, session_id: str, count: int, text_chars: int) -> None:
    """A long server-side history (transcript.final lines), inserted as the server stores it."""
    async with store_of(server) as db:
        session = await db.interviewSessions.find_one_and_update(
            {"sessionId": session_id}, {"$inc": {"lastSeq": count}}, return_document=True
        )
        first = session["lastSeq"] - count + 1
        now = datetime.now(UTC)
        await db.sessionEvents.insert_many(
            [
                {
                    "sessionId": session_id,
                    "seq": first + i,
                    "type": "transcript.final",
                    "ts": now,
                    "payload": {"text": secrets.token_urlsafe(text_chars)[:text_chars], "startMs": i, "endMs": i + 1},
                    "source": "server",
                    "receivedAt": now,
                }
                for i in range(count)
            ]
        )


async def wait_released(server: ServerProcess, session_id: str) -> None:
    """Until the server marked the session as no longer connected (its connection ended).

    Generous: on a loaded machine the stuck replay, the 8 heartbeats and the teardown all stretch.
    """
    async with store_of(server) as db, asyncio.timeout(90):
        while True:
            session = await db.interviewSessions.find_one({"sessionId": session_id})
            until = session.get("connectedUntil")
            if until is not None and until <= datetime.now(UTC) + timedelta(seconds=5):
                return
            await asyncio.sleep(0.1)


@pytest.fixture
def own_store(tmp_path: Path) -> Iterator[str]:
    """A store of this test's own: its 9 MB history and its timing do not share the suite's store,
    which by this point of a full run holds every earlier test's data and serves them."""
    store = EmbeddedMongo(tmp_path / "store")
    store.start()
    try:
        yield store.url
    finally:
        store.stop()


async def test_slow_consumer_is_closed_1013_and_resumes_by_replay(own_store: str, tmp_path: Path) -> None:
    env = {"mongodb_db": f"test_{uuid.uuid4().hex[:12]}", "ws_send_queue_size": "8", "ws_heartbeat_seconds": "1"}
    with running_server(own_store, tmp_path / "server", **env) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
            interview = await start_interview(http, question_count=20)
        # 9 MB of history: more than the socket buffers hold (about 4 MB on loopback).
        await seed_history(server, interview.session_id, count=3000, text_chars=3000)
        # A reader that stops reading: tiny receive buffer, one-frame client-side queue.
        sock = small_buffer_socket(server.port)
        ws = await websockets.connect(
            server.ws_url,
            sock=sock,
            subprotocols=["interview.v1"],  # type: ignore[list-item]
            max_queue=1,
            ping_interval=None,
            max_size=None,
            compression=None,  # compressed, the history would fit in the buffers
        )
        await ws.send(json.dumps({"type": "hello", "token": interview.token, "lastSeq": 0}))
        skips = [new_id() for _ in range(12)]
        for skip in skips:  # read only after the replay, which never ends: never stored, never acked
            await ws.send(json.dumps({"type": "question.next", "id": skip}))
        # Pings pile up behind the stuck replay until the queue is full (8 of them: 8 s).
        await wait_released(server, interview.session_id)  # the server gave up on us before we read a byte
        received: list[dict[str, Any]] = []
        with contextlib.suppress(websockets.ConnectionClosed):
            async with asyncio.timeout(60):
                async for raw in ws:
                    received.append(json.loads(raw))
        code = ws.close_code
        # The close frame sits behind the unread data; when the server gives up on
        # delivering it, the TCP reset may also discard what was buffered for us.
        seen = max((m["seq"] for m in received if "seq" in m), default=0)
        slow_consumer_logged = server.log_path is not None and "slow consumer" in server.log_path.read_text(
            errors="replace"
        )

        ws.transport.abort()  # make sure the old socket is gone before resuming
        client = InterviewClient(server.ws_url, interview.token)
        client.last_seq = seen
        client.outbox = {skip: {"type": "question.next", "id": skip} for skip in skips}
        # Under a loaded CI machine the server may still be tearing the old connection
        # down (its replay was 9 MB), or this reader may fall behind the tiny send queue
        # again; a real client resumes the same way until everything is acked.
        for attempt in range(6):
            try:
                await client.connect()
                await client.wait_acked(*skips, within=60)  # acks queue behind the events they caused
                break
            except (TimeoutError, ConnectionRefusedError, ConnectionError, OSError):
                if attempt == 5:
                    raise
                await asyncio.sleep(1)
        await client.close()
        async with store_of(server) as db:
            stored = await db.sessionEvents.find({"sessionId": interview.session_id}).sort("seq", 1).to_list()
    assert slow_consumer_logged  # the server closed it for falling behind, not for anything else
    assert code in (1013, 1006)  # 1013 when the close frame got through, 1006 when it could not
    assert seen < max(e["seq"] for e in stored)  # it really fell behind
    replayed = [m["seq"] for m in received if "seq" in m] + [m["seq"] for m in client.messages]
    assert replayed == [e["seq"] for e in stored if e["source"] == "server"]  # nothing lost, nothing twice
    assert [e["clientEventId"] for e in stored if e["source"] == "client"] == skips


async def test_a_session_ended_elsewhere_closes_a_connection_whose_client_stopped_reading(
    own_store: str, tmp_path: Path
) -> None:
    """4010 (the session ended elsewhere) lets the writer finish what it is sending first, but not
    forever: the replay a client that does not read is stuck in never finishes, so the close has a deadline."""
    # A send queue too long to fill here: the 1013 of a slow consumer must not end it first.
    env = {"mongodb_db": f"test_{uuid.uuid4().hex[:12]}", "ws_send_queue_size": "100000"}
    with running_server(own_store, tmp_path / "server", **env) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
            interview = await start_interview(http, question_count=20)
        await seed_history(server, interview.session_id, count=3000, text_chars=3000)
        stuck = await websockets.connect(
            server.ws_url,
            sock=small_buffer_socket(server.port),
            subprotocols=["interview.v1"],  # type: ignore[list-item]
            max_queue=1,
            ping_interval=None,
            max_size=None,
            compression=None,
        )
        await stuck.send(json.dumps({"type": "hello", "token": interview.token, "lastSeq": 0}))
        await asyncio.sleep(3)  # its replay has filled the socket buffers (about 4 MB) and is stuck
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
            url = f"/api/interview/sessions/{interview.session_id}/complete"
            assert (await http.post(url, headers=auth(interview.token))).status_code == 200
        assert server.log_path is not None
        ended = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(60):
                while not ended:
                    await asyncio.sleep(0.2)
                    ended = "connection closed (SESSION_ENDED)" in server.log_path.read_text(errors="replace")
        stuck.transport.abort()
    assert ended  # the connection's handler finished though its client never read a byte


async def test_storage_outage_is_never_acked_and_the_resend_is_stored_once(tmp_path: Path) -> None:
    store = EmbeddedMongo(tmp_path / "db")
    store.start()
    try:
        env = {"mongodb_db": "outage", "mongodb_timeout_ms": "500", "start_session_rate_limit": "1000"}
        with running_server(store.url, tmp_path / "server", **env) as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
                interview = await start_interview(http, question_count=2)
            client = InterviewClient(server.ws_url, interview.token)
            await client.connect()
            await client.wait_type("question", number=1)
            store.stop()
            transcript = await client.send("transcript", text="said during the outage", startMs=0, endMs=10)
            error = await client.wait_type("error", code="STORAGE_UNAVAILABLE")
            code = await client.wait_closed()
            unacked = dict(client.outbox)
            ws = await open_socket(server.ws_url)
            await ws.send(json.dumps({"type": "hello", "token": interview.token}))
            hello_error = await receive_json(ws)
            refused = await close_code_of(ws)

            store = EmbeddedMongo(tmp_path / "db", port=store.port)  # same files, same port
            store.start()
            async with asyncio.timeout(30):
                while True:
                    try:
                        await client.connect()
                        break
                    except (ConnectionRefusedError, TimeoutError):  # like a real client: try again
                        await asyncio.sleep(0.2)
            await client.wait_acked(transcript)
            await client.close()
            async with store_of(server) as db:
                stored = await db.sessionEvents.count_documents({"clientEventId": transcript})
    finally:
        store.stop()
    assert error["id"] == transcript and error["retryable"] is True
    assert code == 1011
    assert transcript in unacked  # not acked while the store was down
    assert hello_error["code"] == "STORAGE_UNAVAILABLE" and refused == 1011
    assert hello_error["retryable"] is True  # the store comes back: the client should retry
    assert stored == 1


async def test_misbehaving_connection_never_disturbs_another_session(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    noisy_interview = await start_interview(http, question_count=1)
    calm_interview = await start_interview(http, question_count=3)
    calm = InterviewClient(ws_server.ws_url, calm_interview.token)
    await calm.connect()

    async def misbehave() -> list[int | None]:
        codes = []
        for attack in ("garbage", "oversized", "flood"):
            noisy = InterviewClient(ws_server.ws_url, noisy_interview.token)
            await noisy.connect()
            with contextlib.suppress(websockets.ConnectionClosed):
                if attack == "garbage":
                    for _ in range(20):
                        await noisy.send_raw("}{")
                elif attack == "oversized":
                    await noisy.send_raw("z" * 100_000)
                else:
                    for _ in range(300):
                        await noisy.send_raw({"type": "pong"})
            codes.append(await noisy.wait_closed())
        return codes

    async def interview() -> None:
        for number in (1, 2, 3):
            question = await calm.wait_type("question", number=number)
            for line in range(5):
                await calm.send("transcript", text=f"line {line}", startMs=line, endMs=line + 1)
            await calm.send("answer.submit", questionId=question["id"], text="calm answer")
        await calm.wait_for(lambda m: m.get("type") == "session.state" and m["status"] == "completed")

    codes, _ = await asyncio.gather(misbehave(), interview())
    assert await calm.wait_closed() == 4010
    assert codes == [4008, 1009, 4008]
    assert calm.outbox == {} and calm.acked == calm.sent_ids and not calm.rejected
    assert [m for m in calm.log if m.get("type") == "error"] == []
    assert sorted(await client_event_ids(ws_server, calm_interview.session_id)) == sorted(calm.sent_ids)


async def test_4008_comes_while_the_client_is_still_sending(http: httpx.AsyncClient, ws_server: ServerProcess) -> None:
    """The server reads the client's reply to its close at once (before, it sat behind a full queue for
    websockets' 10-second close timeout): the wait below is shorter than that timeout."""
    interview = await start_interview(http, question_count=1)
    # This client waits for the server to end the closing handshake (its own timeout is longer).
    ws = await websockets.connect(ws_server.ws_url, subprotocols=[SUBPROTOCOL], close_timeout=30)
    await ws.send(json.dumps({"type": "hello", "token": interview.token}))
    assert (await receive_json(ws))["type"] == "welcome"

    async def flood() -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:  # in bursts: more frames than the server's receive queue holds arrive after its close
                for _ in range(100):
                    await ws.send(json.dumps({"type": "event", "id": new_id(), "name": "tab.hidden"}))
                await asyncio.sleep(0)  # let this client read what the server sends

    sender = asyncio.create_task(flood())
    try:
        assert await close_code_of(ws, within=8) == 4008
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
