"""WebSocket close codes of the interview channel."""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    """Why the server closed the socket; see CLOSE_CODE_MEANINGS for what a client should do."""

    NORMAL = 1000
    GOING_AWAY = 1001
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    UNAUTHORIZED = 4001
    IDLE_TIMEOUT = 4002
    FORBIDDEN_ORIGIN = 4003
    POLICY_VIOLATION = 4008
    REPLACED = 4009
    SESSION_ENDED = 4010
    SESSION_DELETED = 4011


CLOSE_CODE_MEANINGS: dict[CloseCode, tuple[str, str]] = {
    CloseCode.NORMAL: ("Normal closure.", "Nothing; the conversation is over."),
    CloseCode.GOING_AWAY: ("The server is shutting down.", "Reconnect with `lastSeq`."),
    CloseCode.MESSAGE_TOO_BIG: (
        "A frame was longer than `maxMessageBytes` characters (65,536 by default).",
        "Fix the client; reconnect and resend smaller messages.",
    ),
    CloseCode.INTERNAL_ERROR: (
        "The server could not persist or failed unexpectedly (an `error` with code "
        "`STORAGE_UNAVAILABLE` or `INTERNAL_ERROR` precedes it when possible).",
        "Reconnect with backoff and resend every unacknowledged message.",
    ),
    CloseCode.SERVICE_RESTART: ("The server is restarting (sent by uvicorn).", "Reconnect with backoff."),
    CloseCode.TRY_AGAIN_LATER: (
        "Slow consumer (the client fell `WS_SEND_QUEUE_SIZE` messages behind), or the user has "
        "`WS_SESSIONS_PER_USER` sessions live already (then an `error` `RATE_LIMITED` with "
        "`details.retryAfterMs` comes first).",
        "Reconnect with `lastSeq` (after `retryAfterMs` when given); the missed messages are replayed.",
    ),
    CloseCode.UNAUTHORIZED: (
        "No valid `hello` within `WS_HELLO_TIMEOUT_SECONDS`, or its token is not a valid session "
        "token for an existing session.",
        "Get a new session token (start-session) before reconnecting.",
    ),
    CloseCode.IDLE_TIMEOUT: (
        "Nothing received for `WS_IDLE_TIMEOUT_SECONDS` (answer every `ping` with `pong`).",
        "Reconnect with `lastSeq`; the session stays resumable.",
    ),
    CloseCode.FORBIDDEN_ORIGIN: (
        "The `Origin` header is neither the server's own origin nor in `ALLOWED_ORIGINS`.",
        "Do not retry from that origin.",
    ),
    CloseCode.POLICY_VIOLATION: (
        "Too many messages (after a `RATE_LIMITED` warning) or too many invalid ones.",
        "Back off, then reconnect and resend unacknowledged messages.",
    ),
    CloseCode.REPLACED: (
        "Another connection said `hello` for the same session and took over.",
        "Do not reconnect from this tab: the newer connection owns the session.",
    ),
    CloseCode.SESSION_ENDED: (
        "The session is completed, abandoned or failed; its final state was sent first.",
        "Stop; if messages are still unacknowledged, reconnect once with `pendingIds` to settle them.",
    ),
    CloseCode.SESSION_DELETED: (
        "The session was deleted (`DELETE /api/interview/sessions/{id}`, or by retention) with its "
        "events and recording.",
        "Stop and drop what is kept locally for the session: nothing of it can be stored any more.",
    ),
}
