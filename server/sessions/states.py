"""The session state machine: which status may follow which. Pure, no I/O."""

from __future__ import annotations

from server.sessions.errors import DomainError, ErrorCode, session_closed
from server.sessions.event_types import EventType
from storage import SessionStatus

_S = SessionStatus

ALLOWED: dict[SessionStatus, frozenset[SessionStatus]] = {
    _S.IN_PROGRESS: frozenset({_S.PAUSED, _S.COMPLETED, _S.ABANDONED, _S.ERROR}),
    _S.PAUSED: frozenset({_S.IN_PROGRESS, _S.COMPLETED, _S.ABANDONED, _S.ERROR}),
    _S.COMPLETED: frozenset(),
    _S.ABANDONED: frozenset(),
    _S.ERROR: frozenset(),
}

# The event each transition appends to the session's log.
TRANSITION_EVENT: dict[SessionStatus, EventType] = {
    _S.PAUSED: EventType.SESSION_PAUSED,
    _S.IN_PROGRESS: EventType.SESSION_RESUMED,
    _S.COMPLETED: EventType.SESSION_COMPLETED,
    _S.ABANDONED: EventType.SESSION_ABANDONED,
    _S.ERROR: EventType.SESSION_ERROR,
}


def sources_for(target: SessionStatus) -> list[SessionStatus]:
    """Every status from which `target` may be reached."""
    return [source for source, targets in ALLOWED.items() if target in targets]


def transition_error(
    current: SessionStatus, target: SessionStatus, *, expected: SessionStatus | None = None
) -> DomainError:
    """The error for an illegal move; a completed session gets its own code.

    `expected` is the status the caller required (and did not find): it is echoed
    in the details so the caller can tell a lost race from a plain illegal move.
    """
    if current == _S.COMPLETED:
        return session_closed(current)
    details = {"from": current.value, "to": target.value}
    message = f"Cannot move a session from {current.value} to {target.value}"
    if expected is not None:
        details["expected"] = expected.value
        message = f"Session is {current.value}, not {expected.value}"
    return DomainError(ErrorCode.INVALID_TRANSITION, message, details)


def check_transition(current: SessionStatus, target: SessionStatus) -> None:
    if target not in ALLOWED[current]:
        raise transition_error(current, target)
