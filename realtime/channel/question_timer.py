"""The current question's time limit, enforced server-side while a connection is live.

The timer is derived from the session document (`questionAskedAt`,
`questionElapsedSeconds`, the question's `timeLimitSeconds`), never from memory,
so it survives reconnects and restarts: a question whose time ran out while no
one was connected times out as soon as the next connection arms the timer.
`SessionService.advance` is conditional, so a late or duplicate firing is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from pymongo.errors import PyMongoError

from server.errors import AppError
from server.sessions import SessionService, utcnow
from storage.models import TERMINAL_STATUSES, SessionStatus

logger = logging.getLogger(__name__)

STORAGE_RETRY_SECONDS = 1.0
AFTER_FIRING_PAUSE_SECONDS = 0.05  # never spin if a firing changed nothing


class QuestionTimer:
    """Fires `SessionService.timeout_question` when the current question's time is up."""

    def __init__(self, service: SessionService, session_id: str) -> None:
        self._service = service
        self._session_id = session_id
        self._changed = asyncio.Event()
        self._stopped = False
        self.fired = 0

    def poke(self) -> None:
        """The session changed (question asked, paused, resumed...): re-read it and re-arm."""
        self._changed.set()

    def stop(self) -> None:
        """End `run` at its next step (a cancel alone can be absorbed by a database call)."""
        self._stopped = True
        self._changed.set()

    async def _wait_for_change(self, seconds: float | None) -> bool:
        """Wait for a poke (True) or until `seconds` passed (False)."""
        if seconds is None:
            await self._changed.wait()
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), seconds)
            return True
        return False

    async def run(self) -> None:
        """Until the session ends (cancelled by the connection that owns it)."""
        extra = {"session_id": self._session_id}
        while not self._stopped:
            self._changed.clear()
            try:
                session = await self._service.get(self._session_id)
            except (PyMongoError, AppError) as error:
                logger.warning("question timer cannot read the session: %s", type(error).__name__, extra=extra)
                await self._wait_for_change(STORAGE_RETRY_SECONDS)
                continue
            if session.status in TERMINAL_STATUSES:
                return
            question = session.current_question()
            remaining = session.question_remaining_seconds(utcnow())
            if question is None or remaining is None or session.status != SessionStatus.IN_PROGRESS:
                await self._wait_for_change(None)
                continue
            if remaining > 0 and await self._wait_for_change(remaining):
                continue
            if self._stopped:
                return
            try:
                await self._service.timeout_question(self._session_id, question.number)
                self.fired += 1
            except PyMongoError as error:
                logger.warning("question timeout not stored: %s; retrying", type(error).__name__, extra=extra)
                await self._wait_for_change(STORAGE_RETRY_SECONDS)
                continue
            except AppError as error:  # the session moved on concurrently
                logger.info("question timeout skipped: %s", error.code.value, extra=extra)
            await self._wait_for_change(AFTER_FIRING_PAUSE_SECONDS)
