"""Server events of a live session that change no state: the recogniser's lines, media and token notices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server.sessions.errors import session_not_found
from server.sessions.event_log import EventLog
from server.sessions.event_types import EventType
from storage import TERMINAL_STATUSES, EventDoc, SessionDoc, SessionRepository


class ServerEvents:
    def __init__(self, sessions: SessionRepository, log: EventLog) -> None:
        self._sessions = sessions
        self._log = log

    async def _get(self, session_id: str) -> SessionDoc:
        session = await self._sessions.get(session_id)
        if session is None:
            raise session_not_found()
        return session

    async def transcript(
        self, session_id: str, text: str, start_ms: int, end_ms: int, *, question_id: str | None = None
    ) -> EventDoc:
        """A final line of the server's recogniser, filed under `question_id` (default: the one being asked)."""
        if question_id is None:
            question = (await self._get(session_id)).current_question()
            question_id = question.id if question is not None else None
        payload: dict[str, Any] = {"text": text, "startMs": start_ms, "endMs": end_ms, "source": "server"}
        if question_id is not None:
            payload["questionId"] = question_id
        return await self._log.append_server(session_id, EventType.TRANSCRIPT_FINAL, payload)

    async def media_state(self, session_id: str, state: str) -> EventDoc | None:
        """The WebRTC connection's state; an ended session's log stays closed to media noise."""
        if not (await self._get(session_id)).is_active:
            return None
        return await self._log.append_server(session_id, EventType.MEDIA_STATE, {"state": state})

    async def token_refresh(self, session_id: str, expires_at: datetime) -> EventDoc | None:
        """A `token.refresh` (the token itself is minted when sent); None once the session ended."""
        if (await self._get(session_id)).status in TERMINAL_STATUSES:
            return None
        return await self._log.append_server(session_id, EventType.TOKEN_REFRESH, {"expiresAt": expires_at.isoformat()})
