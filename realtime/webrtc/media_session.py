"""One session's live media: WebRTC peer <-> transcription, recording and the interviewer's voice.

Persistent results (`media.state`, `transcript.final`) go through the session
service, whose event log delivers them to the live WebSocket with a `seq`;
ephemeral ones (`transcript.partial`, `user.speaking.start/stop`, `audio.level`,
`question.audio`) go straight to the connection as their wire models. Each
transcript line is filed under the question being asked when its utterance
began, whatever the flow did while it was being transcribed. The owner must
`close()` it when the session ends, the socket is replaced or the peer fails.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from aiortc import RTCIceServer

from realtime.media import MediaPeer
from realtime.messages import AudioLevelMessage, ServerMessage, TranscriptPartialMessage, UserSpeakingMessage
from realtime.speech import SpeechCache
from realtime.transcription import SegmenterConfig, StreamingTranscription, Transcriber
from realtime.webrtc.interviewer import Interviewer
from server.sessions import EventType, LiveRecording, QuestionView, SessionService
from storage import EventDoc, QuestionSnapshot, SessionDoc

logger = logging.getLogger(__name__)

LEVEL_INTERVAL_SECONDS = 0.2  # audio.level messages at most 5 per second
SETTLE_EXTRA_SECONDS = 0.3  # beyond the end-of-speech silence, before an answer is stored anyway
Send = Callable[[ServerMessage], None]


class MediaSession:
    """Owns a session's MediaPeer, StreamingTranscription and Interviewer."""

    def __init__(
        self,
        *,
        session: SessionDoc,
        service: SessionService,
        transcriber: Transcriber,
        ice_servers: list[RTCIceServer],
        send: Send,
        voice: SpeechCache | None = None,
        recording: LiveRecording | None = None,
        segment_seconds: float = 60.0,
        on_failed: Callable[[], None] | None = None,
        speech_end_silence_ms: int = 400,
    ) -> None:
        self.session_id = session.session_id
        self._questions: list[QuestionSnapshot] = list(session.questions)
        self._on_failed = on_failed
        self._service = service
        self._send = send
        self._silence_seconds = speech_end_silence_ms / 1000
        self._last_level_sent = 0.0
        self._last_state: str | None = None
        self.interviewer = Interviewer(voice, send, time.monotonic, session.session_id)
        self._stream = StreamingTranscription(
            transcriber,
            on_speaking=self._on_speaking,
            on_partial=self._on_partial,
            on_final=self._on_final,
            stream_id=session.session_id,
            config=SegmenterConfig(hangover_ms=speech_end_silence_ms),
            on_voice=self.interviewer.candidate_speaking,
        )
        self._peer = MediaPeer(
            session_id=session.session_id,
            ice_servers=ice_servers,
            on_audio=self._on_audio,
            on_state=self._on_state,
            recording=recording,
            segment_seconds=segment_seconds,
            voice=self.interviewer.speaker if voice is not None else None,
        )
        question = session.current_question()
        if question is not None and session.is_active and session.asked_question_number >= question.number:
            self._ask(question)
        self._closed = False

    @property
    def state(self) -> str:
        return self._peer.state

    async def offer(self, sdp: str) -> str:
        """Answer the browser's offer (renegotiation or ICE restart when one exists)."""
        return await self._peer.handle_offer(sdp)

    async def restart(self, sdp: str) -> str:
        return await self._peer.restart(sdp)

    async def add_ice_candidate(self, candidate: dict[str, Any] | None) -> None:
        await self._peer.add_ice_candidate(candidate)

    def server_event(self, event: EventDoc) -> None:
        if event.type == EventType.QUESTION:
            number = event.payload.get("number")
            question = next((q for q in self._questions if q.number == number), None)
            if question is not None:
                self._ask(question)

    def repeat(self, question_id: str | None) -> None:
        self.interviewer.repeat(question_id)

    async def settle(self) -> None:
        """Let the utterance in progress end by its own silence (or cut it), and store its final line."""
        await self._stream.wait_quiet(self._silence_seconds + SETTLE_EXTRA_SECONDS)
        await self._stream.flush()

    async def close(self) -> None:
        """Close the peer and the stream; a pending utterance is finalised first."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.interviewer.close()
            await self._peer.close()
            await self._stream.flush()
        finally:
            await self._stream.close()

    def _ask(self, question: QuestionSnapshot) -> None:
        total = len(self._questions)
        view = QuestionView.of(question, total)
        upcoming = next((q for q in self._questions if q.number == question.number + 1), None)
        self._stream.label = question.id
        self.interviewer.question_asked(view, QuestionView.of(upcoming, total) if upcoming else None)

    # ----- callbacks ------------------------------------------------------------

    def _on_audio(self, pcm: bytes) -> None:
        self._stream.feed(pcm)
        now = time.monotonic()
        if now - self._last_level_sent >= LEVEL_INTERVAL_SECONDS:
            self._last_level_sent = now
            self._send(AudioLevelMessage(level=round(self._stream.audio_level, 3)))

    async def _on_state(self, state: str) -> None:
        if state == "closed":
            return
        self.interviewer.peer_connected(state == "connected")
        if state == self._last_state or state in ("new", "connecting"):
            return
        self._last_state = state
        if state in ("disconnected", "failed"):
            # No more audio is coming for now: finalise what the candidate said so far.
            await self._stream.flush()
        await self._service.server_events.media_state(self.session_id, state)
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
        question_id = self._stream.label_for(start_ms)
        await self._service.server_events.transcript(
            self.session_id, text, start_ms, end_ms, question_id=question_id if isinstance(question_id, str) else None
        )
