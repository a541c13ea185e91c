"""Errors raised by the media peer, each carrying a stable code."""

from __future__ import annotations

import enum

__all__ = ["MediaError", "MediaErrorCode"]


class MediaErrorCode(enum.StrEnum):
    """Stable error codes of :class:`MediaError` (they compare equal to their strings)."""

    BAD_SDP = "BAD_SDP"
    """The offer is not valid SDP, or it does not send audio."""
    BAD_CANDIDATE = "BAD_CANDIDATE"
    """A trickled ICE candidate could not be parsed or applied."""
    NEGOTIATION_FAILED = "NEGOTIATION_FAILED"
    """The offer was valid but the answer could not be produced."""
    PEER_CLOSED = "PEER_CLOSED"
    """The peer was closed before or during the call."""


class MediaError(Exception):
    """A media peer operation failed; ``code`` says why, ``message`` says how."""

    def __init__(self, code: MediaErrorCode | str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = MediaErrorCode(code)
        self.message = message
