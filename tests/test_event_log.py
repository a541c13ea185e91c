"""The event log on the real wire-protocol store: seqs, exactly-once client events, live publication order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from server.sessions import EventType, NewClientEvent, SessionHub
from server.sessions.event_log import EventLog
from storage import Database, EventDoc, SessionDoc, SessionStatus, ensure_indexes
from tests.clock import ManualClock


@pytest.fixture
async def log_and_hub(mongodb_url: str) -> AsyncIterator[tuple[EventLog, SessionHub, str]]:
    database = Database(mongodb_url, f"test_{uuid.uuid4().hex[:12]}")
    await ensure_indexes(database)
    repos = database.repositories()
    clock = ManualClock()
    session_id = str(uuid.uuid4())
    now = clock.now()
    await repos.sessions.insert(
        SessionDoc(
            session_id=session_id,
            application_id="a",
            candidate_id="c",
            status=SessionStatus.IN_PROGRESS,
            started_at=now,
            created_at=now,
            updated_at=now,
        )
    )
    hub = SessionHub()
    try:
        yield EventLog(repos.seqs, repos.events, hub, clock), hub, session_id
    finally:
        await database.close()


def transcript(text: str, id_: str | None = None) -> NewClientEvent:
    return NewClientEvent(
        client_event_id=id_ or str(uuid.uuid4()),
        type=EventType.TRANSCRIPT,
        ts=ManualClock().now(),
        payload={"text": text, "startMs": 0, "endMs": 1},
    )


async def test_client_events_are_stored_once_whatever_the_retries(
    log_and_hub: tuple[EventLog, SessionHub, str],
) -> None:
    log, _hub, session_id = log_and_hub
    one, two = transcript("one"), transcript("two")
    first = await log.append_client(session_id, [one, two, one])
    again = await log.append_client(session_id, [two, transcript("three")])
    assert [e.payload["text"] for e in first.accepted] == ["one", "two"]
    assert first.duplicate_ids == [one.client_event_id]
    assert again.duplicate_ids == [two.client_event_id]
    assert again.seq_by_client_id[two.client_event_id] == first.seq_by_client_id[two.client_event_id]
    stored = await log.events_after(session_id)
    assert [e.payload["text"] for e in stored] == ["one", "two", "three"]
    assert [e.seq for e in stored] == sorted({e.seq for e in stored})


async def test_concurrent_writers_publish_server_events_in_seq_order(
    log_and_hub: tuple[EventLog, SessionHub, str],
) -> None:
    """Only server events go to the live connection (the client has its own); never out of order."""
    log, hub, session_id = log_and_hub
    seen: list[EventDoc] = []
    hub.subscribe(session_id, seen.append)
    await asyncio.gather(
        *(log.append_server(session_id, EventType.MEDIA_STATE, {"state": str(i)}) for i in range(10)),
        *(log.append_client(session_id, [transcript(str(i))]) for i in range(10)),
    )
    seqs = [e.seq for e in seen]
    assert len(seqs) == 10 and seqs == sorted(seqs) and len(set(seqs)) == 10
    stored = await log.events_after(session_id)
    assert len({e.seq for e in stored}) == 20
    assert [e.seq for e in stored if e.type == EventType.MEDIA_STATE] == seqs


async def test_initial_events_take_the_seqs_reserved_by_the_insert(
    log_and_hub: tuple[EventLog, SessionHub, str],
) -> None:
    log, _hub, session_id = log_and_hub
    events = await log.append_initial(session_id, [(EventType.SESSION_STARTED, {}), (EventType.QUESTION, {})])
    assert [e.seq for e in events] == [1, 2]
