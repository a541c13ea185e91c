"""One session's live media: WebRTC peer -> 16 kHz PCM -> streaming transcription -> events.

Persistent results (`media.state`, `transcript.final`) go through the session's
event log, which delivers them to the live WebSocket with a `seq`; ephemeral ones
(`transcript.partial`, `user.speaking.start/stop`, `audio.level`) go straight to
the connection through `send_ephemeral`. The owner must `close()` it when the
session ends, the socket is replaced or the peer fails: it owns the peer
connection, the transcription stream and every task they start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from realtime.media import IceServerConfig, MediaPeer
from realtime.transcription import SegmenterConfig, StreamingTranscription, Transcriber
from server.sessions import SessionService
from storage.models import RecordingRef

logger = logging.getLogger(__name__)

LEVEL_INTERVAL_SECONDS = 0.2  # audio.level messages at most 5 per second
SendEphemeral = Callable[[dict[str, Any]], None]


class MediaSession:
    """Owns a session's MediaPeer and StreamingTranscription."""

    def __init__(
        self,
        *,
        session_id: str,
        service: SessionService,
        transcriber: Transcriber,
        ice_servers: list[IceServerConfig],
        send_ephemeral: SendEphemeral,
        recording_path: Path | None = None,
        accept_video: bool = False,
        on_failed: Callable[[], None] | None = None,
        speech_end_silence_ms: int = 400,
    ) -> None:
        self.session_id = session_id
        self._on_failed = on_failed
        self._service = service
        self._send = send_ephemeral
        self._recording_path = recording_path
        self._last_level_sent = 0.0
        self._last_state: str | None = None
        self._stream = StreamingTranscription(
            transcriber,
            on_speaking=self._on_speaking,
            on_partial=self._on_partial,
            on_final=self._on_final,
            stream_id=session_id,
            config=SegmenterConfig(hangover_ms=speech_end_silence_ms),
        )
        self._peer = MediaPeer(
            session_id=session_id,
            ice_servers=ice_servers,
            on_audio=self._on_audio,
            on_state=self._on_state,
            recording_path=recording_path,
            accept_video=accept_video,
        )
        self._closed = False

    @property
    def state(self) -> str:
        return self._peer.state

    async def offer(self, sdp: str) -> str:
        """Answer the browser's offer (renegotiation or ICE restart when one exists)."""
        answer = await self._peer.handle_offer(sdp)
        if self._recording_path is not None:
            await self._reference_recording(self._recording_path)
        return answer

    async def restart(self, sdp: str) -> str:
        return await self._peer.restart(sdp)

    async def add_ice_candidate(self, candidate: dict[str, Any] | None) -> None:
        await self._peer.add_ice_candidate(candidate)

    async def close(self) -> None:
        """Close the peer and the stream; a pending utterance is finalised first."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._peer.close()
            await self._stream.flush()
        finally:
            await self._stream.close()

    # ----- callbacks ------------------------------------------------------------

    def _on_audio(self, pcm: bytes) -> None:
        self._stream.feed(pcm)
        now = time.monotonic()
        if now - self._last_level_sent >= LEVEL_INTERVAL_SECONDS:
            self._last_level_sent = now
            self._send({"type": "audio.level", "level": round(self._stream.audio_level, 3)})

    async def _on_state(self, state: str) -> None:
        if state == self._last_state or state in ("new", "connecting", "closed"):
            return
        self._last_state = state
        if state in ("disconnected", "failed"):
            # No more audio is coming for now: finalise what the candidate said so far.
            await self._stream.flush()
        session = await self._service.get(self.session_id)
        if session.is_active:  # an ended session's log stays closed to media noise
            await self._service.event_log.append_server(self.session_id, "media.state", {"state": state})
        if state == "failed" and self._on_failed is not None:
            self._on_failed()

    async def _on_speaking(self, speaking: bool, level: float) -> None:
        self._send({"type": "user.speaking.start" if speaking else "user.speaking.stop", "level": round(level, 3)})

    async def _on_partial(self, text: str, start_ms: int, end_ms: int) -> None:
        self._send({"type": "transcript.partial", "text": text, "startMs": start_ms, "endMs": end_ms})

    async def _on_final(self, text: str, start_ms: int, end_ms: int) -> None:
        session = await self._service.get(self.session_id)
        question = session.current_question()
        payload: dict[str, Any] = {"text": text, "startMs": start_ms, "endMs": end_ms, "source": "server"}
        if question is not None:
            payload["questionId"] = question.id
        await self._service.event_log.append_server(self.session_id, "transcript.final", payload)

    async def _reference_recording(self, path: Path) -> None:
        reference = RecordingRef(path=str(path), content_type="audio/wav")
        await self._service.sessions.update_if(
            self.session_id, {"recording": None}, {"$set": {"recording": reference.to_document()}}
        )


__all__ = ["MediaSession"]
