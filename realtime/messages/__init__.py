"""The interview protocol's wire models (`interview.v1`): every client and server message, typed.

The WebSocket channel and the WebRTC signalling both speak these; docs/protocol.md and
docs/protocol.schema.json are generated from them.
"""

from realtime.messages.client import (
    CLIENT_EVENT_MODELS,
    CLIENT_MESSAGE_ADAPTER,
    CLIENT_MESSAGE_MODELS,
    MAX_PENDING_IDS,
    SIGNALLING_MODELS,
    AnswerSubmitMessage,
    ClientEventFields,
    ClientEventMessage,
    EventMessage,
    HelloMessage,
    IceCandidate,
    PongMessage,
    SignallingMessage,
    TranscriptMessage,
    WebRTCIceMessage,
    WebRTCOfferMessage,
    WebRTCRestartMessage,
    is_signalling,
)
from realtime.messages.render import TokenMinter, render_event
from realtime.messages.server import (
    EPHEMERAL_SERVER_TYPES,
    MEDIA_SERVER_MODELS,
    SERVER_MESSAGE_MODELS,
    AckMessage,
    AudioLevelMessage,
    ErrorMessage,
    PingMessage,
    ServerMessage,
    TranscriptPartialMessage,
    UserSpeakingMessage,
    WebRTCAnswerMessage,
    WelcomeMessage,
)

SUBPROTOCOL = "interview.v1"

__all__ = [
    "CLIENT_EVENT_MODELS",
    "CLIENT_MESSAGE_ADAPTER",
    "CLIENT_MESSAGE_MODELS",
    "EPHEMERAL_SERVER_TYPES",
    "MAX_PENDING_IDS",
    "MEDIA_SERVER_MODELS",
    "SERVER_MESSAGE_MODELS",
    "SIGNALLING_MODELS",
    "SUBPROTOCOL",
    "AckMessage",
    "AnswerSubmitMessage",
    "AudioLevelMessage",
    "ClientEventFields",
    "ClientEventMessage",
    "ErrorMessage",
    "EventMessage",
    "HelloMessage",
    "IceCandidate",
    "PingMessage",
    "PongMessage",
    "ServerMessage",
    "SignallingMessage",
    "TokenMinter",
    "TranscriptMessage",
    "TranscriptPartialMessage",
    "UserSpeakingMessage",
    "WebRTCAnswerMessage",
    "WebRTCIceMessage",
    "WebRTCOfferMessage",
    "WebRTCRestartMessage",
    "WelcomeMessage",
    "is_signalling",
    "render_event",
]
