"""The session service: the one entry point of the core for HTTP, the WebSocket and the offline sync.

It knows nothing of Starlette or MongoDB: repositories do the storing, and every
state change is a conditional update (expected status and version), so two
concurrent callers never both win.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from server.sessions.analytics import AnalyticsReport, analytics_report
from server.sessions.clock import SYSTEM_CLOCK, Clock
from server.sessions.commands import ApplyPolicy, Command, execute
from server.sessions.connections import LiveConnections
from server.sessions.deletion import SessionDeletion
from server.sessions.errors import DomainError, ErrorCode, invalid_application, session_closed, session_not_found
from server.sessions.event_log import EventLog, NewClientEvent
from server.sessions.event_types import EventType
from server.sessions.flow import QuestionFlow
from server.sessions.hub import SessionHub
from server.sessions.ingest import Ingestor, IngestOutcome, KnownSession, PendingIngest
from server.sessions.lifecycle import Lifecycle
from server.sessions.observer import NoObserver, SessionObserver
from server.sessions.principals import Principal, Role, SessionPrincipal, UserPrincipal
from server.sessions.reading import LinkStatus, OfflinePack, SessionQuery, SessionReader
from server.sessions.recordings import SessionRecordings
from server.sessions.scoring import ScoringConfig, SessionScores, SessionScoring
from server.sessions.server_events import ServerEvents
from server.sessions.start_batch import StartOutcome
from server.sessions.starting import SessionStarter, StartLimit
from storage import (
    TERMINAL_STATUSES,
    ApplicationDoc,
    EventDoc,
    QuestionDoc,
    Repositories,
    SessionDoc,
    SessionMetadata,
    SessionStatus,
    session_analytics_rows,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceConfig:
    abandon_after_seconds: int = 1800
    late_upload_grace_seconds: int = 86400
    start_limit: StartLimit = field(default_factory=StartLimit)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    retention_days: int | None = None  # ended sessions older than this are deleted (None: kept)


@dataclass(frozen=True)
class AnswerOutcome:
    """A recorded answer: its seq, whether it was a retry, and the session afterwards."""

    session: SessionDoc
    seq: int
    duplicate: bool


class SessionService:
    def __init__(
        self,
        repos: Repositories,
        *,
        hub: SessionHub | None = None,
        clock: Clock = SYSTEM_CLOCK,
        config: ServiceConfig | None = None,
        observer: SessionObserver | None = None,
    ) -> None:
        self._repos = repos
        self.hub = hub or SessionHub()
        self.clock = clock
        self._config = config or ServiceConfig()
        self._observer: SessionObserver = observer or NoObserver()
        self._log = EventLog(repos.seqs, repos.events, self.hub, clock)
        self.connections = LiveConnections(repos.connections, self._log, clock)
        self.server_events = ServerEvents(repos.sessions, self._log)
        self._lifecycle = Lifecycle(repos.sessions, repos.applications, self._log, clock)
        self._flow = QuestionFlow(repos.sessions, self._log, clock, self._finish)
        self._starter = SessionStarter(repos, self._log, clock, self._config.start_limit)
        self._reader = SessionReader(repos, self._log, clock)
        self._ingestor = Ingestor(
            self, self._log, self._observer, timedelta(seconds=self._config.late_upload_grace_seconds)
        )
        self.scoring = SessionScoring(repos.sessions, self._reader, clock, self._config.scoring)
        self.recordings = SessionRecordings(repos, clock)
        self.deletion = SessionDeletion(repos, clock, self._config.retention_days)
        self._abandon_after = timedelta(seconds=self._config.abandon_after_seconds)

    # ----- reading and access -------------------------------------------------

    async def get(self, session_id: str) -> SessionDoc:
        return await self._lifecycle.get(session_id)

    async def find(self, session_id: str) -> SessionDoc | None:
        """The session, or None (the WebSocket hello answers both cases the same way)."""
        return await self._repos.sessions.get(session_id)

    async def get_for(self, principal: Principal, session_id: str, *, write: bool = False) -> SessionDoc:
        """The session (with its exact `lastSeq`) if `principal` may see it or act on it; otherwise 404."""
        session = await self._repos.sessions.get(session_id)
        if session is None or not self.may_access(principal, session, write=write):
            raise session_not_found()
        return await self.current(session)

    async def current(self, session: SessionDoc) -> SessionDoc:
        """`session` with `last_seq` the highest seq stored (the document's may lag a live session)."""
        return await self._reader.current(session)

    async def current_with_end_logged(self, session: SessionDoc, given_up: Callable[[], bool]) -> SessionDoc:
        """`current`; a session that ended moments ago once the event of its end is stored (for a last hello)."""
        return await self._reader.current_with_end_logged(session, given_up)

    @staticmethod
    def may_access(principal: Principal, session: SessionDoc, *, write: bool = False) -> bool:
        if isinstance(principal, SessionPrincipal):
            return principal.session_id == session.session_id
        if principal.subject == session.candidate_id:
            return True
        return principal.role == Role.ADMIN or (principal.is_staff and not write)

    async def list_for(self, principal: Principal, query: SessionQuery) -> list[SessionDoc]:
        """The sessions `principal` may read, newest first (staff: all; others: their own; score filters: staff)."""
        return await self._reader.list_for(principal, query)

    async def application_for(self, principal: UserPrincipal, application_id: str) -> ApplicationDoc:
        """The application if the caller owns it (or is staff); otherwise 404 INVALID_APPLICATION."""
        application = await self._repos.applications.get(application_id)
        if application is None or not (principal.is_staff or application.candidate_id == principal.subject):
            raise invalid_application()
        return application

    async def create_application(self, application: ApplicationDoc) -> ApplicationDoc:
        if not await self._repos.applications.insert(application):
            raise DomainError(ErrorCode.APPLICATION_EXISTS, "An application with this id exists")
        return application

    async def ensure_application(self, application: ApplicationDoc) -> None:
        """Create the application unless it exists (demo data)."""
        await self._repos.applications.insert_if_absent(application)

    async def load_question_bank(self, questions: list[QuestionDoc]) -> int:
        return await self._repos.questions.load_bank(questions)

    async def link_status(self, principal: UserPrincipal, application_id: str) -> LinkStatus:
        """What the candidate's interview link leads to (not found, submitted, open, in progress)."""
        return await self._reader.link_status(principal, application_id)

    async def offline_pack(self, principal: UserPrincipal, application_id: str) -> OfflinePack:
        """The questions the server will ask, for a page to cache (the candidate only)."""
        return await self._reader.offline_pack(principal, application_id)

    async def events_after(
        self, session_id: str, after_seq: int = 0, *, limit: int | None = None, server_only: bool = False
    ) -> list[EventDoc]:
        return await self._reader.events_after(session_id, after_seq, limit=limit, server_only=server_only)

    async def review_events(self, session_id: str, limit: int) -> tuple[list[EventDoc], dict[str, int]]:
        """The events a review groups by question, and every event's count by type."""
        return await self._reader.review_events(session_id, limit)

    async def known_client_ids(self, session_id: str, client_event_ids: list[str]) -> dict[str, int]:
        return await self._log.known_client_ids(session_id, list(dict.fromkeys(client_event_ids)))

    async def score(self, session_id: str) -> SessionScores:
        """Score an ended session now (off the event loop) and store it; see SessionScoring.score."""
        return await self.scoring.score(session_id)

    async def analytics(self, start: datetime, end: datetime) -> AnalyticsReport:
        rows = await session_analytics_rows(self._repos.sessions, start, end)
        return analytics_report(rows, start, end)

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
        outcome = await self._starter.start(
            candidate_id=candidate_id,
            application_id=application_id,
            client_session_id=client_session_id,
            metadata=metadata,
        )
        if outcome.created:
            self._observer.session_started(outcome.session)
        return outcome

    # ----- state transitions -------------------------------------------------

    async def transition(
        self,
        session_id: str,
        target: SessionStatus,
        *,
        reason: str | None = None,
        expected: SessionStatus | None = None,
    ) -> SessionDoc:
        """Move the session to `target` atomically (see Lifecycle.move); a resume asks the question again."""
        updated = await self._lifecycle.move(session_id, target, reason=reason, expected=expected)
        self.scoring.session_moved(session_id, target)
        if target == SessionStatus.IN_PROGRESS:
            await self._flow.ask_current_question(updated)
        return await self.get(session_id)

    async def complete(
        self, session_id: str, *, reason: str | None = None, expected: SessionStatus | None = None
    ) -> SessionDoc:
        return await self.transition(session_id, SessionStatus.COMPLETED, reason=reason, expected=expected)

    async def fail(self, session_id: str, *, reason: str) -> SessionDoc:
        """Move a non-terminal session to `error` after a server-side failure."""
        return await self.transition(session_id, SessionStatus.ERROR, reason=reason)

    async def _finish(self, session_id: str) -> SessionDoc:
        try:
            return await self.complete(session_id, reason="all_questions_answered")
        except DomainError as error:  # completed concurrently: that is the same outcome
            if error.code != ErrorCode.SESSION_ALREADY_COMPLETED:
                raise
            return await self.get(session_id)

    def require_active(self, session: SessionDoc) -> None:
        """Raise the error a terminal session answers to anything that would change it."""
        if session.status in TERMINAL_STATUSES:
            raise session_closed(session.status)

    # ----- commands and the question flow ---------------------------------------

    async def command(self, session_id: str, command: Command) -> SessionDoc:
        """Apply a command that is not logged as a client event (the HTTP actions): always strict."""
        return await self.current(await execute(self, await self.get(session_id), command))

    async def ask_current_question(self, session: SessionDoc) -> EventDoc | None:
        """Append the `question` event for the current question once; None if already asked."""
        return await self._flow.ask_current_question(session)

    async def advance(self, session: SessionDoc, from_number: int, *, timed_out: bool = False) -> SessionDoc:
        return await self._flow.advance(session, from_number, timed_out=timed_out)

    async def timeout_question(self, session_id: str, number: int) -> SessionDoc:
        return await self.advance(await self.get(session_id), number, timed_out=True)

    async def claim_answer(self, session: SessionDoc, question_id: str) -> bool:
        """Take the question's one answer slot; False when it already has an answer."""
        return await self._repos.sessions.claim_answer(session.session_id, question_id, self.clock.now())

    async def record_answer(self, session: SessionDoc, command: Command, question_id: str, number: int) -> None:
        """`answer.recorded`: what was typed, then the question's transcript lines in order (a spoken answer)."""
        lines = await self._log.transcripts_of(session.session_id, question_id)
        spoken = " ".join(text for e in lines if (text := str(e.payload.get("text", "")).strip()))
        typed = (command.text or "").strip()
        payload: dict[str, Any] = {"answerId": command.answer_id, "questionId": question_id, "number": number}
        if typed or spoken:
            payload["text"] = " ".join(part for part in (typed, spoken) if part)
        if spoken:
            payload["spokenText"] = spoken
            payload["transcriptSeqs"] = [e.seq for e in lines]
        if command.timed_out:
            payload["timedOut"] = True
        await self._log.append_server(session.session_id, EventType.ANSWER_RECORDED, payload)

    async def submit_answer(
        self, session_id: str, answer_id: str, question_id: str, payload: dict[str, Any]
    ) -> AnswerOutcome:
        """Record the answer to the current question (an `answer.submit` event) and advance; strict.

        Idempotent by `answer_id`: a retry answers with the stored seq, whatever
        the session has done since. A new answer needs an in-progress session and
        must name the question being asked (QUESTION_MISMATCH otherwise).
        """
        event = NewClientEvent(
            client_event_id=answer_id, type=EventType.ANSWER_SUBMIT, ts=self.clock.now(), payload=payload
        )
        outcome = await self.ingest(session_id, [event], policy=ApplyPolicy.STRICT)
        seq = outcome.append.seq_by_client_id[answer_id]
        session = await self.current(await self.get(session_id))
        return AnswerOutcome(session, seq, duplicate=not outcome.append.accepted)

    async def ingest(
        self,
        session_id: str,
        events: list[NewClientEvent],
        *,
        policy: ApplyPolicy = ApplyPolicy.REPLAY,
        known: KnownSession | None = None,
    ) -> IngestOutcome:
        """Store client events exactly once and apply the commands among them under `policy` (see Ingestor)."""
        return await self._ingestor.ingest(session_id, events, policy, known)

    def submittable(self, known: KnownSession, types: Iterable[EventType]) -> bool:
        """Whether `submit` takes events of `types` now (see Ingestor.submittable)."""
        return self._ingestor.submittable(known, types)

    def submit(self, known: KnownSession, events: list[NewClientEvent]) -> PendingIngest:
        """Facts of a live session handed to the group writer without waiting (see Ingestor.submit)."""
        return self._ingestor.submit(known, events)

    async def settle_pending(self, session_id: str) -> bool:
        """Apply the commands a crash left stored but not applied (a connection's start calls this);
        whether there were any (the session may have changed)."""
        return await self._ingestor.settle_pending(session_id)

    # ----- connections, recordings, housekeeping --------------------------------

    @property
    def write_stats(self) -> dict[str, int]:
        """Batches, events and store round trips of this process's group writer."""
        return self._log.writer.stats

    async def close(self) -> None:
        """Store what is still queued for writing (on shutdown)."""
        await self._log.close()

    async def abandon_stale(self) -> int:
        """Abandon active sessions with no connection and no activity for the configured time."""
        idle_before = self.clock.now() - self._abandon_after
        abandoned = 0
        for session_id in await self._repos.sessions.find_stale(idle_before, limit=500):
            try:
                await self.transition(session_id, SessionStatus.ABANDONED, reason="inactive")
                abandoned += 1
            except DomainError:
                continue  # it moved on concurrently
        return abandoned
