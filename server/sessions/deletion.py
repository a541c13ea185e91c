"""Deleting a session with its events and recording, on request or by retention, never half done.

A deletion writes the session's tombstone first (`deleting`, with who asked), then
removes the session document (so every read answers 404 from then on and nothing can
attach to it), its events and its recording files, and marks the tombstone `deleted`.
Each step is idempotent, so `finish_pending` (at start-up and in the housekeeping loop)
completes any deletion a crash interrupted. Deletions finished in the last
`LATE_WRITE_SECONDS` are swept once more: an event a live connection stored while its
session was being deleted goes too. The tombstone's insert reaches every process
through the change feed, which closes the session's live socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from datetime import timedelta

from server.sessions.clock import Clock
from server.sessions.errors import session_not_found
from server.sessions.principals import Principal, Role, SessionPrincipal
from storage import Actor, Repositories, SessionDoc, TombstoneDoc, TombstoneState

logger = logging.getLogger(__name__)

LATE_WRITE_SECONDS = 600
BATCH = 200
SYSTEM = Actor(role="system", subject="retention")


def may_delete(principal: Principal, session: SessionDoc) -> bool:
    """Admins may delete any session; a candidate (user token) their own. Session tokens and recruiters may not."""
    if isinstance(principal, SessionPrincipal):
        return False
    return principal.role == Role.ADMIN or (
        principal.role == Role.CANDIDATE and principal.subject == session.candidate_id
    )


class SessionDeletion:
    """Deletes sessions through their tombstones (see the module docstring)."""

    def __init__(self, repos: Repositories, clock: Clock, retention_days: int | None = None) -> None:
        self._repos = repos
        self._clock = clock
        self._retention = timedelta(days=retention_days) if retention_days else None

    async def delete(self, principal: Principal, session_id: str) -> TombstoneDoc:
        """Delete the session if `principal` may; 404 otherwise, and for one already deleted."""
        session = await self._repos.sessions.get(session_id)
        if session is None or not may_delete(principal, session):
            raise session_not_found()
        role = principal.role.value if not isinstance(principal, SessionPrincipal) else "session"
        tombstone = await self._delete(session, Actor(role=role, subject=principal.subject), "request")
        if tombstone is None:
            raise session_not_found()  # someone else is deleting it: it is gone for this caller too
        return tombstone

    async def _delete(self, session: SessionDoc, actor: Actor, reason: str) -> TombstoneDoc | None:
        """Tombstone, then remove; None when the session had a tombstone already (that deletion is finished)."""
        tombstone = TombstoneDoc(
            session_id=session.session_id,
            application_id=session.application_id,
            candidate_id=session.candidate_id,
            deleted_at=self._clock.now(),
            actor=actor,
            reason=reason,
            local_recording=session.recording.path if session.recording is not None else None,
        )
        if not await self._repos.tombstones.begin(tombstone):
            existing = await self._repos.tombstones.get(session.session_id)
            if existing is not None and existing.state == TombstoneState.DELETING:
                await self._finish(existing)
            return None
        logger.info("deleting session %s (%s by %s)", session.session_id, reason, actor.role)
        await self._finish(tombstone)
        return tombstone

    async def _finish(self, tombstone: TombstoneDoc) -> None:
        session_id = tombstone.session_id
        await self._repos.sessions.delete(session_id)
        await self._repos.events.delete_for_sessions([session_id])
        await self._repos.recordings.delete_sessions([session_id])
        if tombstone.local_recording:
            with contextlib.suppress(OSError):  # only the process that wrote it has it
                await asyncio.to_thread(os.remove, tombstone.local_recording)
        await self._repos.tombstones.mark_deleted(session_id, self._clock.now())

    async def finish_pending(self) -> int:
        """Finish deletions a crash interrupted, and sweep late writes of recent ones; returns those finished."""
        since = self._clock.now() - timedelta(seconds=LATE_WRITE_SECONDS)
        tombstones = await self._repos.tombstones.to_finish(since, BATCH)
        finished = 0
        for tombstone in tombstones:
            if tombstone.state == TombstoneState.DELETING:
                await self._finish(tombstone)
                finished += 1
        recent = [t.session_id for t in tombstones if t.state == TombstoneState.DELETED]
        if recent:
            await self._repos.events.delete_for_sessions(recent)
            await self._repos.recordings.delete_sessions(recent)
        return finished

    async def expire(self) -> int:
        """Delete ended sessions older than the retention (RETENTION_DAYS; off when unset); returns how many."""
        if self._retention is None:
            return 0
        ended_before = self._clock.now() - self._retention
        deleted = 0
        for session_id in await self._repos.sessions.find_ended_before(ended_before, BATCH):
            session = await self._repos.sessions.get(session_id)
            if session is not None and await self._delete(session, SYSTEM, "retention") is not None:
                deleted += 1
        return deleted
