"""State transitions of a session: atomic, conditional on the status and version the caller saw."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server.sessions.clock import Clock
from server.sessions.errors import DomainError, ErrorCode
from server.sessions.event_log import EventLog
from server.sessions.event_types import EventType
from server.sessions.states import TRANSITION_EVENT, check_transition, transition_error
from storage import (
    TERMINAL_STATUSES,
    ApplicationRepository,
    SessionChanges,
    SessionDoc,
    SessionRepository,
    SessionStatus,
)

_MAX_TRANSITION_ATTEMPTS = 8


def transition_changes(session: SessionDoc, target: SessionStatus, now: datetime) -> SessionChanges:
    """The fields a move to `target` sets: active time and question time stop or start running."""
    changes = SessionChanges(status=target, updated_at=now, last_activity_at=now)
    active_seconds = session.active_seconds
    if session.status == SessionStatus.IN_PROGRESS:
        if session.active_since is not None:
            active_seconds += (now - session.active_since).total_seconds()
        if session.question_asked_at is not None:
            changes.question_elapsed_seconds = (
                session.question_elapsed_seconds + (now - session.question_asked_at).total_seconds()
            )
        changes.active_since = None
        changes.question_asked_at = None
        changes.active_seconds = active_seconds
    if target == SessionStatus.IN_PROGRESS:
        changes.active_since = now
        if session.asked_question_number == session.current_question_number:
            changes.question_asked_at = now
    if target in TERMINAL_STATUSES:
        changes.completed_at = now
        changes.duration = round(active_seconds, 3)
        changes.connected_until = None
    return changes


class Lifecycle:
    """Moves sessions between statuses and logs each move."""

    def __init__(
        self,
        sessions: SessionRepository,
        applications: ApplicationRepository,
        event_log: EventLog,
        clock: Clock,
    ) -> None:
        self._sessions = sessions
        self._applications = applications
        self._log = event_log
        self._clock = clock

    async def get(self, session_id: str) -> SessionDoc:
        session = await self._sessions.get(session_id)
        if session is None:
            raise DomainError(ErrorCode.SESSION_NOT_FOUND, "Session not found")
        return session

    async def move(
        self,
        session_id: str,
        target: SessionStatus,
        *,
        reason: str | None = None,
        expected: SessionStatus | None = None,
    ) -> SessionDoc:
        """Move the session to `target` atomically; INVALID_TRANSITION for illegal moves.

        With `expected`, the move happens only from that status: a caller that saw
        `in_progress` and asked to complete loses to a concurrent pause instead of
        completing the paused session it never saw.
        """
        for _ in range(_MAX_TRANSITION_ATTEMPTS):
            session = await self.get(session_id)
            if expected is not None and session.status != expected:
                raise transition_error(session.status, target, expected=expected)
            check_transition(session.status, target)
            now = self._clock.now()
            changes = transition_changes(session, target, now)
            updated = await self._sessions.apply_if_unchanged(session_id, session.status, session.version, changes)
            if updated is None:
                continue  # someone else changed the session; re-read and re-check
            payload: dict[str, Any] = {"status": target.value, "from": session.status.value}
            if reason:
                payload["reason"] = reason
            if target == SessionStatus.COMPLETED:
                await self._applications.mark_completed(session.application_id, now)
                payload["summary"] = await self._summary(updated)
            await self._log.append_server(session_id, TRANSITION_EVENT[target], payload)
            return updated
        current = await self.get(session_id)
        raise transition_error(current.status, target)

    async def _summary(self, session: SessionDoc) -> dict[str, Any]:
        counts = await self._log.count_by_type(session.session_id)
        return {
            "questionsTotal": len(session.questions),
            "questionsAnswered": counts.get(EventType.ANSWER_RECORDED, 0),
            "answersSubmitted": counts.get(EventType.ANSWER_SUBMIT, 0),
            "transcripts": counts.get(EventType.TRANSCRIPT, 0) + counts.get(EventType.TRANSCRIPT_FINAL, 0),
            "duration": session.duration,
        }
