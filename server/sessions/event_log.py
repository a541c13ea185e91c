"""Appending to a session's event log: server-assigned seqs, idempotent client events.

Two write paths, one rule (a live connection sees a session's seqs in order):
the process holding the session's live connection (the owner) writes through
its `GroupWriter`; any other writer (an HTTP request or the sweeper on a process
without the connection) reserves exactly its seqs from the session's counter,
lists server seqs as pending until stored, and its events reach the owner's
connection through the change feed. See docs/architecture.md, "The data plane".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from server.sessions.clock import SYSTEM_CLOCK, Clock
from server.sessions.drafts import Draft, Written
from server.sessions.event_types import COMMAND_TYPES, TRANSCRIPT_TYPES, EventType
from server.sessions.group_writer import GroupWriter
from server.sessions.hub import Listener, SessionHub
from storage import EventDoc, EventRepository, EventSource, SeqCounter, SeqRange


@dataclass(frozen=True)
class NewClientEvent:
    """A client event to store; `client_event_id` makes retries harmless."""

    client_event_id: str
    type: EventType
    ts: datetime
    payload: dict[str, Any]


@dataclass
class AppendResult:
    accepted: list[EventDoc] = field(default_factory=list)
    duplicate_ids: list[str] = field(default_factory=list)
    seq_by_client_id: dict[str, int] = field(default_factory=dict)

    def add(self, client_event_id: str, seq: int, stored: EventDoc | None) -> None:
        """`stored` is the new document, or None when the id was stored before (with `seq`)."""
        self.seq_by_client_id[client_event_id] = seq
        if stored is None:
            self.duplicate_ids.append(client_event_id)
        else:
            self.accepted.append(stored)

    @property
    def last_seq(self) -> int:
        return max(self.seq_by_client_id.values(), default=0)


class PendingAppend:
    """Client events handed to the group writer (`EventLog.submit_client`): `result()` once `when_done` fires."""

    __slots__ = ("_drafts", "_futures", "_result")

    def __init__(self, drafts: list[Draft], futures: list[asyncio.Future[Written]], result: AppendResult) -> None:
        self._drafts = drafts
        self._futures = futures
        self._result = result

    def when_done(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from the event loop) once every event is stored or failed."""
        if not self._futures:
            asyncio.get_running_loop().call_soon(callback)
            return
        remaining = len(self._futures)

        def one_done(_future: asyncio.Future[Written]) -> None:
            nonlocal remaining
            remaining -= 1
            if not remaining:
                callback()

        for future in self._futures:
            future.add_done_callback(one_done)

    async def wait(self) -> None:
        if self._futures:
            await asyncio.wait(self._futures)

    def result(self) -> AppendResult:
        """What was stored; raises the first failure (every future's outcome is taken, none left unread)."""
        failure: BaseException | None = None
        for draft, future in zip(self._drafts, self._futures, strict=True):
            error = future.exception()
            if error is not None:
                failure = failure or error
            else:
                written = future.result()
                self._result.add(draft.client_event_id or "", written.seq, written.event)
        if failure is not None:
            raise failure
        return self._result


class _SessionLocks:
    """One asyncio.Lock per session while anyone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, session_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(session_id, (asyncio.Lock(), 0))
        self._locks[session_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[session_id]
            if users <= 1:
                del self._locks[session_id]
            else:
                self._locks[session_id] = (lock, users - 1)


class LiveSession:
    """A live connection's hold on its session in this process; `close()` once it ends."""

    def __init__(self, log: EventLog, session_id: str, unsubscribe: Callable[[], None]) -> None:
        self._log = log
        self._session_id = session_id
        self._unsubscribe = unsubscribe

    async def close(self) -> None:
        """Stop listening; once no connection of this process holds the session, store what it queued."""
        self._unsubscribe()
        if not self._log.hub.is_connected(self._session_id):
            await self._log.writer.disown(self._session_id)
        else:
            await self._log.writer.settle(self._session_id)


class EventLog:
    """Every write to `sessionEvents` goes through here (see the module docstring).

    A failed write leaves a gap in seqs, never a duplicate; readers must not
    assume seqs are contiguous.
    """

    def __init__(self, seqs: SeqCounter, events: EventRepository, hub: SessionHub, clock: Clock = SYSTEM_CLOCK) -> None:
        self._seqs = seqs
        self._events = events
        self.hub = hub
        self._clock = clock
        self._locks = _SessionLocks()
        self.writer = GroupWriter(events, seqs, clock, hub.publish)

    # ----- the live connection ----------------------------------------------------------

    def live(self, session_id: str, listener: Listener) -> LiveSession:
        """Deliver the session's new server events to `listener`, and write its events as the owner."""
        unsubscribe = self.hub.subscribe(session_id, listener)
        self.writer.own(session_id)
        return LiveSession(self, session_id, unsubscribe)

    def stored_elsewhere(self, event: EventDoc) -> None:
        """A server event another writer stored (the change feed); reaches a live connection in order."""
        self.writer.foreign(event)

    def reserved_elsewhere(self, session_id: str, pending: list[SeqRange]) -> None:
        self.writer.expect(session_id, pending)

    async def close(self) -> None:
        await self.writer.close()

    # ----- reading ----------------------------------------------------------------------

    async def high_water(self, session_id: str, at_least: int = 0) -> int:
        """The session's highest stored seq (its `lastSeq` lags while a live connection writes)."""
        return max(at_least, await self._events.highest_seq(session_id))

    async def has_event(self, session_id: str, type_: str) -> bool:
        return await self._events.has_type(session_id, type_)

    async def count_by_type(self, session_id: str) -> dict[str, int]:
        return await self._events.count_by_type(session_id)

    async def known_client_ids(self, session_id: str, client_event_ids: list[str]) -> dict[str, int]:
        return await self._events.known_client_ids(session_id, client_event_ids)

    async def events_after(
        self,
        session_id: str,
        after_seq: int = 0,
        *,
        limit: int | None = None,
        source: EventSource | None = None,
        types: list[str] | None = None,
    ) -> list[EventDoc]:
        return await self._events.events_after(session_id, after_seq, limit, source, types)

    async def transcripts_of(self, session_id: str, question_id: str) -> list[EventDoc]:
        return await self._events.transcripts_of(session_id, question_id, sorted(TRANSCRIPT_TYPES))

    async def latest_named_event(self, session_id: str, name: str) -> EventDoc | None:
        return await self._events.latest_named_event(session_id, name)

    async def mark_not_applied(self, event: EventDoc, code: str, message: str) -> None:
        await self._events.mark_not_applied(event.session_id, event.seq, code, message)

    async def mark_applied(self, event: EventDoc) -> None:
        await self._events.mark_applied(event.session_id, event.seq)

    async def pending_commands(self, session_id: str) -> list[EventDoc]:
        """Commands stored but not applied yet (this request's, or a crashed one's), in seq order."""
        return await self._events.pending_commands(session_id)

    # ----- writing ----------------------------------------------------------------------

    async def append_initial(self, session_id: str, entries: list[tuple[EventType, dict[str, Any]]]) -> list[EventDoc]:
        """The first server events of a session (see `append_initial_many`)."""
        return (await self.append_initial_many([(session_id, entries)]))[0]

    async def append_initial_many(
        self, sessions: list[tuple[str, list[tuple[EventType, dict[str, Any]]]]]
    ) -> list[list[EventDoc]]:
        """The first server events of new sessions, each inserted with `lastSeq == seqReserved == len(entries)`.

        Seqs 1..n were reserved by each session's insert itself, and all the sessions'
        events go in one `insert_many`: concurrent start-sessions share the round trip.
        """
        now = self._clock.now()
        per_session = [
            [
                EventDoc(
                    session_id=session_id,
                    seq=i + 1,
                    type=type_,
                    ts=now,
                    payload=payload,
                    source=EventSource.SERVER,
                    received_at=now,
                )
                for i, (type_, payload) in enumerate(entries)
            ]
            for session_id, entries in sessions
        ]
        events = [event for session_events in per_session for event in session_events]
        if events:
            await self._events.insert_many(events, slice_size=None)
        for event in events:
            self._publish(event)
        return per_session

    async def discard_initial(self, session_ids: list[str]) -> None:
        """Remove the first events of sessions whose insert failed (their ids were fresh: nobody else has them)."""
        if session_ids:
            await self._events.delete_for_sessions(session_ids)

    async def append_server(self, session_id: str, type_: EventType, payload: dict[str, Any]) -> EventDoc:
        """Persist one server event, then deliver it to the live connection."""
        now = self._clock.now()
        draft = Draft(session_id, type_, now, payload, EventSource.SERVER)
        if self.writer.owns(session_id):
            (written,) = await self.writer.write([draft])
            assert written.event is not None  # server events have no client id to collide on
            return written.event
        async with self._locks.hold(session_id):
            seqs = await self._seqs.reserve_pending(session_id, 1, now)
            event = draft.document(seqs.first, now)
            stored = 0
            try:
                await self._events.insert_many([event])
                stored = event.seq
            finally:
                # Best effort: an entry left behind expires (PENDING_TTL) and holds no one for long.
                with contextlib.suppress(Exception):
                    await self._seqs.settle_pending(session_id, seqs, stored, now)
            self._publish(event)
            return event

    async def append_client(
        self, session_id: str, new_events: list[NewClientEvent], *, commands_pending: bool = True
    ) -> AppendResult:
        """Persist client events exactly once each; returns what was new and what was not.

        Commands are stored pending (`applyPending`) when `commands_pending`: the caller applies
        them and settles each; one a crash left pending is applied by the next caller.
        """
        result = AppendResult()
        drafts = self._client_drafts(session_id, new_events, commands_pending, result)
        if not drafts:
            return result
        if self.writer.owns(session_id):
            for draft, written in zip(drafts, await self.writer.write(drafts), strict=True):
                result.add(draft.client_event_id or "", written.seq, written.event)
            return result
        async with self._locks.hold(session_id):
            await self._append_client_directly(session_id, drafts, result)
        return result

    def submit_client(self, session_id: str, new_events: list[NewClientEvent]) -> PendingAppend:
        """`append_client` for a session this process writes (`writer.owns`), without waiting; no commands."""
        result = AppendResult()
        drafts = self._client_drafts(session_id, new_events, False, result)
        return PendingAppend(drafts, self.writer.submit(drafts) if drafts else [], result)

    @staticmethod
    def _client_drafts(
        session_id: str, new_events: list[NewClientEvent], commands_pending: bool, result: AppendResult
    ) -> list[Draft]:
        """One draft per client event id (repeats within the batch are duplicates of the first)."""
        unique: dict[str, NewClientEvent] = {}
        for event in new_events:
            if event.client_event_id in unique:
                result.duplicate_ids.append(event.client_event_id)
            else:
                unique[event.client_event_id] = event
        return [
            Draft(
                session_id,
                e.type,
                e.ts,
                e.payload,
                EventSource.CLIENT,
                e.client_event_id,
                apply_pending=commands_pending and e.type in COMMAND_TYPES,
            )
            for e in unique.values()
        ]

    async def _append_client_directly(self, session_id: str, drafts: list[Draft], result: AppendResult) -> None:
        """Without the live connection: look up retries first (no seq is spent on them), then insert."""
        known = await self._events.known_client_ids(session_id, [d.client_event_id or "" for d in drafts])
        for client_event_id, seq in known.items():
            result.add(client_event_id, seq, None)
        fresh = [d for d in drafts if d.client_event_id not in known]
        if not fresh:
            return
        now = self._clock.now()
        reservation = await self._seqs.reserve_block(session_id, len(fresh), now)
        documents = [d.document(reservation.seqs.first + i, now) for i, d in enumerate(fresh)]
        rejected = await self._events.insert_many(documents)
        if rejected.taken_seqs:  # the counter and the log disagree: never ack what was not stored
            raise RuntimeError(f"seqs of session {session_id} were taken")
        raced = {}
        if rejected.known_client_ids:  # a concurrent writer stored the same ids first (possible across processes)
            ids = [documents[i].client_event_id or "" for i in rejected.known_client_ids]
            raced = await self._events.known_client_ids(session_id, ids)
        stored = 0
        for index, document in enumerate(documents):
            client_event_id = document.client_event_id or ""
            if index in rejected.known_client_ids:
                if client_event_id in raced:
                    result.add(client_event_id, raced[client_event_id], None)
            else:
                result.add(client_event_id, document.seq, document)
                stored = document.seq
        if stored:
            await self._seqs.raise_high_water({session_id: stored}, now)

    def _publish(self, event: EventDoc) -> None:
        """A stored event written without the group writer: in order through it when this process owns the session."""
        if self.writer.owns(event.session_id):
            self.writer.foreign(event)
        else:
            self.hub.publish(event)
