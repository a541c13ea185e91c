"""The session service: start, state transitions, question flow and client events.

HTTP routes, the WebSocket channel and the offline sync all call this module; it
knows nothing of Starlette. Every state change is a conditional update in
MongoDB (expected status and version), so two concurrent callers never both win.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from server.errors import AppError, ErrorCode, invalid_application, session_not_found
from server.principals import Principal, Role, SessionPrincipal, UserPrincipal
from server.sessions.event_log import AppendResult, EventLog, NewClientEvent
from server.sessions.questions import select_questions
from server.sessions.states import ALLOWED, TRANSITION_EVENT, check_transition, transition_error
from storage.applications import ApplicationRepository
from storage.models import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    ApplicationDoc,
    EventDoc,
    QuestionSnapshot,
    SessionDoc,
    SessionMetadata,
    SessionStatus,
)
from storage.questions import QuestionRepository
from storage.sessions import SessionRepository

logger = logging.getLogger(__name__)

_MAX_TRANSITION_ATTEMPTS = 8

# Client events that ask for a state change (stored first, so a resend is never applied twice).
_CONTROL_TARGETS = {
    "session.pause": SessionStatus.PAUSED,
    "session.resume": SessionStatus.IN_PROGRESS,
    "session.complete": SessionStatus.COMPLETED,
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def question_payload(question: QuestionSnapshot, total: int) -> dict[str, Any]:
    """The `question` event/message body."""
    return {
        "number": question.number,
        "total": total,
        "id": question.id,
        "text": question.text,
        "category": question.category.value,
        "difficulty": question.difficulty.value,
        "timeLimitSeconds": question.time_limit_seconds,
    }


@dataclass(frozen=True)
class StartOutcome:
    session: SessionDoc
    application: ApplicationDoc
    created: bool


@dataclass(frozen=True)
class AnswerOutcome:
    """A recorded answer: its seq, whether it was a retry, and the session afterwards."""

    session: SessionDoc
    seq: int
    duplicate: bool


@dataclass
class IngestOutcome:
    """What a batch of client events did: stored, already stored, or refused as too late."""

    append: AppendResult
    rejected_ids: list[str] = field(default_factory=list)
    last_seq: int = 0


class SessionService:
    def __init__(
        self,
        *,
        applications: ApplicationRepository,
        sessions: SessionRepository,
        questions: QuestionRepository,
        event_log: EventLog,
        abandon_after_seconds: int = 1800,
        late_upload_grace_seconds: int = 86400,
    ) -> None:
        self.applications = applications
        self.sessions = sessions
        self.questions = questions
        self.event_log = event_log
        self.abandon_after = timedelta(seconds=abandon_after_seconds)
        self.late_upload_grace = timedelta(seconds=late_upload_grace_seconds)

    # ----- reading and access -------------------------------------------------

    async def get(self, session_id: str) -> SessionDoc:
        session = await self.sessions.get(session_id)
        if session is None:
            raise session_not_found()
        return session

    async def get_for(self, principal: Principal, session_id: str, *, write: bool = False) -> SessionDoc:
        """The session if `principal` may see it (or act on it); otherwise 404, as if absent."""
        session = await self.sessions.get(session_id)
        if session is None or not self.may_access(principal, session, write=write):
            raise session_not_found()
        return session

    @staticmethod
    def may_access(principal: Principal, session: SessionDoc, *, write: bool = False) -> bool:
        if isinstance(principal, SessionPrincipal):
            return principal.session_id == session.session_id
        if principal.subject == session.candidate_id:
            return True
        return principal.role == Role.ADMIN or (principal.is_staff and not write)

    async def list_for(
        self,
        principal: Principal,
        *,
        statuses: list[SessionStatus] | None = None,
        application_id: str | None = None,
        limit: int = 20,
        before: tuple[datetime, str] | None = None,
    ) -> list[SessionDoc]:
        """The sessions `principal` may read, newest first (staff: all; others: their own)."""
        query: dict[str, Any] = {}
        if isinstance(principal, SessionPrincipal):
            query["sessionId"] = principal.session_id
        elif not principal.is_staff:
            query["candidateId"] = principal.subject
        if statuses:
            query["status"] = {"$in": [s.value for s in statuses]}
        if application_id is not None:
            query["applicationId"] = application_id
        return await self.sessions.list(query, limit, before)

    async def application_for(self, principal: UserPrincipal, application_id: str) -> ApplicationDoc:
        """The application if the caller owns it (or is staff); otherwise 404 INVALID_APPLICATION."""
        application = await self.applications.get(application_id)
        if application is None or not (principal.is_staff or application.candidate_id == principal.subject):
            raise invalid_application()
        return application

    # ----- start --------------------------------------------------------------

    async def start(
        self,
        *,
        candidate_id: str,
        application_id: str,
        client_session_id: str | None,
        metadata: SessionMetadata,
    ) -> StartOutcome:
        """Create the application's session, or return the active/idempotent one."""
        application = await self.applications.get(application_id)
        if application is None or application.candidate_id != candidate_id:
            raise invalid_application()
        if client_session_id:
            existing = await self.sessions.find_by_client_session(application_id, client_session_id)
            if existing is not None:
                return StartOutcome(existing, application, created=False)
        if application.status == "completed":
            raise AppError(400, ErrorCode.ALREADY_COMPLETED, "Interview already submitted")
        active = await self.sessions.find_active(application_id)
        if active is not None:
            return StartOutcome(active, application, created=False)

        bank = await self.questions.candidates(application.interview.categories, application.interview.difficulty)
        questions = select_questions(bank, application.interview, seed=application_id)
        now = utcnow()
        first_question = questions[0] if questions else None
        initial_events: list[tuple[str, dict[str, Any]]] = [
            (
                "session.started",
                {
                    "status": SessionStatus.IN_PROGRESS.value,
                    "applicationId": application_id,
                    "questionCount": len(questions),
                },
            )
        ]
        if first_question is not None:
            initial_events.append(("question", question_payload(first_question, len(questions))))
        session = SessionDoc(
            session_id=str(uuid.uuid4()),
            application_id=application_id,
            candidate_id=candidate_id,
            client_session_id=client_session_id,
            status=SessionStatus.IN_PROGRESS,
            started_at=now,
            metadata=metadata,
            questions=questions,
            # The first question is asked as the session starts; its events take seqs 1..n.
            asked_question_number=1 if first_question else 0,
            question_asked_at=now if first_question else None,
            last_seq=len(initial_events),
            active_since=now,
            last_activity_at=now,
            created_at=now,
            updated_at=now,
        )
        try:
            await self.sessions.insert(session)
        except DuplicateKeyError:
            # A concurrent request won the race (one active session per application).
            winner = None
            if client_session_id:
                winner = await self.sessions.find_by_client_session(application_id, client_session_id)
            winner = winner or await self.sessions.find_active(application_id)
            if winner is None:
                raise
            return StartOutcome(winner, application, created=False)
        await self.event_log.append_initial(session.session_id, initial_events)
        return StartOutcome(session, application, created=True)

    # ----- state transitions -------------------------------------------------

    async def transition(
        self,
        session_id: str,
        target: SessionStatus,
        *,
        reason: str | None = None,
        expected: SessionStatus | None = None,
    ) -> SessionDoc:
        """Move the session to `target` atomically; raises 400 for illegal moves.

        With `expected`, the move happens only from that status: a caller that saw
        `in_progress` and asked to complete loses (400) to a concurrent pause
        instead of completing the paused session it never saw.
        """
        for _ in range(_MAX_TRANSITION_ATTEMPTS):
            session = await self.get(session_id)
            if expected is not None and session.status != expected:
                raise transition_error(session.status, target, expected=expected)
            check_transition(session.status, target)
            now = utcnow()
            changes = self._transition_changes(session, target, now)
            updated = await self.sessions.update_if(
                session_id,
                {"status": session.status.value, "version": session.version},
                {"$set": changes, "$inc": {"version": 1}},
            )
            if updated is None:
                continue  # someone else changed the session; re-read and re-check
            payload: dict[str, Any] = {"status": target.value, "from": session.status.value}
            if reason:
                payload["reason"] = reason
            if target == SessionStatus.COMPLETED:
                await self.applications.mark_completed(session.application_id, now)
                payload["summary"] = await self._summary(updated)
            await self.event_log.append_server(session_id, TRANSITION_EVENT[target], payload)
            if target == SessionStatus.IN_PROGRESS:
                await self.ask_current_question(updated)
            return await self.get(session_id)
        current = await self.get(session_id)
        raise transition_error(current.status, target)

    @staticmethod
    def _transition_changes(session: SessionDoc, target: SessionStatus, now: datetime) -> dict[str, Any]:
        changes: dict[str, Any] = {"status": target.value, "updatedAt": now, "lastActivityAt": now}
        active_seconds = session.active_seconds
        if session.status == SessionStatus.IN_PROGRESS:
            if session.active_since is not None:
                active_seconds += (now - session.active_since).total_seconds()
            if session.question_asked_at is not None:
                changes["questionElapsedSeconds"] = (
                    session.question_elapsed_seconds + (now - session.question_asked_at).total_seconds()
                )
            changes["activeSince"] = None
            changes["questionAskedAt"] = None
            changes["activeSeconds"] = active_seconds
        if target == SessionStatus.IN_PROGRESS:
            changes["activeSince"] = now
            if session.asked_question_number == session.current_question_number:
                changes["questionAskedAt"] = now
        if target in TERMINAL_STATUSES:
            changes["completedAt"] = now
            changes["duration"] = round(active_seconds, 3)
            changes["connectedUntil"] = None
        return changes

    async def pause(self, session_id: str, *, expected: SessionStatus | None = None) -> SessionDoc:
        return await self.transition(session_id, SessionStatus.PAUSED, expected=expected)

    async def resume(self, session_id: str, *, expected: SessionStatus | None = None) -> SessionDoc:
        return await self.transition(session_id, SessionStatus.IN_PROGRESS, expected=expected)

    async def complete(
        self, session_id: str, *, reason: str | None = None, expected: SessionStatus | None = None
    ) -> SessionDoc:
        return await self.transition(session_id, SessionStatus.COMPLETED, reason=reason, expected=expected)

    async def fail(self, session_id: str, *, reason: str) -> SessionDoc:
        """Move a non-terminal session to `error` after a server-side failure."""
        return await self.transition(session_id, SessionStatus.ERROR, reason=reason)

    def require_active(self, session: SessionDoc) -> None:
        """Raise the 400 a terminal session answers to anything that would change it."""
        if session.status in TERMINAL_STATUSES:
            raise self._closed_error(session)

    async def _summary(self, session: SessionDoc) -> dict[str, Any]:
        counts = await self.event_log.count_by_type(session.session_id)
        return {
            "questionsTotal": len(session.questions),
            "questionsAnswered": counts.get("answer.recorded", 0),
            "answersSubmitted": counts.get("answer.submit", 0),
            "transcripts": counts.get("transcript", 0) + counts.get("transcript.final", 0),
            "duration": session.duration,
        }

    # ----- question flow -------------------------------------------------------

    async def ask_current_question(self, session: SessionDoc) -> EventDoc | None:
        """Append the `question` event for the current question once; None if already asked."""
        question = session.current_question()
        if (
            question is None
            or session.status != SessionStatus.IN_PROGRESS
            or session.asked_question_number >= session.current_question_number
        ):
            return None
        now = utcnow()
        updated = await self.sessions.update_if(
            session.session_id,
            {
                "status": SessionStatus.IN_PROGRESS.value,
                "currentQuestionNumber": session.current_question_number,
                "askedQuestionNumber": session.asked_question_number,
            },
            {
                "$set": {
                    "askedQuestionNumber": session.current_question_number,
                    "questionAskedAt": now,
                    "questionElapsedSeconds": 0.0,
                    "updatedAt": now,
                },
                "$inc": {"version": 1},
            },
        )
        if updated is None:
            return None
        return await self.event_log.append_server(
            session.session_id, "question", question_payload(question, len(session.questions))
        )

    async def advance(self, session_id: str, from_number: int, *, timed_out: bool = False) -> SessionDoc:
        """Move past question `from_number` (if it is still current); completes after the last."""
        session = await self.get(session_id)
        if session.status != SessionStatus.IN_PROGRESS or session.current_question_number != from_number:
            return session
        question = session.current_question()
        now = utcnow()
        updated = await self.sessions.update_if(
            session_id,
            {"status": SessionStatus.IN_PROGRESS.value, "currentQuestionNumber": from_number},
            {"$inc": {"currentQuestionNumber": 1, "version": 1}, "$set": {"updatedAt": now, "lastActivityAt": now}},
        )
        if updated is None:
            return await self.get(session_id)
        if timed_out and question is not None:
            await self.event_log.append_server(
                session_id, "question.timeout", {"questionId": question.id, "number": question.number}
            )
        if updated.current_question_number > len(updated.questions):
            try:
                return await self.complete(session_id, reason="all_questions_answered")
            except AppError as error:  # completed concurrently: that is the same outcome
                if error.code != ErrorCode.SESSION_ALREADY_COMPLETED:
                    raise
                return await self.get(session_id)
        await self.ask_current_question(updated)
        return await self.get(session_id)

    async def timeout_question(self, session_id: str, number: int) -> SessionDoc:
        return await self.advance(session_id, number, timed_out=True)

    async def submit_answer(
        self, session_id: str, answer_id: str, question_id: str, payload: dict[str, Any]
    ) -> AnswerOutcome:
        """Record the answer to the current question (an `answer.submit` event) and advance.

        Idempotent by `answer_id`: a retry answers with the stored seq, whatever
        the session has done since. A new answer needs an in-progress session and
        must name the question being asked (400 QUESTION_MISMATCH otherwise).
        """
        session = await self.get(session_id)
        known = await self.event_log.known_client_ids(session_id, [answer_id])
        if answer_id in known:
            return AnswerOutcome(session, known[answer_id], duplicate=True)
        self.require_active(session)
        if session.status != SessionStatus.IN_PROGRESS:
            raise AppError(
                400,
                ErrorCode.SESSION_NOT_ACTIVE,
                "Session is paused; resume it first",
                {"status": session.status.value},
            )
        question = session.current_question()
        if question is None or question.id != question_id:
            raise AppError(
                400,
                ErrorCode.QUESTION_MISMATCH,
                "The answer does not name the question being asked",
                {"questionId": question_id, "currentQuestionId": question.id if question else None},
            )
        event = NewClientEvent(client_event_id=answer_id, type="answer.submit", ts=utcnow(), payload=payload)
        outcome = await self.ingest_client_events(session_id, [event])
        seq = outcome.append.seq_by_client_id[answer_id]
        return AnswerOutcome(await self.get(session_id), seq, duplicate=not outcome.append.accepted)

    # ----- client events ------------------------------------------------------

    async def ingest_client_events(self, session_id: str, events: list[NewClientEvent]) -> IngestOutcome:
        """Store client events exactly once and apply their effects on the question flow.

        Terminal sessions are read-only, except for late uploads from offline
        clients: events stamped before the session ended are accepted while the
        grace window (LATE_UPLOAD_GRACE_SECONDS after the end) is open.
        """
        session = await self.get(session_id)
        rejected: list[str] = []
        if session.status in TERMINAL_STATUSES:
            ended_at = session.completed_at or session.updated_at
            if utcnow() > ended_at + self.late_upload_grace:
                raise self._closed_error(session)
            # Already-stored retries are answered as duplicates whatever their ts, never refused.
            known = await self.event_log.known_client_ids(session_id, [e.client_event_id for e in events])
            acceptable = [e for e in events if e.client_event_id in known or e.ts <= ended_at]
            too_late = (e.client_event_id for e in events if e.client_event_id not in known and e.ts > ended_at)
            rejected = list(dict.fromkeys(too_late))
            if events and not acceptable:
                raise self._closed_error(session)
            events = acceptable
        append = await self.event_log.append_client(session_id, events)
        if session.status in ACTIVE_STATUSES:
            for event in append.accepted:
                await self._apply_effect(session_id, event)
        current = await self.get(session_id)
        return IngestOutcome(append=append, rejected_ids=rejected, last_seq=current.last_seq)

    @staticmethod
    def _closed_error(session: SessionDoc) -> AppError:
        if session.status == SessionStatus.COMPLETED:
            return AppError(400, ErrorCode.SESSION_ALREADY_COMPLETED, "Session is already completed")
        return AppError(
            400, ErrorCode.SESSION_NOT_ACTIVE, f"Session is {session.status.value}", {"status": session.status.value}
        )

    async def _apply_effect(self, session_id: str, event: EventDoc) -> None:
        """Answers and `question.next` advance the flow when they name the current question."""
        target = _CONTROL_TARGETS.get(event.type)
        if target is not None:
            await self._apply_control(session_id, target)
            return
        if event.type not in ("answer.submit", "question.next"):
            return
        session = await self.get(session_id)
        question = session.current_question()
        if question is None or session.status != SessionStatus.IN_PROGRESS:
            return
        question_id = event.payload.get("questionId") or question.id
        if question_id != question.id:
            return
        if event.type == "answer.submit":
            await self.event_log.append_server(
                session_id,
                "answer.recorded",
                {"answerId": event.client_event_id, "questionId": question.id, "number": question.number},
            )
        await self.advance(session_id, question.number)

    async def _apply_control(self, session_id: str, target: SessionStatus) -> None:
        """A client's pause/resume/complete: made when legal now, otherwise nothing (the state says why)."""
        session = await self.get(session_id)
        if session.status == target or target not in ALLOWED[session.status]:
            return
        try:
            await self.transition(session_id, target, reason="client", expected=session.status)
        except AppError as error:  # moved concurrently: the session reports its own state
            if error.code not in (ErrorCode.INVALID_TRANSITION, ErrorCode.SESSION_ALREADY_COMPLETED):
                raise

    # ----- connection tracking and housekeeping ------------------------------

    async def touch_connection(self, session_id: str, until: datetime) -> None:
        """Mark the session as connected until `until` (renewed by the live channel)."""
        await self.sessions.update_if(session_id, {}, {"$set": {"connectedUntil": until, "lastActivityAt": utcnow()}})

    async def release_connection(self, session_id: str) -> None:
        now = utcnow()
        await self.sessions.update_if(session_id, {}, {"$set": {"connectedUntil": now, "lastActivityAt": now}})

    async def abandon_stale(self) -> int:
        """Abandon active sessions with no connection and no activity for the configured time."""
        idle_before = utcnow() - self.abandon_after
        abandoned = 0
        for session_id in await self.sessions.find_stale(list(ACTIVE_STATUSES), idle_before, limit=500):
            try:
                await self.transition(session_id, SessionStatus.ABANDONED, reason="inactive")
                abandoned += 1
            except AppError:
                continue  # it moved on concurrently
        return abandoned
