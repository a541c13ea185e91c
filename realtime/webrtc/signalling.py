"""WebRTC signalling over the interview WebSocket: one handler per connection.

Client `webrtc.offer` / `webrtc.ice` / `webrtc.restart` arrive on the live socket;
the handler owns the session's MediaSession (peer connection + transcription) and
closes it when the connection ends (session over, socket replaced or dropped) or
the peer fails. A reconnecting client negotiates a new peer connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from realtime.channel import LivePeer
from realtime.media import MediaError
from realtime.messages import (
    QuestionRepeatMessage,
    SignallingMessage,
    WebRTCAnswerMessage,
    WebRTCIceMessage,
    WebRTCRestartMessage,
)
from realtime.webrtc.media_session import MediaSession
from realtime.webrtc.runtime import MediaRuntime
from server.sessions import DomainError, ErrorCode, LiveRecording, SessionService, session_closed
from storage import EventDoc, SessionDoc

logger = logging.getLogger(__name__)


class WebRTCSignalling:
    """One connection's signalling and media (see the module docstring)."""

    def __init__(self, peer: LivePeer, service: SessionService, runtime: MediaRuntime) -> None:
        self._peer = peer
        self._service = service
        self._runtime = runtime
        self._media: MediaSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, message: SignallingMessage) -> None:
        if isinstance(message, QuestionRepeatMessage):
            if self._media is not None:
                self._media.repeat(message.question_id)
            return
        try:
            if isinstance(message, WebRTCIceMessage):
                await self._candidate(message)
                return
            media = await self._media_for_offer()
            sdp = self._runtime.without_unreachable_candidates(message.sdp)
            if isinstance(message, WebRTCRestartMessage):
                answer = await media.restart(sdp)
            else:
                answer = await media.offer(sdp)
        except MediaError as error:
            raise DomainError(ErrorCode.WEBRTC_ERROR, error.message, {"reason": str(error.code)}) from None
        self._peer.send(WebRTCAnswerMessage(sdp=answer))

    async def _candidate(self, message: WebRTCIceMessage) -> None:
        if self._media is None:
            raise DomainError(ErrorCode.WEBRTC_ERROR, "Send webrtc.offer before ICE candidates")
        if message.candidate and not self._runtime.reachable(message.candidate.candidate):
            return
        candidate = message.candidate.to_wire(exclude_none=True) if message.candidate else None
        await self._media.add_ice_candidate(candidate)

    async def _media_for_offer(self) -> MediaSession:
        session = await self._service.get(self._peer.session_id)
        if not session.is_active:
            raise session_closed(session.status)
        if self._media is None:
            self._media = MediaSession(
                session=session,
                service=self._service,
                transcriber=self._runtime.transcriber,
                ice_servers=self._runtime.ice_servers,
                send=self._peer.send,
                voice=self._runtime.voice,
                recording=await self._recording(session),
                segment_seconds=self._runtime.recording_segment_seconds,
                on_failed=self._on_failed,
                speech_end_silence_ms=self._runtime.speech_end_silence_ms,
            )
            self._runtime.sessions.add(self._media)
        return self._media

    async def _recording(self, session: SessionDoc) -> LiveRecording | None:
        """Record only when the application asks for it, the candidate consented and nothing was uploaded."""
        if not await self._service.recordings.consent(session):
            return None
        return await self._service.recordings.live(session)

    def server_event(self, event: EventDoc) -> None:
        if self._media is not None:
            self._media.server_event(event)

    async def settle(self) -> None:
        if self._media is not None:
            await self._media.settle()

    def _on_failed(self) -> None:
        # The peer failed for good: release it; the client may send a new offer.
        media, self._media = self._media, None
        if media is not None:
            task = asyncio.create_task(self._release(media), name=f"media-close:{media.session_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _release(self, media: MediaSession) -> None:
        try:
            await media.close()
        finally:
            self._runtime.sessions.discard(media)

    async def close(self) -> None:
        media, self._media = self._media, None
        if media is not None:
            await self._release(media)
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def signalling_factory(
    service: SessionService, runtime: MediaRuntime
) -> Callable[[LivePeer, SessionDoc], WebRTCSignalling]:
    def factory(peer: LivePeer, _session: SessionDoc) -> WebRTCSignalling:
        return WebRTCSignalling(peer, service, runtime)

    return factory
