"""The channel's stream over a real WebSocket: question flow, acks, idempotent resends, replay, timers, tokens."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.sessions import EventType, SessionHub
from server.sessions.event_log import EventLog
from storage import Database
from tests.support import (
    Interview,
    ServerProcess,
    running_server,
    set_time_limits,
    start_interview,
    store_of,
    tuned_server,
)
from tests.test_sentry import EnvelopeSink, sentry_sink  # noqa: F401 - the fixture is used below
from tests.ws_client import InterviewClient

ICE_SERVERS = '[{"urls": ["stun:stun.example.org:3478"]}]'


@pytest.fixture(scope="module")
def ws_server(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with tuned_server(mongodb_url, tmp_path_factory.mktemp("ws-stream"), ice_servers=ICE_SERVERS) as process:
        yield process


@pytest.fixture
async def http(ws_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ws_server.base_url, timeout=15) as client:
        yield client


async def stored_events(server: ServerProcess, session_id: str) -> list[dict[str, Any]]:
    async with store_of(server) as db:
        return await db.sessionEvents.find({"sessionId": session_id}).sort("seq", 1).to_list()  # type: ignore[no-any-return]


async def at_first_question(
    http: httpx.AsyncClient, server: ServerProcess, question_count: int
) -> tuple[Interview, InterviewClient, dict[str, Any]]:
    """A started interview, its connected client, and the first question it was asked."""
    interview = await start_interview(http, question_count=question_count)
    client = InterviewClient(server.ws_url, interview.token)
    await client.connect()
    return interview, client, await client.wait_type("question", number=1)


def acks_naming(client: InterviewClient, id: str) -> int:
    return sum(1 for m in client.log if m.get("type") == "ack" and id in m["ids"])


def completed(message: dict[str, Any]) -> bool:
    return message.get("type") == "session.state" and message.get("status") == "completed"


async def test_full_interview_streams_in_order_and_stores_every_message_once(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    interview = await start_interview(http, question_count=3)
    client = InterviewClient(ws_server.ws_url, interview.token)
    welcome = await client.connect()
    assert welcome["iceServers"] == [{"urls": ["stun:stun.example.org:3478"]}]
    for number in (1, 2, 3):
        question = await client.wait_type("question", number=number)
        assert question["total"] == 3
        await client.send("answer.start", questionId=question["id"])
        await client.send("transcript", text=f"answer {number}", startMs=0, endMs=1500, questionId=question["id"])
        await client.send("event", name="mic.muted", payload={"muted": False})
        await client.send("answer.submit", questionId=question["id"], text=f"answer {number}")
    final = await client.wait_for(completed)
    assert await client.wait_closed() == 4010
    assert final["summary"] == {
        "questionsTotal": 3,
        "questionsAnswered": 3,
        "answersSubmitted": 3,
        "transcripts": 3,
        "duration": final["summary"]["duration"],
    }
    assert client.outbox == {} and client.acked == client.sent_ids
    types = [m["type"] for m in client.messages]
    assert types == ["session.state", "question"] + ["answer.recorded", "question"] * 2 + [
        "answer.recorded",
        "session.state",
    ]
    events = await stored_events(ws_server, interview.session_id)
    client_events = [e for e in events if e["source"] == "client"]
    assert sorted(e["clientEventId"] for e in client_events) == sorted(client.sent_ids)
    assert [e["seq"] for e in events if e["source"] == "server"] == [m["seq"] for m in client.messages]
    assert client.duplicates == 0


async def test_question_next_skips_without_recording_an_answer(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    _, client, first = await at_first_question(http, ws_server, 2)
    await client.send("question.next", questionId=first["id"])
    second = await client.wait_type("question", number=2)
    await client.send("question.next")  # no questionId: the current one
    await client.wait_for(completed)
    await client.wait_closed()
    assert second["id"] != first["id"]
    assert client.of_type("answer.recorded") == []


async def test_resent_id_is_acked_again_but_stored_once(http: httpx.AsyncClient, ws_server: ServerProcess) -> None:
    interview, client, question = await at_first_question(http, ws_server, 2)
    transcript = await client.send("transcript", text="once", startMs=0, endMs=10)
    await client.wait_acked(transcript)
    answer_id = str(uuid.uuid4())
    for _ in range(3):  # the same answer three times on one connection (copies may share one ack)
        await client.send("answer.submit", id=answer_id, questionId=question["id"], text="same")
    await client.wait_acked(answer_id)
    await client.wait_type("question", number=2)
    acked_before = acks_naming(client, answer_id)
    await client.send("answer.submit", id=answer_id, questionId=question["id"], text="same")
    await client.wait_for(lambda _m: acks_naming(client, answer_id) > acked_before)  # acked again
    await client.wait_type("question", number=2)
    await client.close()

    again = InterviewClient(ws_server.ws_url, interview.token)
    again.last_seq = client.last_seq
    again.outbox = {
        transcript: {"type": "transcript", "id": transcript, "text": "once", "startMs": 0, "endMs": 10},
        answer_id: {"type": "answer.submit", "id": answer_id, "questionId": question["id"], "text": "same"},
    }
    await again.connect()  # pendingIds: both already stored, acked straight after the welcome
    await again.wait_acked(transcript, answer_id)
    await again.close()
    events = await stored_events(ws_server, interview.session_id)
    assert [e["clientEventId"] for e in events if e["source"] == "client"] == [transcript, answer_id]
    assert [e["type"] for e in events if e["type"] == "answer.recorded"] == ["answer.recorded"]


async def test_reconnect_replays_what_was_missed_exactly_once(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    interview, client, question = await at_first_question(http, ws_server, 3)
    seen_before = client.last_seq
    answer = await client.send("answer.submit", questionId=question["id"], text="then the line drops")
    await client.abort()  # cut before reading anything the answer caused
    assert client.last_seq == seen_before

    await client.connect()
    await client.wait_acked(answer)
    recorded = await client.wait_type("answer.recorded")
    second = await client.wait_type("question", number=2)
    await client.close()
    assert recorded["answerId"] == answer and recorded["seq"] < second["seq"]
    events = await stored_events(ws_server, interview.session_id)
    assert sorted(client.seqs) == [e["seq"] for e in events if e["source"] == "server"]
    assert [e["clientEventId"] for e in events if e["source"] == "client"] == [answer]


async def test_stale_last_seq_replays_duplicates_that_the_client_drops(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    _, client, question = await at_first_question(http, ws_server, 2)
    await client.send("answer.submit", questionId=question["id"], text="answer")
    await client.wait_type("question", number=2)
    await client.close()
    unique_before = list(client.messages)

    await client.connect(last_seq=0)  # a client that lost its lastSeq gets everything again
    await client.wait_for(lambda m: bool(m.get("duplicate")) and m.get("type") == "question" and m["number"] == 2)
    await client.close()
    assert client.duplicates == len(unique_before)
    assert client.messages == unique_before


async def test_pause_resume_and_complete_from_the_client(http: httpx.AsyncClient, ws_server: ServerProcess) -> None:
    interview = await start_interview(http, question_count=3)
    client = InterviewClient(ws_server.ws_url, interview.token)
    await client.connect()
    await client.wait_type("question", number=1)
    pause = await client.send("session.pause", reason="doorbell")
    paused = await client.wait_type("session.state", status="paused")
    await client.send("session.pause", id=pause)  # a resend changes nothing
    await client.wait_acked(pause)
    await client.send("session.resume")
    resumed = await client.wait_type("session.state", status="in_progress", event="session.resumed")
    await client.send("session.complete")
    final = await client.wait_for(completed)
    assert await client.wait_closed() == 4010
    assert paused["previous"] == "in_progress" and paused["reason"] == "client"
    assert resumed["previous"] == "paused"
    assert final["summary"]["questionsAnswered"] == 0
    events = await stored_events(ws_server, interview.session_id)
    assert [e["type"] for e in events if e["source"] == "client"] == [
        "session.pause",
        "session.resume",
        "session.complete",
    ]
    assert [e["type"] for e in events if e["type"].startswith("session.")].count("session.paused") == 1


async def test_a_hello_between_an_end_and_its_event_replays_the_event(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    # A move to an end stores the status first and its event just after (lifecycle.move, here on
    # "another process": the test). A last hello in between must not close without that event.
    interview, client, question = await at_first_question(http, ws_server, 2)
    await client.close()
    # Said while disconnected: named in the hello's pendingIds, it must be settled before the close.
    said = await client.send("transcript", text="the last words", startMs=0, endMs=900, questionId=question["id"])
    database = Database(ws_server.mongodb_url, ws_server.env["MONGODB_DB"])
    writer = EventLog(database.repositories().seqs, database.repositories().events, SessionHub())
    try:
        await database.collections.sessions.update_one(
            {"sessionId": interview.session_id}, {"$set": {"status": "completed", "completedAt": datetime.now(UTC)}}
        )
        hello = asyncio.create_task(client.connect())
        await asyncio.sleep(0.5)
        assert not hello.done()  # the welcome waits for the end's event
        await writer.append_server(
            interview.session_id, EventType.SESSION_COMPLETED, {"status": "completed", "from": "in_progress"}
        )
        welcome = await hello
        assert welcome["status"] == "completed"
        final = await client.wait_for(completed)
        assert final["event"] == "session.completed"
        await client.wait_acked(said)
        assert await client.wait_closed() == 4010
    finally:
        await writer.close()
        await database.close()


async def test_question_time_limit_runs_server_side(http: httpx.AsyncClient, ws_server: ServerProcess) -> None:
    interview = await start_interview(http, question_count=2)
    async with store_of(ws_server) as db:
        await set_time_limits(db, interview.session_id, 1)
    client = InterviewClient(ws_server.ws_url, interview.token)
    await client.connect()
    final = await client.wait_for(completed)
    assert await client.wait_closed() == 4010
    flow = [(m["type"], m.get("number")) for m in client.messages if m["type"] != "session.state"]
    assert flow == [("question", 1), ("question.timeout", 1), ("question", 2), ("question.timeout", 2)]
    assert final["reason"] == "all_questions_answered"


async def test_answer_after_time_out_is_recorded_for_its_question_but_does_not_advance(
    http: httpx.AsyncClient, ws_server: ServerProcess
) -> None:
    interview = await start_interview(http, question_count=3)
    async with store_of(ws_server) as db:
        await set_time_limits(db, interview.session_id, 1)
    client = InterviewClient(ws_server.ws_url, interview.token)
    await client.connect()
    first = await client.wait_type("question", number=1)
    await client.wait_type("question.timeout", number=1)
    late = await client.send("answer.submit", questionId=first["id"], text="too late")
    await client.wait_acked(late)
    await client.wait_for(completed)
    await client.wait_closed()
    # The answer was on its way when the time ran out: it is that question's answer, the flow stays put.
    assert [(m["questionId"], m["text"]) for m in client.of_type("answer.recorded")] == [(first["id"], "too late")]
    assert [m["number"] for m in client.of_type("question.timeout")] == [1, 2, 3]


async def test_token_refresh_is_persisted_without_the_token(mongodb_url: str, tmp_path: Path) -> None:
    env = {
        "mongodb_db": f"test_{uuid.uuid4().hex[:12]}",
        "session_token_ttl_seconds": "60",
        "token_refresh_before_seconds": "59",
    }
    with running_server(mongodb_url, tmp_path, **env) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
            interview = await start_interview(http, question_count=1)
        client = InterviewClient(server.ws_url, interview.token)
        await client.connect()
        refresh = await client.wait_type("token.refresh")
        await client.close()
        assert refresh["token"] != interview.token and refresh["expiresAt"].endswith("Z")
        fresh = InterviewClient(server.ws_url, refresh["token"])
        welcome = await fresh.connect(last_seq=refresh["seq"])
        await fresh.close()
        assert welcome["sessionId"] == interview.session_id
        stored = [e for e in await stored_events(server, interview.session_id) if e["type"] == "token.refresh"]
    assert stored and stored[0]["seq"] == refresh["seq"]
    assert set(stored[0]["payload"]) == {"expiresAt"}


async def test_tracing_client_events_reach_sentry_with_the_session_tag(
    mongodb_url: str,
    tmp_path: Path,
    sentry_sink: tuple[str, EnvelopeSink],  # noqa: F811
) -> None:
    dsn, sink = sentry_sink
    env = {"mongodb_db": f"test_{uuid.uuid4().hex[:12]}", "sentry_dsn": dsn}
    with running_server(mongodb_url, tmp_path, **env) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
            interview = await start_interview(http, question_count=1)
        client = InterviewClient(server.ws_url, interview.token)
        await client.connect()
        event = await client.send("event", name="interview.session.offline_mode", payload={"reason": "test"})
        await client.wait_acked(event)
        await client.close()
        item = sink.wait_for(
            lambda i: (i.get("message") or (i.get("logentry") or {}).get("message")) == "interview.session.offline_mode"
        )
    assert item is not None, "the client event did not reach the DSN host"
    assert item["tags"]["session_id"] == interview.session_id
    assert item["tags"]["source"] == "client"
    assert interview.token not in str(sink.items)
