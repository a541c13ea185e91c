"""The session state machine: which status may follow which. Pure, no I/O."""

from __future__ import annotations

from server.errors import AppError, ErrorCode
from storage.models import SessionStatus

_S = SessionStatus

ALLOWED: dict[SessionStatus, frozenset[SessionStatus]] = {
    _S.IN_PROGRESS: frozenset({_S.PAUSED, _S.COMPLETED, _S.ABANDONED, _S.ERROR}),
    _S.PAUSED: frozenset({_S.IN_PROGRESS, _S.COMPLETED, _S.ABANDONED, _S.ERROR}),
    _S.COMPLETED: frozenset(),
    _S.ABANDONED: frozenset(),
    _S.ERROR: frozenset(),
}

# The event each transition appends to the session's log.
TRANSITION_EVENT: dict[SessionStatus, str] = {
    _S.PAUSED: "session.paused",
    _S.IN_PROGRESS: "session.resumed",
    _S.COMPLETED: "session.completed",
    _S.ABANDONED: "session.abandoned",
    _S.ERROR: "session.error",
}


def sources_for(target: SessionStatus) -> list[SessionStatus]:
    """Every status from which `target` may be reached."""
    return [source for source, targets in ALLOWED.items() if target in targets]


def transition_error(
    current: SessionStatus, target: SessionStatus, *, expected: SessionStatus | None = None
) -> AppError:
    """The error for an illegal move; a completed session gets its own code.

    `expected` is the status the caller required (and did not find): it is echoed
    in the details so the caller can tell a lost race from a plain illegal move.
    """
    if current == _S.COMPLETED:
        return AppError(400, ErrorCode.SESSION_ALREADY_COMPLETED, "Session is already completed")
    details = {"from": current.value, "to": target.value}
    message = f"Cannot move a session from {current.value} to {target.value}"
    if expected is not None:
        details["expected"] = expected.value
        message = f"Session is {current.value}, not {expected.value}"
    return AppError(400, ErrorCode.INVALID_TRANSITION, message, details)


def check_transition(current: SessionStatus, target: SessionStatus) -> None:
    if target not in ALLOWED[current]:
        raise transition_error(current, target)
