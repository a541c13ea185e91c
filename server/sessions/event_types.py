"""Every event type a session's log can hold, and which side writes it."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """The `type` of a stored event (collection `sessionEvents`)."""

    # Written by the server.
    SESSION_STARTED = "session.started"
    SESSION_PAUSED = "session.paused"
    SESSION_RESUMED = "session.resumed"
    SESSION_COMPLETED = "session.completed"
    SESSION_ABANDONED = "session.abandoned"
    SESSION_ERROR = "session.error"
    QUESTION = "question"
    QUESTION_TIMEOUT = "question.timeout"
    ANSWER_RECORDED = "answer.recorded"
    TRANSCRIPT_FINAL = "transcript.final"
    MEDIA_STATE = "media.state"
    TOKEN_REFRESH = "token.refresh"
    ERROR = "error"
    # Written by the client (facts, and commands that change the session).
    TRANSCRIPT = "transcript"
    ANSWER_START = "answer.start"
    ANSWER_SUBMIT = "answer.submit"
    QUESTION_NEXT = "question.next"
    EVENT = "event"
    SESSION_PAUSE = "session.pause"
    SESSION_RESUME = "session.resume"
    SESSION_COMPLETE = "session.complete"


STATE_EVENT_TYPES = frozenset(
    {
        EventType.SESSION_STARTED,
        EventType.SESSION_PAUSED,
        EventType.SESSION_RESUMED,
        EventType.SESSION_COMPLETED,
        EventType.SESSION_ABANDONED,
        EventType.SESSION_ERROR,
    }
)
# Client events that ask the session to do something (the others are facts, stored as they are).
COMMAND_TYPES = frozenset(
    {
        EventType.ANSWER_SUBMIT,
        EventType.QUESTION_NEXT,
        EventType.SESSION_PAUSE,
        EventType.SESSION_RESUME,
        EventType.SESSION_COMPLETE,
    }
)
TRANSCRIPT_TYPES = frozenset({EventType.TRANSCRIPT, EventType.TRANSCRIPT_FINAL})
