"""Client -> server messages of the interview protocol (`interview.v1`), parsed by one union on `type`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints, TypeAdapter
from typing_extensions import TypeIs

from server.sessions import (
    INT64_MAX,
    AnswerStartPayload,
    AnswerSubmitPayload,
    EventType,
    NamedEventPayload,
    QuestionNextPayload,
    SessionControlPayload,
    TranscriptPayload,
)
from server.sessions.wire_types import RequestModel, Uuid

MAX_PENDING_IDS = 1000
MAX_SDP_CHARS = 32 * 1024
Sdp = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SDP_CHARS)]


class HelloMessage(RequestModel):
    """First message of every connection: authenticates and says where to resume."""

    type: Literal["hello"]
    token: Annotated[str, StringConstraints(min_length=1, max_length=8192)]
    last_seq: int | None = Field(
        default=None, ge=0, le=INT64_MAX, description="Highest server `seq` already seen; null = none."
    )
    pending_ids: list[Uuid] = Field(
        default_factory=list,
        max_length=MAX_PENDING_IDS,
        description="Ids of sent messages not yet acknowledged; the server acks those it already stored.",
    )


# What a client event message carries besides its payload.
ENVELOPE_FIELDS: set[str] = {"type", "id", "ts"}  # read only


class ClientEventFields(RequestModel):
    """What every state-changing client message adds to its payload."""

    id: Uuid = Field(description="Client-chosen UUID: the idempotency key (stored as `clientEventId`).")
    ts: AwareDatetime | None = Field(
        default=None, description="When it happened on the client (ISO 8601 with offset); defaults to receipt time."
    )

    @property
    def event_type(self) -> EventType:
        return EventType(getattr(self, "type"))  # noqa: B009 - every subclass declares its literal `type`


class AnswerStartMessage(AnswerStartPayload, ClientEventFields):
    """The candidate starts answering a question."""

    type: Literal["answer.start"]


class AnswerSubmitMessage(AnswerSubmitPayload, ClientEventFields):
    """The candidate's answer to the question it names; recorded once, and the flow advances past the current one."""

    type: Literal["answer.submit"]


class QuestionNextMessage(QuestionNextPayload, ClientEventFields):
    """Skip to the next question (when `questionId` is the current one, or omitted)."""

    type: Literal["question.next"]


class TranscriptMessage(TranscriptPayload, ClientEventFields):
    """A transcript line from a client-side recogniser."""

    type: Literal["transcript"]


class EventMessage(NamedEventPayload, ClientEventFields):
    """A named client event (`tab.hidden`, `mic.muted`, `network.quality`, `offline.mode`, ...)."""

    type: Literal["event"]


class SessionPauseMessage(SessionControlPayload, ClientEventFields):
    """Pause the interview (the question timer stops)."""

    type: Literal["session.pause"]


class SessionResumeMessage(SessionControlPayload, ClientEventFields):
    """Resume a paused interview."""

    type: Literal["session.resume"]


class SessionCompleteMessage(SessionControlPayload, ClientEventFields):
    """End the interview now."""

    type: Literal["session.complete"]


class PongMessage(RequestModel):
    """Answer to `ping` (any client message counts as a sign of life)."""

    type: Literal["pong"]
    ts: int | None = Field(default=None, description="The `ts` of the ping being answered.")


class WebRTCOfferMessage(RequestModel):
    """The browser's SDP offer (audio required, video optional); answered by `webrtc.answer`."""

    type: Literal["webrtc.offer"]
    sdp: Sdp


class WebRTCRestartMessage(RequestModel):
    """A new offer after a network change (ICE restart); answered by `webrtc.answer`."""

    type: Literal["webrtc.restart"]
    sdp: Sdp


class IceCandidate(RequestModel):
    """The browser's RTCIceCandidateInit."""

    candidate: Annotated[str, StringConstraints(max_length=2048)]
    sdp_mid: Annotated[str, StringConstraints(max_length=64)] | None = None
    sdp_m_line_index: int | None = Field(default=None, ge=0, le=64)
    username_fragment: Annotated[str, StringConstraints(max_length=256)] | None = None


class WebRTCIceMessage(RequestModel):
    """A trickled ICE candidate (null or an empty candidate: end of candidates)."""

    type: Literal["webrtc.ice"]
    candidate: IceCandidate | None = None


class QuestionRepeatMessage(RequestModel):
    """Ask the interviewer to say the current question again (ephemeral; no reply but its `question.audio`)."""

    type: Literal["question.repeat"]
    question_id: Annotated[str, StringConstraints(max_length=128)] | None = None


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
SignallingMessage = WebRTCOfferMessage | WebRTCRestartMessage | WebRTCIceMessage | QuestionRepeatMessage
ClientMessage = Annotated[
    HelloMessage | ClientEventMessage | PongMessage | SignallingMessage, Field(discriminator="type")
]
CLIENT_MESSAGE_ADAPTER: TypeAdapter[HelloMessage | ClientEventMessage | PongMessage | SignallingMessage] = TypeAdapter(
    ClientMessage
)
CLIENT_EVENT_MODELS: tuple[type[ClientEventFields], ...] = (
    AnswerStartMessage,
    AnswerSubmitMessage,
    QuestionNextMessage,
    TranscriptMessage,
    EventMessage,
    SessionPauseMessage,
    SessionResumeMessage,
    SessionCompleteMessage,
)
SIGNALLING_MODELS: tuple[type[RequestModel], ...] = (
    WebRTCOfferMessage,
    WebRTCIceMessage,
    WebRTCRestartMessage,
    QuestionRepeatMessage,
)
CLIENT_MESSAGE_MODELS: tuple[type[RequestModel], ...] = (HelloMessage, *CLIENT_EVENT_MODELS, PongMessage)


def is_signalling(message: object) -> TypeIs[SignallingMessage]:
    """Whether a parsed client message belongs to the WebRTC signalling (handled outside the channel)."""
    return isinstance(message, WebRTCOfferMessage | WebRTCRestartMessage | WebRTCIceMessage | QuestionRepeatMessage)
