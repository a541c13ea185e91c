"""The question flow: asking the current question once, moving past it, and its time limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from server.sessions.clock import Clock
from server.sessions.event_log import EventLog
from server.sessions.event_types import EventType
from server.sessions.views import QuestionView
from storage import EventDoc, SessionDoc, SessionRepository, SessionStatus

# Called when the last question is passed: completes the session.
Finisher = Callable[[str], Awaitable[SessionDoc]]


class QuestionFlow:
    """Asks questions in order; every step is a conditional update, so duplicates are harmless."""

    def __init__(self, sessions: SessionRepository, event_log: EventLog, clock: Clock, finish: Finisher) -> None:
        self._sessions = sessions
        self._log = event_log
        self._clock = clock
        self._finish = finish

    async def ask_current_question(self, session: SessionDoc) -> EventDoc | None:
        """Append the `question` event for the current question once; None if already asked."""
        question = session.current_question()
        if (
            question is None
            or session.status != SessionStatus.IN_PROGRESS
            or session.asked_question_number >= session.current_question_number
        ):
            return None
        updated = await self._sessions.mark_question_asked(
            session.session_id, session.current_question_number, session.asked_question_number, self._clock.now()
        )
        if updated is None:
            return None
        view = QuestionView.of(question, len(session.questions))
        return await self._log.append_server(session.session_id, EventType.QUESTION, view.payload())

    async def advance(self, session: SessionDoc, from_number: int, *, timed_out: bool = False) -> SessionDoc:
        """Move past question `from_number` (if it is still current); completes after the last."""
        if session.status != SessionStatus.IN_PROGRESS or session.current_question_number != from_number:
            return session
        question = session.current_question()
        updated = await self._sessions.advance_question(session.session_id, from_number, self._clock.now())
        if updated is None:
            return await self._reread(session)
        if timed_out and question is not None:
            await self._log.append_server(
                session.session_id, EventType.QUESTION_TIMEOUT, {"questionId": question.id, "number": question.number}
            )
        if updated.current_question_number > len(updated.questions):
            return await self._finish(session.session_id)
        await self.ask_current_question(updated)
        return await self._reread(session)

    async def _reread(self, session: SessionDoc) -> SessionDoc:
        return await self._sessions.get(session.session_id) or session
