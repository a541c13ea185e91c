"""The WebSocket edge's error mapping: which codes the client may resend, and which end the socket."""

from __future__ import annotations

from realtime.channel.close_codes import CloseCode
from server.sessions import ErrorCode

# An `error` with one of these codes means "not stored, resend later"; any other means "dropped".
RETRYABLE_ERROR_CODES = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.STORAGE_UNAVAILABLE, ErrorCode.INTERNAL_ERROR})

# Errors after which the connection cannot go on, and the close code that follows their `error`.
CLOSE_AFTER: dict[ErrorCode, CloseCode] = {
    ErrorCode.UNAUTHORIZED: CloseCode.UNAUTHORIZED,
    ErrorCode.STORAGE_UNAVAILABLE: CloseCode.INTERNAL_ERROR,
    ErrorCode.INTERNAL_ERROR: CloseCode.INTERNAL_ERROR,
}


def retryable(code: ErrorCode) -> bool:
    return code in RETRYABLE_ERROR_CODES
