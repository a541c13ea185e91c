"""Domain errors of the session core: a machine code, a message and details, no transport.

The HTTP edge maps each code to a status (server/http/errors.py); the WebSocket
edge maps it to an `error` message and, where it ends the connection, a close
code (realtime/channel/errors.py). Every error body has the shape
``{"error": str, "code": str, "details": any}``.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

from storage import SessionStatus


class ErrorCode(StrEnum):
    """Machine-readable error codes shared by HTTP and WebSocket."""

    MISSING_FIELD = "MISSING_FIELD"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    INVALID_JSON = "INVALID_JSON"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    INVALID_APPLICATION = "INVALID_APPLICATION"
    APPLICATION_EXISTS = "APPLICATION_EXISTS"
    ALREADY_COMPLETED = "ALREADY_COMPLETED"
    SESSION_NOT_FOUND = "SESSION_NOT_FOUND"
    SESSION_ALREADY_COMPLETED = "SESSION_ALREADY_COMPLETED"
    SESSION_NOT_ACTIVE = "SESSION_NOT_ACTIVE"
    SESSION_NOT_ENDED = "SESSION_NOT_ENDED"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    QUESTION_MISMATCH = "QUESTION_MISMATCH"
    ANSWER_ALREADY_RECORDED = "ANSWER_ALREADY_RECORDED"
    EVENT_TYPE_NOT_ALLOWED = "EVENT_TYPE_NOT_ALLOWED"
    UNKNOWN_MESSAGE_TYPE = "UNKNOWN_MESSAGE_TYPE"
    RATE_LIMITED = "RATE_LIMITED"
    STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"
    RECORDING_EXISTS = "RECORDING_EXISTS"
    WEBRTC_ERROR = "WEBRTC_ERROR"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class DomainError(Exception):
    """An expected failure: a code, a human message and optional details."""

    def __init__(self, code: ErrorCode, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        """The documented error shape."""
        return {"error": self.message, "code": self.code.value, "details": self.details}


def validation_error(details: Any, message: str = "Request is invalid") -> DomainError:
    return DomainError(ErrorCode.VALIDATION_ERROR, message, details)


def missing_field(fields: list[str]) -> DomainError:
    return DomainError(ErrorCode.MISSING_FIELD, f"Missing required field: {', '.join(fields)}", {"fields": fields})


def payload_too_large(max_bytes: int, what: str = "Request body") -> DomainError:
    return DomainError(ErrorCode.PAYLOAD_TOO_LARGE, f"{what} is too large", {"maxBytes": max_bytes})


def unauthorized(message: str = "A valid bearer token is required", reason: str | None = None) -> DomainError:
    """401; `reason` (`missing`, `invalid`, `expired`) tells a page which next step to offer."""
    return DomainError(ErrorCode.UNAUTHORIZED, message, {"reason": reason} if reason else None)


def forbidden(message: str = "Not allowed for this role") -> DomainError:
    return DomainError(ErrorCode.FORBIDDEN, message)


def session_not_found() -> DomainError:
    return DomainError(ErrorCode.SESSION_NOT_FOUND, "Session not found")


def invalid_application() -> DomainError:
    return DomainError(ErrorCode.INVALID_APPLICATION, "Application not found")


def rate_limited(retry_after_seconds: float, limit: str | None = None) -> DomainError:
    """RATE_LIMITED with whole seconds to wait (at least 1, rounded up); `limit` names the limit that was hit."""
    seconds = max(1, math.ceil(retry_after_seconds))
    details: dict[str, Any] = {"retryAfterSeconds": seconds}
    if limit is not None:
        details["limit"] = limit
    return DomainError(ErrorCode.RATE_LIMITED, "Too many requests; try again later", details)


def storage_unavailable() -> DomainError:
    return DomainError(ErrorCode.STORAGE_UNAVAILABLE, "Storage is unavailable; try again shortly")


def session_closed(status: SessionStatus) -> DomainError:
    """What a session that has ended answers to anything that would change it."""
    if status == SessionStatus.COMPLETED:
        return DomainError(ErrorCode.SESSION_ALREADY_COMPLETED, "Session is already completed")
    return DomainError(ErrorCode.SESSION_NOT_ACTIVE, f"Session is {status.value}", {"status": status.value})
