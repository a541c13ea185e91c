"""One handler per client command, whichever transport brought it, and the policy it is applied under.

A command is a client event that asks the session to do something: `answer.submit`,
`question.next`, `session.pause`, `session.resume`, `session.complete`. Each has one
handler here, with a pure `check` (may it be applied to the session as it is now?)
and an `apply`. The caller names the policy:

- ``ApplyPolicy.STRICT``: a command that cannot be applied now is refused with its
  DomainError and nothing is stored (the HTTP actions).
- ``ApplyPolicy.REPLAY``: the command is stored first, applied when still legal, and
  otherwise kept with the reason recorded on the stored event (`notApplied`) and
  returned to the caller (offline batch uploads, and WebSocket messages, whose
  outbox copy the client deletes on `ack`: what the candidate sent is never thrown away).

An answer belongs to the question it names. Under REPLAY an answer to a question that
was asked and has no recorded answer yet is recorded as that question's answer, even
if the flow has moved past it (its time ran out while the answer was on its way); it
advances the flow only when it names the current question. A second answer to an
answered question is kept, not recorded (ANSWER_ALREADY_RECORDED).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from server.sessions.errors import DomainError, ErrorCode, session_closed
from server.sessions.event_types import EventType
from server.sessions.states import ALLOWED, transition_error
from storage import TERMINAL_STATUSES, EventDoc, QuestionSnapshot, SessionDoc, SessionStatus

if TYPE_CHECKING:
    from server.sessions.service import SessionService


class ApplyPolicy(StrEnum):
    """How a command that cannot be applied now is treated (see the module docstring)."""

    STRICT = "strict"
    REPLAY = "replay"


@dataclass(frozen=True)
class Command:
    """What a client asks for, parsed from an HTTP body or a stored client event."""

    type: EventType
    question_id: str | None = None
    answer_id: str | None = None
    text: str | None = None
    expected_status: SessionStatus | None = None
    reason: str | None = None
    timed_out: bool = False
    policy: ApplyPolicy = ApplyPolicy.STRICT

    @classmethod
    def of(cls, event: EventDoc, policy: ApplyPolicy = ApplyPolicy.REPLAY) -> Command:
        """The command a stored client event carries."""
        question_id, text = event.payload.get("questionId"), event.payload.get("text")
        return cls(
            type=EventType(event.type),
            question_id=question_id if isinstance(question_id, str) else None,
            answer_id=event.client_event_id,
            text=text if isinstance(text, str) else None,
            reason="client",
            timed_out=event.payload.get("timedOut") is True,
            policy=policy,
        )


class CommandHandler(Protocol):
    def check(self, session: SessionDoc, command: Command) -> DomainError | None:
        """None when the command may be applied to `session` as it is; otherwise why not. Pure."""
        ...

    async def apply(self, service: SessionService, session: SessionDoc, command: Command) -> SessionDoc:
        """Carry the command out; returns the session afterwards."""
        ...


def _not_running(session: SessionDoc) -> DomainError | None:
    if session.status in TERMINAL_STATUSES:
        return session_closed(session.status)
    if session.status != SessionStatus.IN_PROGRESS:
        return DomainError(
            ErrorCode.SESSION_NOT_ACTIVE, "Session is paused; resume it first", {"status": session.status.value}
        )
    return None


def _mismatch(session: SessionDoc, question_id: str | None) -> DomainError | None:
    question = session.current_question()
    if question is not None and (question_id is None or question_id == question.id):
        return None
    return DomainError(
        ErrorCode.QUESTION_MISMATCH,
        "The answer does not name the question being asked",
        {"questionId": question_id, "currentQuestionId": question.id if question else None},
    )


def _already_answered(question: QuestionSnapshot) -> DomainError:
    return DomainError(
        ErrorCode.ANSWER_ALREADY_RECORDED,
        f"Question {question.number} already has an answer; this one is kept, not recorded",
        {"questionId": question.id},
    )


def _answered_question(session: SessionDoc, command: Command) -> QuestionSnapshot | None:
    """The question an answer may be recorded for: the current one (STRICT), or any asked one (REPLAY)."""
    if command.policy == ApplyPolicy.REPLAY:
        return session.reached_question(command.question_id)
    current = session.current_question()
    return current if current is not None and current.id == command.question_id else None


class SubmitAnswer:
    """`answer.submit`: record it as the answer to the question it names; move on if that is the current one."""

    def check(self, session: SessionDoc, command: Command) -> DomainError | None:
        refused = _not_running(session)
        if refused is not None:
            return refused
        question = _answered_question(session, command)
        if question is None:
            return _mismatch(session, command.question_id or "")
        # The current question with an answer is a move a crash cut short: apply() finishes it.
        if question.id in session.answered_question_ids and question.number != session.current_question_number:
            return _already_answered(question)
        return None

    async def apply(self, service: SessionService, session: SessionDoc, command: Command) -> SessionDoc:
        question = _answered_question(session, command)
        assert question is not None  # check() passed
        if not await service.claim_answer(session, question.id):
            # Answered already (concurrently, or before a crash that kept the flow from moving on).
            if question.number == session.current_question_number:
                await service.advance(session, question.number)
            raise _already_answered(question)
        await service.record_answer(session, command, question.id, question.number)
        if question.number != session.current_question_number:
            return await service.get(session.session_id)  # a late answer to a question already passed
        return await service.advance(session, question.number)


class NextQuestion:
    """`question.next`: skip the current question (when it is the one named, or none is named)."""

    def check(self, session: SessionDoc, command: Command) -> DomainError | None:
        return _not_running(session) or _mismatch(session, command.question_id)

    async def apply(self, service: SessionService, session: SessionDoc, command: Command) -> SessionDoc:
        # The page's own time limit ran out with nothing drafted: logged as the server's timeout would be.
        return await service.advance(session, session.current_question_number, timed_out=command.timed_out)


class ChangeStatus:
    """`session.pause` / `session.resume` / `session.complete`: a legal move of the state machine."""

    def __init__(self, target: SessionStatus) -> None:
        self.target = target

    def check(self, session: SessionDoc, command: Command) -> DomainError | None:
        expected = command.expected_status
        if expected is not None and session.status != expected:
            return transition_error(session.status, self.target, expected=expected)
        if self.target not in ALLOWED[session.status]:
            return transition_error(session.status, self.target)
        return None

    async def apply(self, service: SessionService, session: SessionDoc, command: Command) -> SessionDoc:
        # Conditional on the status just checked: a concurrent move wins, this one is refused.
        expected = command.expected_status or session.status
        return await service.transition(session.session_id, self.target, reason=command.reason, expected=expected)


HANDLERS: dict[EventType, CommandHandler] = {
    EventType.ANSWER_SUBMIT: SubmitAnswer(),
    EventType.QUESTION_NEXT: NextQuestion(),
    EventType.SESSION_PAUSE: ChangeStatus(SessionStatus.PAUSED),
    EventType.SESSION_RESUME: ChangeStatus(SessionStatus.IN_PROGRESS),
    EventType.SESSION_COMPLETE: ChangeStatus(SessionStatus.COMPLETED),
}


async def execute(service: SessionService, session: SessionDoc, command: Command) -> SessionDoc:
    """Check and apply one command against `session`; raises the refusal when it cannot be applied."""
    handler = HANDLERS[command.type]
    refusal = handler.check(session, command)
    if refusal is not None:
        raise refusal
    return await handler.apply(service, session, command)


def refusal(session: SessionDoc, command: Command) -> DomainError | None:
    """Why `command` cannot be applied to `session` now (None when it can)."""
    return HANDLERS[command.type].check(session, command)
