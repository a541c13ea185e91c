"""Every message of the interview WebSocket protocol (`interview.v1`) as a pydantic model.

Client messages are parsed with one discriminated union on `type`
(CLIENT_MESSAGE_ADAPTER). Server messages carry a `seq` when they are persisted
events of the session's log (rendered from storage by `render_event`); `ack`,
`ping` and `transcript.partial` are ephemeral and never replayed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from server.auth import IssuedToken
from server.errors import ErrorCode
from server.sessions.client_events import (
    AnswerStartPayload,
    AnswerSubmitPayload,
    NamedEventPayload,
    QuestionNextPayload,
    SessionControlPayload,
    TranscriptPayload,
)
from server.sessions.states import TRANSITION_EVENT
from server.wire import QuestionOut, RequestModel, Uuid
from storage.models import CamelModel, EventDoc

logger = logging.getLogger(__name__)

SUBPROTOCOL = "interview.v1"
MAX_PENDING_IDS = 1000
# An `error` with one of these codes means "not stored, resend later"; any other means "dropped".
RETRYABLE_ERROR_CODES = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.STORAGE_UNAVAILABLE, ErrorCode.INTERNAL_ERROR})

# ----- client -> server -----------------------------------------------------------


class HelloMessage(RequestModel):
    """First message of every connection: authenticates and says where to resume."""

    type: Literal["hello"]
    token: Annotated[str, StringConstraints(min_length=1, max_length=8192)]
    last_seq: int | None = Field(default=None, ge=0, description="Highest server `seq` already seen; null = none.")
    pending_ids: list[Uuid] = Field(
        default_factory=list,
        max_length=MAX_PENDING_IDS,
        description="Ids of sent messages not yet acknowledged; the server acks those it already stored.",
    )


class _ClientEventFields(RequestModel):
    """What every state-changing client message adds to its payload."""

    id: Uuid = Field(description="Client-chosen UUID: the idempotency key (stored as `clientEventId`).")
    ts: AwareDatetime | None = Field(
        default=None, description="When it happened on the client (ISO 8601 with offset); defaults to receipt time."
    )


class AnswerStartMessage(AnswerStartPayload, _ClientEventFields):
    """The candidate starts answering a question."""

    type: Literal["answer.start"]


class AnswerSubmitMessage(AnswerSubmitPayload, _ClientEventFields):
    """The candidate's answer to the current question; the server records it and advances."""

    type: Literal["answer.submit"]


class QuestionNextMessage(QuestionNextPayload, _ClientEventFields):
    """Skip to the next question (when `questionId` is the current one, or omitted)."""

    type: Literal["question.next"]


class TranscriptMessage(TranscriptPayload, _ClientEventFields):
    """A transcript line from a client-side recogniser."""

    type: Literal["transcript"]


class EventMessage(NamedEventPayload, _ClientEventFields):
    """A named client event (`tab.hidden`, `mic.muted`, `network.quality`, `offline.mode`, ...)."""

    type: Literal["event"]


class SessionPauseMessage(SessionControlPayload, _ClientEventFields):
    """Pause the interview (the question timer stops)."""

    type: Literal["session.pause"]


class SessionResumeMessage(SessionControlPayload, _ClientEventFields):
    """Resume a paused interview."""

    type: Literal["session.resume"]


class SessionCompleteMessage(SessionControlPayload, _ClientEventFields):
    """End the interview now."""

    type: Literal["session.complete"]


class PongMessage(RequestModel):
    """Answer to `ping` (any client message counts as a sign of life)."""

    type: Literal["pong"]
    ts: int | None = Field(default=None, description="The `ts` of the ping being answered.")


ClientEventMessage = (
    AnswerStartMessage
    | AnswerSubmitMessage
    | QuestionNextMessage
    | TranscriptMessage
    | EventMessage
    | SessionPauseMessage
    | SessionResumeMessage
    | SessionCompleteMessage
)
ClientMessage = Annotated[HelloMessage | ClientEventMessage | PongMessage, Field(discriminator="type")]
CLIENT_MESSAGE_ADAPTER: TypeAdapter[Any] = TypeAdapter(ClientMessage)
CLIENT_MESSAGE_MODELS: tuple[type[RequestModel], ...] = (
    HelloMessage,
    AnswerStartMessage,
    AnswerSubmitMessage,
    QuestionNextMessage,
    TranscriptMessage,
    EventMessage,
    SessionPauseMessage,
    SessionResumeMessage,
    SessionCompleteMessage,
    PongMessage,
)
CLIENT_EVENT_MESSAGE_TYPES = frozenset(
    m.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]
    for m in CLIENT_MESSAGE_MODELS
    if issubclass(m, _ClientEventFields)
)


def stored_payload(message: _ClientEventFields) -> dict[str, Any]:
    """The payload a client message is stored with: its fields minus `type`, `id` and `ts`."""
    return message.to_wire(exclude={"type", "id", "ts"}, exclude_none=True)


# ----- server -> client -----------------------------------------------------------


class ServerMessage(CamelModel):
    """Base of server messages."""

    def to_json_dict(self) -> dict[str, Any]:
        return self.to_wire(exclude_none=True)


class WelcomeMessage(ServerMessage):
    """Answer to a valid `hello`; the replay of missed messages follows it."""

    type: Literal["welcome"] = "welcome"
    session_id: str
    status: str
    current_question: QuestionOut | None = None
    question_remaining_seconds: float | None = Field(default=None, description="Time left on the current question.")
    last_seq: int = Field(description="The session's latest seq (server and client events share the counter).")
    heartbeat_seconds: float
    max_message_bytes: int
    ice_servers: list[dict[str, Any]] = Field(default_factory=list, description="RTCIceServer objects for WebRTC.")
    server_time: datetime

    def to_json_dict(self) -> dict[str, Any]:
        return self.to_wire()  # every field, null included: the client always learns the current question


class QuestionMessage(QuestionOut, ServerMessage):
    """A question is asked (persisted)."""

    type: Literal["question"] = "question"
    seq: int


class QuestionTimeoutMessage(ServerMessage):
    """The question's time limit ran out server-side; the next `question` (or the end) follows."""

    type: Literal["question.timeout"] = "question.timeout"
    seq: int
    question_id: str
    number: int


class AnswerRecordedMessage(ServerMessage):
    """An `answer.submit` was recorded as the answer to the current question."""

    type: Literal["answer.recorded"] = "answer.recorded"
    seq: int
    answer_id: str | None = Field(default=None, description="The `id` of the `answer.submit`.")
    question_id: str
    number: int


class TranscriptFinalMessage(ServerMessage):
    """A final transcript line from the server's recogniser (persisted)."""

    type: Literal["transcript.final"] = "transcript.final"
    seq: int
    text: str
    start_ms: int
    end_ms: int
    question_id: str | None = None
    source: str | None = None


class SessionSummary(CamelModel):
    """Counts sent with the completion."""

    model_config = ConfigDict(extra="allow")

    questions_total: int | None = None
    questions_answered: int | None = None
    answers_submitted: int | None = None
    transcripts: int | None = None
    duration: float | None = None


class SessionStateMessage(ServerMessage):
    """The session's status changed (started, paused, resumed, completed, abandoned, error)."""

    type: Literal["session.state"] = "session.state"
    seq: int
    status: str
    event: str = Field(description="The stored event: session.started, session.paused, session.completed, ...")
    previous: str | None = Field(default=None, description="The status before the change.")
    reason: str | None = None
    summary: SessionSummary | None = Field(default=None, description="Sent with completion.")


class TokenRefreshMessage(ServerMessage):
    """A fresh session token, sent well before the current one expires (persisted without the token)."""

    type: Literal["token.refresh"] = "token.refresh"
    seq: int
    token: str
    expires_at: datetime


class MediaStateMessage(ServerMessage):
    """The WebRTC media connection changed state (persisted)."""

    type: Literal["media.state"] = "media.state"
    seq: int
    state: str


class ErrorMessage(ServerMessage):
    """Something the client sent (or the server tried) failed; `id` names the offending message."""

    type: Literal["error"] = "error"
    code: str
    message: str
    id: str | None = None
    retryable: bool = Field(default=False, description="True: not stored; resend later (same id). False: dropped.")
    details: Any = None
    seq: int | None = Field(default=None, description="Only when the error was persisted in the session log.")


class AckMessage(ServerMessage):
    """Ids of client messages now durably stored (ephemeral)."""

    type: Literal["ack"] = "ack"
    ids: list[str]


class PingMessage(ServerMessage):
    """Heartbeat (ephemeral); answer with `pong`."""

    type: Literal["ping"] = "ping"
    ts: int = Field(description="Server time in epoch milliseconds.")


class TranscriptPartialMessage(ServerMessage):
    """An interim transcript from the server's recogniser (ephemeral, not replayed)."""

    type: Literal["transcript.partial"] = "transcript.partial"
    text: str
    start_ms: int
    end_ms: int


SERVER_MESSAGE_MODELS: tuple[type[ServerMessage], ...] = (
    WelcomeMessage,
    QuestionMessage,
    QuestionTimeoutMessage,
    AnswerRecordedMessage,
    TranscriptFinalMessage,
    SessionStateMessage,
    TokenRefreshMessage,
    MediaStateMessage,
    ErrorMessage,
    AckMessage,
    PingMessage,
    TranscriptPartialMessage,
)
EPHEMERAL_SERVER_TYPES = frozenset({"ack", "ping", "transcript.partial", "welcome"})

# ----- stored server events -> wire messages ---------------------------------------

STATE_EVENT_TYPES = frozenset({"session.started", *TRANSITION_EVENT.values()})
_BY_EVENT_TYPE: dict[str, type[ServerMessage]] = {
    "question": QuestionMessage,
    "question.timeout": QuestionTimeoutMessage,
    "answer.recorded": AnswerRecordedMessage,
    "transcript.final": TranscriptFinalMessage,
    "media.state": MediaStateMessage,
    "error": ErrorMessage,
}

TokenMinter = Callable[[], IssuedToken]


def render_event(event: EventDoc, mint_token: TokenMinter) -> dict[str, Any]:
    """The wire message for a stored server event; tokens are minted here, never stored."""
    payload = event.payload
    try:
        if event.type in STATE_EVENT_TYPES:
            message: ServerMessage = SessionStateMessage(
                seq=event.seq,
                status=payload.get("status", ""),
                event=event.type,
                previous=payload.get("from"),
                reason=payload.get("reason"),
                summary=payload.get("summary"),
            )
        elif event.type == "token.refresh":
            issued = mint_token()
            message = TokenRefreshMessage(seq=event.seq, token=issued.token, expires_at=issued.expires_at)
        elif event.type in _BY_EVENT_TYPE:
            message = _BY_EVENT_TYPE[event.type].model_validate({**payload, "seq": event.seq})
        else:
            return _passthrough(event)
    except ValidationError:
        logger.error("stored %s event does not match its model", event.type, extra={"session_id": event.session_id})
        return _passthrough(event)
    return message.to_json_dict()


def _passthrough(event: EventDoc) -> dict[str, Any]:
    # A persisted event the protocol has no model for still reaches the client: a seq is never skipped.
    return {**event.payload, "type": event.type, "seq": event.seq}
