"""Reading sessions for their callers: listings, link states, the offline question pack, event pages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from server.sessions.clock import Clock
from server.sessions.errors import forbidden, invalid_application
from server.sessions.event_log import EventLog
from server.sessions.principals import Principal, SessionPrincipal, UserPrincipal
from server.sessions.questions import select_questions
from server.sessions.review import REVIEW_EVENT_TYPES
from server.sessions.states import TRANSITION_EVENT
from server.sessions.views import QuestionView
from storage import (
    TERMINAL_STATUSES,
    ApplicationDoc,
    CamelModel,
    EventDoc,
    EventSource,
    Repositories,
    SessionDoc,
    SessionFilter,
    SessionStatus,
)

# How recent an end must be for a hello to wait for its event, how long it waits, how often it looks.
END_GRACE = timedelta(seconds=10)
END_EVENT_WAIT_SECONDS = 3.0
END_EVENT_POLL_SECONDS = 0.05

GivenUp = Callable[[], bool]


class LinkState(StrEnum):
    """What an interview link leads to, for the page to say before its setup screen."""

    NOT_FOUND = "not_found"  # no such application, or not the caller's
    COMPLETED = "completed"  # the interview was submitted
    OPEN = "open"  # nothing started yet (or only ended sessions): Start creates a session
    IN_PROGRESS = "in_progress"  # an active session (in progress or paused): Start resumes it


@dataclass(frozen=True)
class LinkStatus:
    state: LinkState
    application: ApplicationDoc | None = None
    session: SessionDoc | None = None  # the active session, when IN_PROGRESS


class OfflinePack(CamelModel):
    """What a page caches before the interview starts, to run it offline if the server is unreachable."""

    application: ApplicationDoc
    questions: list[QuestionView]
    generated_at: datetime


@dataclass(frozen=True)
class SessionQuery:
    """Which sessions a listing wants, newest first; `before` is the previous page's last (startedAt, sessionId)."""

    statuses: list[SessionStatus] = field(default_factory=list)
    application_id: str | None = None
    started_from: datetime | None = None
    started_before: datetime | None = None
    min_score: float | None = None
    max_score: float | None = None
    limit: int = 20
    before: tuple[datetime, str] | None = None

    @property
    def by_score(self) -> bool:
        return self.min_score is not None or self.max_score is not None


class SessionReader:
    def __init__(self, repos: Repositories, event_log: EventLog, clock: Clock) -> None:
        self._repos = repos
        self._log = event_log
        self._clock = clock

    async def list_for(self, principal: Principal, query: SessionQuery) -> list[SessionDoc]:
        staff = not isinstance(principal, SessionPrincipal) and principal.is_staff
        if query.by_score and not staff:
            # Scores are for the reviewers: filtering by them would tell a candidate theirs.
            raise forbidden("Score filters are for recruiters and admins")
        where = SessionFilter(
            application_id=query.application_id,
            statuses=list(query.statuses),
            started_from=query.started_from,
            started_before=query.started_before,
            min_score=query.min_score,
            max_score=query.max_score,
        )
        if isinstance(principal, SessionPrincipal):
            where = replace(where, session_id=principal.session_id)
        elif not staff:
            where = replace(where, candidate_id=principal.subject)
        return await self._repos.sessions.find_page(where, query.limit, query.before)

    async def offline_pack(self, principal: UserPrincipal, application_id: str) -> OfflinePack:
        """Exactly the questions the server will ask: selection is deterministic per application."""
        application = await self._repos.applications.get(application_id)
        # Owner only: staff get the same 404 as strangers (the pack is for the candidate's browser).
        if application is None or application.candidate_id != principal.subject:
            raise invalid_application()
        active = await self._repos.sessions.find_active(application.id)
        if active is not None:
            questions = active.questions  # already chosen: the snapshot is what will be asked
        else:
            interview = application.interview
            bank = await self._repos.questions.candidates(interview.categories, interview.difficulty)
            questions = select_questions(bank, interview, seed=application.id)
        total = len(questions)
        return OfflinePack(
            application=application,
            questions=[QuestionView.of(q, total) for q in questions],
            generated_at=self._clock.now(),
        )

    async def link_status(self, principal: UserPrincipal, application_id: str) -> LinkStatus:
        """The link's state in at most two reads; strangers (staff too) get NOT_FOUND, as for the pack."""
        application = await self._repos.applications.get(application_id)
        if application is None or application.candidate_id != principal.subject:
            return LinkStatus(LinkState.NOT_FOUND)
        if application.status == "completed":
            return LinkStatus(LinkState.COMPLETED, application)
        active = await self._repos.sessions.find_active(application.id)
        if active is not None:
            return LinkStatus(LinkState.IN_PROGRESS, application, active)
        return LinkStatus(LinkState.OPEN, application)

    async def current(self, session: SessionDoc) -> SessionDoc:
        """`session` with `last_seq` the highest seq stored (the document's may lag a live session)."""
        last_seq = await self._log.high_water(session.session_id, session.last_seq)
        return session if last_seq == session.last_seq else session.model_copy(update={"last_seq": last_seq})

    async def current_with_end_logged(self, session: SessionDoc, given_up: GivenUp) -> SessionDoc:
        """`current`, and for a session that ended moments ago, once the event of its end is stored.

        A move to an end status stores the status first and its event just after
        (lifecycle.move); a last hello in between would replay without that event and
        close, so its client would never see it. The wait is bounded (a mover that
        crashed in between never logs it) and ends once `given_up()` (the socket is closing).
        """
        ended_at = session.completed_at
        if session.status in TERMINAL_STATUSES and ended_at is not None and self._clock.now() - ended_at < END_GRACE:
            event_type = TRANSITION_EVENT[session.status]
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(END_EVENT_WAIT_SECONDS):
                    while not given_up() and not await self._log.has_event(session.session_id, event_type):  # noqa: ASYNC110
                        await asyncio.sleep(END_EVENT_POLL_SECONDS)
        return await self.current(session)

    async def events_after(
        self, session_id: str, after_seq: int, *, limit: int | None, server_only: bool
    ) -> list[EventDoc]:
        source = EventSource.SERVER if server_only else None
        return await self._log.events_after(session_id, after_seq, limit=limit, source=source)

    async def review_events(self, session_id: str, limit: int) -> tuple[list[EventDoc], dict[str, int]]:
        events = await self._log.events_after(session_id, 0, limit=limit, types=REVIEW_EVENT_TYPES)
        return events, await self._log.count_by_type(session_id)
