"""One batch of concurrent start-sessions, decided together in a handful of store round trips.

A start-session alone costs four writes and reads in sequence; a hundred candidates
pressing Start at once would queue 500 round trips on the store. Taken together they
cost the same handful: one read of their applications and one of their sessions (at
once), one bulk write of their rate-limit hits, one `insert_many` of the new sessions
and, at the same time, one of their first events. Every rule of a single start holds
per request: idempotency by `clientSessionId`, one active session per application
(the partial unique index decides a race with another process), and only starts that
create a session count toward the rate limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from server.sessions.errors import DomainError, ErrorCode, invalid_application, rate_limited
from server.sessions.event_log import EventLog
from server.sessions.event_types import EventType
from storage import ApplicationDoc, RateWindows, Repositories, SessionDoc, SessionMetadata, StorageError

logger = logging.getLogger(__name__)

Initial = list[tuple[EventType, dict[str, Any]]]
NewSession = Callable[[ApplicationDoc, str, str | None, SessionMetadata], Awaitable[tuple[SessionDoc, Initial]]]


@dataclass(frozen=True)
class StartRequest:
    candidate_id: str
    application_id: str
    client_session_id: str | None
    metadata: SessionMetadata

    @property
    def key(self) -> tuple[str, str]:
        return (self.candidate_id, self.application_id)


@dataclass(frozen=True)
class StartOutcome:
    session: SessionDoc
    application: ApplicationDoc
    created: bool


Result = StartOutcome | DomainError


def _resumable(found: list[SessionDoc], client_session_id: str | None) -> SessionDoc | None:
    """The session this start returns without creating one: its idempotent retry, else the active one."""
    for session in found:
        if client_session_id is not None and session.client_session_id == client_session_id:
            return session
    return next((s for s in found if s.is_active), None)


def _rate_key(request: StartRequest) -> str:
    return f"start-session:{request.candidate_id}:{request.application_id}"


class StartBatch:
    """Decides a batch of start requests with distinct (candidate, application) keys."""

    def __init__(
        self, repos: Repositories, event_log: EventLog, new_session: NewSession, limit: int, window: int
    ) -> None:
        self._repos = repos
        self._log = event_log
        self._new_session = new_session
        self._limit = limit
        self._window = window

    async def run(self, requests: list[StartRequest]) -> list[Result]:
        began = time.perf_counter()
        results: dict[int, Result] = {}
        application_ids = list({r.application_id for r in requests})
        # The rate-limit windows are read beside the rest (one sequential round trip fewer),
        # also for starts that turn out to resume: a few small documents more.
        applications, found, windows = await asyncio.gather(
            self._repos.applications.get_many(application_ids),
            self._repos.sessions.find_resumable_many([(r.application_id, r.client_session_id) for r in requests]),
            self._repos.rate_limits.read([_rate_key(r) for r in requests]),
        )
        creating: list[int] = []
        for index, request in enumerate(requests):
            application = applications.get(request.application_id)
            if application is None or application.candidate_id != request.candidate_id:
                results[index] = invalid_application()
                continue
            existing = _resumable(found.get(request.application_id, []), request.client_session_id)
            if existing is not None:
                results[index] = StartOutcome(existing, application, created=False)
            elif application.status == "completed":
                results[index] = DomainError(ErrorCode.ALREADY_COMPLETED, "Interview already submitted")
            else:
                creating.append(index)
        read = time.perf_counter()
        allowed = await self._admit(requests, applications, creating, results, windows)
        admitted = time.perf_counter()
        await self._create(requests, applications, allowed, results)
        logger.debug(
            "start batch of %d (%d created): reads %.0f ms, rate limit %.0f ms, create %.0f ms",
            len(requests),
            len(allowed),
            (read - began) * 1000,
            (admitted - read) * 1000,
            (time.perf_counter() - admitted) * 1000,
        )
        return [results[i] for i in range(len(requests))]

    async def _admit(
        self,
        requests: list[StartRequest],
        applications: dict[str, ApplicationDoc],
        creating: list[int],
        results: dict[int, Result],
        windows: RateWindows,
    ) -> list[int]:
        """The rate limit, hit only by starts that create; a refused one may find a session a racer made."""
        keys = {i: _rate_key(requests[i]) for i in creating}
        decisions = await self._repos.rate_limits.hit_many(list(keys.values()), self._limit, self._window, windows)
        refused = [i for i in creating if not decisions[keys[i]].allowed]
        if refused:
            found = await self._repos.sessions.find_resumable_many(
                [(requests[i].application_id, None) for i in refused]
            )
            for index in refused:
                request = requests[index]
                active = _resumable(found.get(request.application_id, []), None)
                if active is not None:
                    results[index] = StartOutcome(active, applications[request.application_id], created=False)
                else:
                    results[index] = rate_limited(decisions[keys[index]].retry_after_seconds)
        return [i for i in creating if decisions[keys[i]].allowed]

    async def _create(
        self,
        requests: list[StartRequest],
        applications: dict[str, ApplicationDoc],
        allowed: list[int],
        results: dict[int, Result],
    ) -> None:
        built = [
            await self._new_session(
                applications[requests[i].application_id],
                requests[i].candidate_id,
                requests[i].client_session_id,
                requests[i].metadata,
            )
            for i in allowed
        ]
        # The sessions and their first events are written at once (one round trip of waiting instead of
        # two): the session ids are fresh, so first events whose session is not stored are read by nobody
        # and are removed again below.
        ids = [session.session_id for session, _ in built]
        refused, logged = await asyncio.gather(
            self._repos.sessions.insert_many([session for session, _ in built]),
            self._log.append_initial_many([(session.session_id, initial) for session, initial in built]),
            return_exceptions=True,
        )
        if isinstance(refused, BaseException):
            if not isinstance(logged, BaseException):
                await self._discard(ids)
            raise refused
        if isinstance(logged, BaseException):
            raise logged
        # Positions the unique index refused: another process's session is active.
        await self._discard([ids[position] for position in refused])
        for position, index in enumerate(allowed):
            request = requests[index]
            application = applications[request.application_id]
            if position not in refused:
                results[index] = StartOutcome(built[position][0], application, created=True)
                continue
            # Another process won the race (one active session per application): that one is a resume.
            winner = await self._repos.sessions.find_resumable(request.application_id, request.client_session_id)
            if winner is None:
                results[index] = DomainError(ErrorCode.INTERNAL_ERROR, "The session could not be created; try again")
            else:
                results[index] = StartOutcome(winner, application, created=False)

    async def _discard(self, session_ids: list[str]) -> None:
        try:
            await self._log.discard_initial(session_ids)
        except StorageError as error:  # left behind under ids nothing refers to; harmless
            logger.warning("could not remove the first events of %d unstored sessions: %s", len(session_ids), error)
