"""Application errors: one exception type with a machine code, and the codes themselves.

Every HTTP error body has the shape ``{"error": str, "code": str, "details": any}``;
the WebSocket channel sends the same code in its ``error`` messages.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


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
    INVALID_TRANSITION = "INVALID_TRANSITION"
    QUESTION_MISMATCH = "QUESTION_MISMATCH"
    EVENT_TYPE_NOT_ALLOWED = "EVENT_TYPE_NOT_ALLOWED"
    UNKNOWN_MESSAGE_TYPE = "UNKNOWN_MESSAGE_TYPE"
    RATE_LIMITED = "RATE_LIMITED"
    STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"
    RECORDING_EXISTS = "RECORDING_EXISTS"
    WEBRTC_ERROR = "WEBRTC_ERROR"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class AppError(Exception):
    """An expected failure with an HTTP status, a code and a human message."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code.value, "details": self.details}


def validation_error(details: Any, message: str = "Request is invalid") -> AppError:
    return AppError(400, ErrorCode.VALIDATION_ERROR, message, details)


def missing_field(fields: list[str]) -> AppError:
    return AppError(400, ErrorCode.MISSING_FIELD, f"Missing required field: {', '.join(fields)}", {"fields": fields})


def unauthorized(message: str = "A valid bearer token is required") -> AppError:
    return AppError(401, ErrorCode.UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(message: str = "Not allowed for this role") -> AppError:
    return AppError(403, ErrorCode.FORBIDDEN, message)


def session_not_found() -> AppError:
    return AppError(404, ErrorCode.SESSION_NOT_FOUND, "Session not found")


def invalid_application() -> AppError:
    return AppError(404, ErrorCode.INVALID_APPLICATION, "Application not found")


def rate_limited(retry_after_seconds: int) -> AppError:
    seconds = max(1, int(retry_after_seconds))
    return AppError(
        429,
        ErrorCode.RATE_LIMITED,
        "Too many requests; try again later",
        {"retryAfterSeconds": seconds},
        headers={"Retry-After": str(seconds)},
    )


def storage_unavailable() -> AppError:
    return AppError(503, ErrorCode.STORAGE_UNAVAILABLE, "Storage is unavailable; try again shortly")
