"""Creating an application's session (start-session), or finding the one it already has."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from server.sessions.clock import Clock
from server.sessions.errors import DomainError, ErrorCode, invalid_application, rate_limited
from server.sessions.event_log import EventLog
from server.sessions.event_types import EventType
from server.sessions.questions import select_questions
from server.sessions.views import QuestionView
from storage import ApplicationDoc, Repositories, SessionDoc, SessionMetadata, SessionStatus


@dataclass(frozen=True)
class StartLimit:
    """New sessions per candidate and application within a window (seed EP5-S18: 3 per 10 minutes).

    Resumes of an active session and idempotent retries never count.
    """

    limit: int = 3
    window_seconds: int = 600


@dataclass(frozen=True)
class StartOutcome:
    session: SessionDoc
    application: ApplicationDoc
    created: bool


class SessionStarter:
    """start-session: idempotent by clientSessionId, one active session per application."""

    def __init__(self, repos: Repositories, event_log: EventLog, clock: Clock, limit: StartLimit) -> None:
        self._repos = repos
        self._log = event_log
        self._clock = clock
        self._limit = limit

    async def start(
        self,
        *,
        candidate_id: str,
        application_id: str,
        client_session_id: str | None,
        metadata: SessionMetadata,
    ) -> StartOutcome:
        """Create the application's session, or return the active/idempotent one.

        Only a start that creates a session counts toward the rate limit: reopening the
        session this page (or this application) already has is never refused.
        """
        sessions = self._repos.sessions
        # Two independent reads at once: the application, and the session a retry or a resume returns.
        application, existing = await asyncio.gather(
            self._repos.applications.get(application_id), sessions.find_resumable(application_id, client_session_id)
        )
        if application is None or application.candidate_id != candidate_id:
            raise invalid_application()
        if existing is not None and (existing.is_active or existing.client_session_id == client_session_id):
            return StartOutcome(existing, application, created=False)
        if application.status == "completed":
            raise DomainError(ErrorCode.ALREADY_COMPLETED, "Interview already submitted")
        decision = await self._repos.rate_limits.hit(
            f"start-session:{candidate_id}:{application_id}", self._limit.limit, self._limit.window_seconds
        )
        if not decision.allowed:
            # A concurrent start may have created the session meanwhile: that one is a resume.
            active = await sessions.find_active(application_id)
            if active is not None:
                return StartOutcome(active, application, created=False)
            raise rate_limited(decision.retry_after_seconds)
        session, initial_events = await self._new_session(application, candidate_id, client_session_id, metadata)
        if not await sessions.insert(session):
            # A concurrent request won the race (one active session per application).
            winner = None
            if client_session_id:
                winner = await sessions.find_by_client_session(application_id, client_session_id)
            winner = winner or await sessions.find_active(application_id)
            if winner is None:
                raise DomainError(ErrorCode.INTERNAL_ERROR, "The session could not be created; try again")
            return StartOutcome(winner, application, created=False)
        await self._log.append_initial(session.session_id, initial_events)
        return StartOutcome(session, application, created=True)

    async def _new_session(
        self, application: ApplicationDoc, candidate_id: str, client_session_id: str | None, metadata: SessionMetadata
    ) -> tuple[SessionDoc, list[tuple[EventType, dict[str, Any]]]]:
        interview = application.interview
        bank = await self._repos.questions.candidates(interview.categories, interview.difficulty)
        questions = select_questions(bank, interview, seed=application.id)
        now = self._clock.now()
        first = questions[0] if questions else None
        initial_events: list[tuple[EventType, dict[str, Any]]] = [
            (
                EventType.SESSION_STARTED,
                {
                    "status": SessionStatus.IN_PROGRESS.value,
                    "applicationId": application.id,
                    "questionCount": len(questions),
                },
            )
        ]
        if first is not None:
            initial_events.append((EventType.QUESTION, QuestionView.of(first, len(questions)).payload()))
        session = SessionDoc(
            session_id=str(uuid.uuid4()),
            application_id=application.id,
            candidate_id=candidate_id,
            client_session_id=client_session_id,
            status=SessionStatus.IN_PROGRESS,
            started_at=now,
            metadata=metadata,
            questions=questions,
            # The first question is asked as the session starts; its events take seqs 1..n.
            asked_question_number=1 if first else 0,
            question_asked_at=now if first else None,
            last_seq=len(initial_events),
            seq_reserved=len(initial_events),
            active_since=now,
            last_activity_at=now,
            created_at=now,
            updated_at=now,
        )
        return session, initial_events
