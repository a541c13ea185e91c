"""Creating an application's session (start-session), or finding the one it already has."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from server.sessions.clock import Clock
from server.sessions.errors import DomainError
from server.sessions.event_log import EventLog
from server.sessions.event_types import EventType
from server.sessions.questions import select_questions
from server.sessions.start_batch import StartBatch, StartOutcome, StartRequest
from server.sessions.views import QuestionView
from storage import ApplicationDoc, Repositories, SessionDoc, SessionMetadata, SessionStatus


@dataclass(frozen=True)
class StartLimit:
    """New sessions per candidate and application within a window (seed EP5-S18: 3 per 10 minutes).

    Resumes of an active session and idempotent retries never count.
    """

    limit: int = 3
    window_seconds: int = 600


# Starts that arrive while a batch is being decided wait for the next one; at most this many at once.
MAX_BATCH = 100


@dataclass
class _Waiting:
    request: StartRequest
    future: asyncio.Future[StartOutcome]


class SessionStarter:
    """start-session: idempotent by clientSessionId, one active session per application.

    Concurrent starts are decided together (`StartBatch`): the first one starts a batch at
    once, and those that arrive while it is with the store form the next one, so a lone
    start waits for nothing and a burst shares its round trips.
    """

    def __init__(self, repos: Repositories, event_log: EventLog, clock: Clock, limit: StartLimit) -> None:
        self._repos = repos
        self._clock = clock
        self._batch = StartBatch(repos, event_log, self._new_session, limit.limit, limit.window_seconds)
        self._waiting: list[_Waiting] = []
        self._flusher: asyncio.Task[None] | None = None

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
        request = StartRequest(candidate_id, application_id, client_session_id, metadata)
        future: asyncio.Future[StartOutcome] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(request, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="start-session-batches")
        return await future

    def _next_batch(self) -> list[_Waiting]:
        """Up to MAX_BATCH waiting starts, one per (candidate, application): a second start of the
        same application waits for the next batch, where it finds the first one's session."""
        batch: list[_Waiting] = []
        later: list[_Waiting] = []
        keys: set[tuple[str, str]] = set()
        for waiting in self._waiting:
            if waiting.future.done():
                continue  # its caller gave up (the request was cancelled)
            if len(batch) < MAX_BATCH and waiting.request.key not in keys:
                keys.add(waiting.request.key)
                batch.append(waiting)
            else:
                later.append(waiting)
        self._waiting = later
        return batch

    async def _flush(self) -> None:
        try:
            while batch := self._next_batch():
                try:
                    results: list[StartOutcome | DomainError] = list(await self._batch.run([w.request for w in batch]))
                except Exception as error:  # the store failed: every start of the batch fails with it
                    for waiting in batch:
                        if not waiting.future.done():
                            waiting.future.set_exception(error)
                    continue
                for waiting, result in zip(batch, results, strict=True):
                    if waiting.future.done():
                        continue
                    if isinstance(result, DomainError):
                        waiting.future.set_exception(result)
                    else:
                        waiting.future.set_result(result)
        finally:
            self._flusher = None

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
