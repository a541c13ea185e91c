"""One session's live media: WebRTC peer -> 16 kHz PCM -> streaming transcription -> events.

Persistent results (`media.state`, `transcript.final`) go through the session
service, whose event log delivers them to the live WebSocket with a `seq`;
ephemeral ones (`transcript.partial`, `user.speaking.start/stop`, `audio.level`)
go straight to the connection as their wire models. The owner must `close()` it
when the session ends, the socket is replaced or the peer fails: it owns the
peer connection, the transcription stream and every task they start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiortc import RTCIceServer

from realtime.media import MediaPeer
from realtime.messages import AudioLevelMessage, ServerMessage, TranscriptPartialMessage, UserSpeakingMessage
from realtime.transcription import SegmenterConfig, StreamingTranscription, Transcriber
from server.sessions import SessionService
from storage import RecordingRef

logger = logging.getLogger(__name__)

LEVEL_INTERVAL_SECONDS = 0.2  # audio.level messages at most 5 per second
Send = Callable[[ServerMessage], None]


class MediaSession:
    """Owns a session's MediaPeer and StreamingTranscription."""

    def __init__(
        self,
        *,
        session_id: str,
        service: SessionService,
        transcriber: Transcriber,
        ice_servers: list[RTCIceServer],
        send: Send,
        recording_path: Path | None = None,
        on_failed: Callable[[], None] | None = None,
        speech_end_silence_ms: int = 400,
    ) -> None:
        self.session_id = session_id
        self._on_failed = on_failed
        self._service = service
        self._send = send
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
        )
        self._closed = False

    @property
    def state(self) -> str:
        return self._peer.state

    async def offer(self, sdp: str) -> str:
        """Answer the browser's offer (renegotiation or ICE restart when one exists)."""
        answer = await self._peer.handle_offer(sdp)
        if self._recording_path is not None:
            recording = RecordingRef(path=str(self._recording_path), content_type="audio/wav")
            await self._service.attach_recording(self.session_id, recording)
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
            self._send(AudioLevelMessage(level=round(self._stream.audio_level, 3)))

    async def _on_state(self, state: str) -> None:
        if state == self._last_state or state in ("new", "connecting", "closed"):
            return
        self._last_state = state
        if state in ("disconnected", "failed"):
            # No more audio is coming for now: finalise what the candidate said so far.
            await self._stream.flush()
        await self._service.record_media_state(self.session_id, state)
        if state == "failed" and self._on_failed is not None:
            self._on_failed()

    async def _on_speaking(self, speaking: bool, level: float) -> None:
        if speaking:
            self._send(UserSpeakingMessage(type="user.speaking.start", level=round(level, 3)))
        else:
            self._send(UserSpeakingMessage(type="user.speaking.stop", level=round(level, 3)))

    async def _on_partial(self, text: str, start_ms: int, end_ms: int) -> None:
        self._send(TranscriptPartialMessage(text=text, start_ms=start_ms, end_ms=end_ms))

    async def _on_final(self, text: str, start_ms: int, end_ms: int) -> None:
        await self._service.record_transcript(self.session_id, text, start_ms, end_ms)
