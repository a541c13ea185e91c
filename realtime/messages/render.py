"""Stored server events as wire messages: one function, used for replays and live delivery alike."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from realtime.messages.server import (
    AnswerRecordedMessage,
    ErrorMessage,
    MediaStateMessage,
    QuestionMessage,
    QuestionTimeoutMessage,
    ServerMessage,
    SessionStateMessage,
    SessionSummary,
    TokenRefreshMessage,
    TranscriptFinalMessage,
)
from server.sessions import STATE_EVENT_TYPES, EventType, IssuedToken
from storage import EventDoc

logger = logging.getLogger(__name__)

TokenMinter = Callable[[], IssuedToken]

_BY_EVENT_TYPE: dict[str, type[ServerMessage]] = {
    EventType.QUESTION: QuestionMessage,
    EventType.QUESTION_TIMEOUT: QuestionTimeoutMessage,
    EventType.ANSWER_RECORDED: AnswerRecordedMessage,
    EventType.TRANSCRIPT_FINAL: TranscriptFinalMessage,
    EventType.MEDIA_STATE: MediaStateMessage,
    EventType.ERROR: ErrorMessage,
}


def render_event(event: EventDoc, mint_token: TokenMinter) -> dict[str, Any]:
    """The wire message for a stored server event; tokens are minted here, never stored."""
    payload = event.payload
    try:
        message: ServerMessage
        if event.type in STATE_EVENT_TYPES:
            summary = payload.get("summary")
            message = SessionStateMessage(
                seq=event.seq,
                status=payload.get("status", ""),
                event=event.type,
                previous=payload.get("from"),
                reason=payload.get("reason"),
                summary=SessionSummary.model_validate(summary) if summary is not None else None,
            )
        elif event.type == EventType.TOKEN_REFRESH:
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
