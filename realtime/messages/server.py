"""Server -> client messages of the interview protocol: persisted ones carry a `seq`, ephemeral ones do not."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from server.sessions import QuestionView
from storage import CamelModel


class ServerMessage(CamelModel):
    """Base of server messages; `to_json_dict` is what goes on the wire."""

    def to_json_dict(self) -> dict[str, Any]:
        return self.to_wire(exclude_none=True)


class MediaCapabilities(CamelModel):
    """Whether the server transcribes speech and speaks the questions (set by the deployment)."""

    transcription: bool = Field(description="Speech sent over WebRTC becomes transcript lines.")
    voice: str | None = Field(description="The interviewer's voice (`piper:...`), or null: the page speaks itself.")


class WelcomeMessage(ServerMessage):
    """Answer to a valid `hello`; the replay of missed messages follows it."""

    type: Literal["welcome"] = "welcome"
    session_id: str
    status: str
    current_question: QuestionView | None = None
    question_remaining_seconds: float | None = Field(default=None, description="Time left on the current question.")
    last_seq: int = Field(description="The session's latest seq (server and client events share the counter).")
    heartbeat_seconds: float
    max_message_bytes: int
    ice_servers: list[dict[str, Any]] = Field(default_factory=list, description="RTCIceServer objects for WebRTC.")
    server_time: datetime
    media: MediaCapabilities = Field(description="What the server does with live media in this process.")
    rate_limit_per_second: float = Field(description="Client messages allowed per second, on average.")
    rate_limit_burst: int = Field(description="Client messages allowed in one burst; pace resends under both.")

    def to_json_dict(self) -> dict[str, Any]:
        return self.to_wire()  # every field, null included: the client always learns the current question


class QuestionMessage(QuestionView, ServerMessage):
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
    """An `answer.submit` was recorded as the answer to the question it names."""

    type: Literal["answer.recorded"] = "answer.recorded"
    seq: int
    answer_id: str | None = Field(default=None, description="The `id` of the `answer.submit`.")
    question_id: str
    number: int
    text: str | None = Field(default=None, description="The answer: what was typed, then what was said.")
    spoken_text: str | None = Field(default=None, description="The question's transcript lines, in order.")
    transcript_seqs: list[int] | None = Field(default=None, description="The transcript events it was made of.")
    timed_out: bool | None = Field(default=None, description="The draft submitted when the question's time ran out.")


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


class QuestionAudioMessage(ServerMessage):
    """The interviewer's voice for a question (ephemeral): playing, done, stopped by barge-in, or unavailable.

    `unavailable` means the server could not speak it (no voice, or the engine is restarting):
    the page may speak the text itself.
    """

    type: Literal["question.audio"] = "question.audio"
    question_id: str
    state: Literal["playing", "done", "stopped", "unavailable"]
    duration_ms: int | None = Field(default=None, description="Length of the spoken question (with `playing`).")
    reason: str | None = Field(
        default=None, description="Why it stopped: `barge_in` (the candidate spoke), `moved_on`, `closed`."
    )
    silent_after_ms: int | None = Field(
        default=None,
        description="With `stopped`: from the reason to stop (for barge-in, the voice detector's event) "
        "to the first silent outbound frame.",
    )


class WebRTCAnswerMessage(ServerMessage):
    """The server's SDP answer; it already holds every server candidate (no server trickle)."""

    type: Literal["webrtc.answer"] = "webrtc.answer"
    sdp: str


class UserSpeakingMessage(ServerMessage):
    """The candidate started or stopped speaking (ephemeral, from the server's voice detector)."""

    type: Literal["user.speaking.start", "user.speaking.stop"]
    level: float = Field(ge=0, le=1)


class AudioLevelMessage(ServerMessage):
    """The candidate's audio level, 0..1, at most five times a second (ephemeral)."""

    type: Literal["audio.level"] = "audio.level"
    level: float = Field(ge=0, le=1)


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
MEDIA_SERVER_MODELS: tuple[type[ServerMessage], ...] = (
    WebRTCAnswerMessage,
    UserSpeakingMessage,
    AudioLevelMessage,
    QuestionAudioMessage,
)
EPHEMERAL_SERVER_TYPES = frozenset({"ack", "ping", "transcript.partial", "welcome"})
