"""Group commit and cross-writer ordering on the real wire-protocol store.

The process holding a session's live connection writes through its GroupWriter;
another writer (another process, here a second EventLog on the same database)
reserves its own seqs, and its events reach the owner through the change feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from server.sessions import EventType, NewClientEvent, SessionHub
from server.sessions.event_log import EventLog
from server.sessions.group_writer import GroupWriter
from storage import (
    Change,
    Database,
    EventDoc,
    EventStored,
    Repositories,
    SeqsReserved,
    SessionDoc,
    SessionStatus,
    ensure_indexes,
)
from tests.clock import ManualClock


@dataclass
class Store:
    database: Database
    repos: Repositories
    clock: ManualClock

    def log(self) -> EventLog:
        return EventLog(self.repos.seqs, self.repos.events, SessionHub(), self.clock)

    async def new_session(self, last_seq: int = 0) -> str:
        now = self.clock.now()
        session_id = str(uuid.uuid4())
        await self.repos.sessions.insert(
            SessionDoc(
                session_id=session_id,
                application_id=f"a-{session_id}",
                candidate_id="c",
                status=SessionStatus.IN_PROGRESS,
                started_at=now,
                created_at=now,
                updated_at=now,
                last_seq=last_seq,
                seq_reserved=last_seq,
            )
        )
        return session_id


@pytest.fixture
async def store(mongodb_url: str) -> AsyncIterator[Store]:
    database = Database(mongodb_url, f"test_{uuid.uuid4().hex[:12]}")
    await ensure_indexes(database)
    try:
        yield Store(database, database.repositories(), ManualClock())
    finally:
        await database.close()


def transcript(text: str, id_: str | None = None) -> NewClientEvent:
    return NewClientEvent(
        client_event_id=id_ or str(uuid.uuid4()),
        type=EventType.TRANSCRIPT,
        ts=ManualClock().now(),
        payload={"text": text, "startMs": 0, "endMs": 1},
    )


async def test_live_sessions_share_one_batch_and_keep_their_own_order(store: Store) -> None:
    log = store.log()
    sessions = [await store.new_session() for _ in range(10)]
    seen: dict[str, list[EventDoc]] = {sid: [] for sid in sessions}
    live = [log.live(sid, seen[sid].append) for sid in sessions]
    await asyncio.gather(
        *(log.append_server(sid, EventType.MEDIA_STATE, {"state": str(i)}) for sid in sessions for i in range(3)),
        *(log.append_client(sid, [transcript(str(i))]) for sid in sessions for i in range(3)),
    )
    # Everything was queued before the writer ran: one batch, one insert, and one block
    # reservation per session.
    assert log.writer.stats == {"batches": 1, "events": 60, "round_trips": 1 + len(sessions)}
    for handle in live:
        await handle.close()  # raises each session's lastSeq
    for sid in sessions:
        stored = await log.events_after(sid)
        assert len(stored) == 6 and len({e.seq for e in stored}) == 6
        server_seqs = [e.seq for e in stored if e.type == EventType.MEDIA_STATE]
        assert [e.seq for e in seen[sid]] == server_seqs  # in order, and client events are not echoed
        session = await store.repos.sessions.get(sid)
        assert session is not None and session.last_seq == max(e.seq for e in stored)
    await log.close()


async def test_a_retried_client_event_is_caught_by_the_unique_index(store: Store) -> None:
    log = store.log()
    session_id = await store.new_session()
    log.live(session_id, lambda _event: None)
    one = transcript("one")
    first = await log.append_client(session_id, [one])
    again = await log.append_client(session_id, [one, transcript("two")])
    assert again.duplicate_ids == [one.client_event_id]
    assert again.seq_by_client_id[one.client_event_id] == first.seq_by_client_id[one.client_event_id]
    assert [e.payload["text"] for e in again.accepted] == ["two"]
    stored = await log.events_after(session_id)
    assert [e.payload["text"] for e in stored] == ["one", "two"]  # the retry spent a seq, stored nothing
    await log.close()


async def test_the_lookup_of_retried_ids_across_sessions_answers_only_the_pairs_asked(store: Store) -> None:
    # Client ids are per session: the same id in two sessions names two different events.
    log = store.log()
    first, second = await store.new_session(), await store.new_session()
    stored_first = await log.append_client(first, [transcript("a", "shared"), transcript("b", "own")])
    stored_second = await log.append_client(second, [transcript("c", "shared")])
    known = await store.repos.events.known_client_ids_of({first: ["own"], second: ["shared", "missing"]})
    assert known == {
        (first, "own"): stored_first.seq_by_client_id["own"],
        (second, "shared"): stored_second.seq_by_client_id["shared"],
    }
    await log.close()


async def test_a_session_stored_before_the_seq_counter_existed_continues_after_last_seq(store: Store) -> None:
    log = store.log()
    session_id = await store.new_session(last_seq=5)
    await store.database.collections.sessions.update_one({"sessionId": session_id}, {"$unset": {"seqReserved": 1}})
    log.live(session_id, lambda _event: None)
    event = await log.append_server(session_id, EventType.MEDIA_STATE, {"state": "connected"})
    assert event.seq == 6
    await log.close()


async def test_writes_queued_before_the_connection_ends_are_stored_before_it_lets_go(store: Store) -> None:
    log = store.log()
    session_id = await store.new_session()
    live = log.live(session_id, lambda _event: None)
    writes = [asyncio.create_task(log.append_client(session_id, [transcript(str(i))])) for i in range(5)]
    await asyncio.sleep(0)  # queued, not yet stored
    await live.close()
    assert not log.writer.owns(session_id)
    assert len(await log.events_after(session_id)) == 5  # stored before close() returned
    assert all(len(result.accepted) == 1 for result in await asyncio.gather(*writes))
    await log.close()


async def test_another_writers_events_reach_the_owner_in_seq_order(store: Store) -> None:
    """Two writers on one session at once: the owner's connection sees every server seq, ascending."""
    owner, other = store.log(), store.log()
    session_id = await store.new_session()
    seen: list[EventDoc] = []
    all_seen = asyncio.Event()

    def listen(event: EventDoc) -> None:
        seen.append(event)
        if len(seen) == 30:
            all_seen.set()

    owner.live(session_id, listen)

    def on_change(change: Change) -> None:
        if isinstance(change, EventStored):
            owner.stored_elsewhere(change.event)
        elif isinstance(change, SeqsReserved):
            owner.reserved_elsewhere(change.session_id, change.pending)

    feed = store.database.change_feed(on_change, owner.writer.owns)
    watching = asyncio.create_task(feed.run())
    try:
        await asyncio.wait_for(feed.opened.wait(), 10)

        async def write(log: EventLog, name: str) -> None:
            for i in range(15):
                await log.append_server(session_id, EventType.MEDIA_STATE, {"state": f"{name}{i}"})

        await asyncio.gather(write(owner, "own"), write(other, "other"))
        await asyncio.wait_for(all_seen.wait(), 20)
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        await owner.close()
        await other.close()
    seqs = [e.seq for e in seen]
    stored = [e.seq for e in await owner.events_after(session_id)]
    assert seqs == sorted(seqs) == stored  # every seq once, ascending, none missing
    assert {e.payload["state"][:3] for e in seen} == {"own", "oth"}


async def test_an_event_stored_elsewhere_between_two_blocks_is_delivered_before_the_second(store: Store) -> None:
    """Another writer stores (and settles) a seq just before the owner reserves its next block,
    and the change feed has not brought it (here there is none): the owner reads it from the
    store before it delivers from that block, so the connection does not skip it for good."""
    owner, other = store.log(), store.log()
    owner.writer = GroupWriter(store.repos.events, store.repos.seqs, store.clock, owner.hub.publish, block=2)
    session_id = await store.new_session()
    seen: list[EventDoc] = []
    owner.live(session_id, seen.append)
    await owner.append_server(session_id, EventType.MEDIA_STATE, {"state": "own0"})
    elsewhere = await other.append_server(session_id, EventType.MEDIA_STATE, {"state": "other"})
    for i in range(1, 7):  # blocks of two: at least two are reserved after the other writer's seq
        await owner.append_server(session_id, EventType.MEDIA_STATE, {"state": f"own{i}"})
    stored = [e.seq for e in await owner.events_after(session_id)]
    await owner.close()
    await other.close()
    assert elsewhere.seq in stored
    assert [e.seq for e in seen] == stored  # every seq once, ascending: the other writer's included


async def test_concurrent_reservations_and_claims_never_share_a_seq(store: Store) -> None:
    """The counter is a read plus a compare-and-set: racing writers retry, none is handed a taken seq."""
    session_id = await store.new_session(last_seq=3)
    now = store.clock.now()
    seqs, claims = store.repos.seqs, store.repos.connections
    pending = [asyncio.create_task(seqs.reserve_pending(session_id, 2, now)) for _ in range(12)]
    blocks = [asyncio.create_task(seqs.reserve_block(session_id, 5, now)) for _ in range(6)]
    claimed = [asyncio.create_task(claims.claim(session_id, f"conn-{i}", now, now, 7)) for i in range(4)]
    await asyncio.gather(*pending, *blocks, *claimed)  # all at once: they race
    ranges = [t.result() for t in pending]
    reservations = [t.result() for t in blocks]
    claim_results = [t.result() for t in claimed]
    taken = [s for r in ranges for s in range(r.first, r.last + 1)]
    taken += [s for r in reservations for s in range(r.seqs.first, r.seqs.last + 1)]
    taken += [s for c in claim_results for s in range(c.seqs.first, c.seqs.last + 1)]
    assert sorted(taken) == list(range(4, 4 + 12 * 2 + 6 * 5 + 4 * 7))  # disjoint and gap-free
    assert sorted(c.epoch for c in claim_results) == [1, 2, 3, 4]  # each claim saw the one before it
    document = await store.database.collections.sessions.find_one({"sessionId": session_id})
    assert document is not None and document["seqReserved"] == 3 + len(taken)
