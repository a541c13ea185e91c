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


# Starts that arrive while batches are being decided wait for the next one; at most this many a batch.
MAX_BATCH = 100
# Batches with the store at once: a straggler that just missed a batch is decided beside it,
# not after it. Two batches never hold the same (candidate, application).
MAX_IN_FLIGHT = 2


@dataclass
class _Waiting:
    request: StartRequest
    future: asyncio.Future[StartOutcome]


class SessionStarter:
    """start-session: idempotent by clientSessionId, one active session per application.

    Concurrent starts are decided together (`StartBatch`): a start that finds fewer than
    MAX_IN_FLIGHT batches with the store begins one at once, and those that arrive
    meanwhile form the next, so a lone start waits for nothing and a burst shares its
    round trips.
    """

    def __init__(self, repos: Repositories, event_log: EventLog, clock: Clock, limit: StartLimit) -> None:
        self._repos = repos
        self._clock = clock
        self._batch = StartBatch(repos, event_log, self._new_session, limit.limit, limit.window_seconds)
        self._waiting: list[_Waiting] = []
        self._running: set[asyncio.Task[None]] = set()
        self._busy_keys: set[tuple[str, str]] = set()

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
        self._pump()
        return await future

    def _pump(self) -> None:
        while len(self._running) < MAX_IN_FLIGHT and (batch := self._next_batch()):
            task = asyncio.create_task(self._decide(batch), name="start-session-batch")
            self._running.add(task)

    def _next_batch(self) -> list[_Waiting]:
        """Up to MAX_BATCH waiting starts, one per (candidate, application) and none of a batch in
        flight: a second start of the same application waits, and then finds the first one's session."""
        batch: list[_Waiting] = []
        later: list[_Waiting] = []
        keys = set(self._busy_keys)
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

    async def _decide(self, batch: list[_Waiting]) -> None:
        keys = {w.request.key for w in batch}
        self._busy_keys |= keys
        try:
            try:
                results: list[StartOutcome | DomainError] = list(await self._batch.run([w.request for w in batch]))
            except Exception as error:  # the store failed: every start of the batch fails with it
                for waiting in batch:
                    if not waiting.future.done():
                        waiting.future.set_exception(error)
                return
            for waiting, result in zip(batch, results, strict=True):
                if waiting.future.done():
                    continue
                if isinstance(result, DomainError):
                    waiting.future.set_exception(result)
                else:
                    waiting.future.set_result(result)
        finally:
            self._busy_keys -= keys
            self._running.discard(asyncio.current_task())
            self._pump()

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
