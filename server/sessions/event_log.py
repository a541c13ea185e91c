"""Appending to a session's event log: server-assigned seqs, idempotent client events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from server.sessions.clock import SYSTEM_CLOCK, Clock
from server.sessions.event_types import COMMAND_TYPES, TRANSCRIPT_TYPES, EventType
from server.sessions.hub import SessionHub
from storage import EventDoc, EventRepository, EventSource, SessionRepository


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


class EventLog:
    """Every write to `sessionEvents` goes through here.

    Seqs come from an atomic counter in the session document. Within one process a
    per-session lock keeps "allocate, insert, publish" in seq order, so a live
    listener sees seqs ascending. A failed insert leaves a gap in seqs, never a
    duplicate; readers must not assume seqs are contiguous.
    """

    def __init__(
        self, sessions: SessionRepository, events: EventRepository, hub: SessionHub, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._sessions = sessions
        self._events = events
        self._hub = hub
        self._clock = clock
        self._locks = _SessionLocks()

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

    async def append_initial(self, session_id: str, entries: list[tuple[EventType, dict[str, Any]]]) -> list[EventDoc]:
        """The first server events of a session inserted with `lastSeq == len(entries)`.

        Seqs 1..n were reserved by the insert itself, which saves a counter round trip
        per event on the start-session hot path.
        """
        async with self._locks.hold(session_id):
            now = self._clock.now()
            events = [
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
            await self._events.insert_many(events)
            for event in events:
                self._hub.publish(event)
            return events

    async def append_server(self, session_id: str, type_: EventType, payload: dict[str, Any]) -> EventDoc:
        """Persist one server event, then publish it to the live connection."""
        async with self._locks.hold(session_id):
            now = self._clock.now()
            seq = await self._sessions.allocate_seqs(session_id, 1, now)
            event = EventDoc(
                session_id=session_id,
                seq=seq,
                type=type_,
                ts=now,
                payload=payload,
                source=EventSource.SERVER,
                received_at=now,
            )
            await self._events.insert_many([event])
            self._hub.publish(event)
            return event

    async def append_client(
        self, session_id: str, new_events: list[NewClientEvent], *, commands_pending: bool = True
    ) -> AppendResult:
        """Persist client events exactly once each; returns what was new and what was not.

        Commands are stored pending (`applyPending`) when `commands_pending`: the caller applies
        them and settles each; one a crash left pending is applied by the next caller.
        """
        result = AppendResult()
        unique: dict[str, NewClientEvent] = {}
        for event in new_events:
            if event.client_event_id in unique:
                result.duplicate_ids.append(event.client_event_id)
            else:
                unique[event.client_event_id] = event
        if not unique:
            return result
        async with self._locks.hold(session_id):
            known = await self._events.known_client_ids(session_id, list(unique))
            result.seq_by_client_id.update(known)
            result.duplicate_ids.extend(known)
            fresh = [e for cid, e in unique.items() if cid not in known]
            if not fresh:
                return result
            now = self._clock.now()
            last = await self._sessions.allocate_seqs(session_id, len(fresh), now)
            documents = [
                EventDoc(
                    session_id=session_id,
                    seq=last - len(fresh) + i + 1,
                    type=e.type,
                    ts=e.ts,
                    payload=e.payload,
                    source=EventSource.CLIENT,
                    client_event_id=e.client_event_id,
                    received_at=now,
                    apply_pending=session_id if commands_pending and e.type in COMMAND_TYPES else None,
                )
                for i, e in enumerate(fresh)
            ]
            rejected = await self._events.insert_many(documents)
            if rejected:  # a concurrent writer stored the same ids first (possible across processes)
                raced = await self._events.known_client_ids(
                    session_id, [documents[i].client_event_id or "" for i in rejected]
                )
                result.seq_by_client_id.update(raced)
                result.duplicate_ids.extend(raced)
            for index, document in enumerate(documents):
                if index not in rejected:
                    result.accepted.append(document)
                    result.seq_by_client_id[document.client_event_id or ""] = document.seq
            return result
