"""WebRTC signalling over the interview WebSocket, as a per-connection hook.

Client `webrtc.offer` / `webrtc.ice` / `webrtc.restart` arrive on the live socket;
the hook owns the session's MediaSession (peer connection + transcription) and
closes it when the connection ends (session over, socket replaced or dropped) or
the peer fails. A reconnecting client negotiates a new peer connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, TypeAdapter, ValidationError

from realtime.channel import Connection
from realtime.channel.protocol import ServerMessage
from realtime.media import IceServerConfig, MediaError, parse_ice_servers
from realtime.media_session import MediaSession
from realtime.transcription import Transcriber, create_transcriber
from server.config import Settings
from server.errors import AppError, ErrorCode
from server.wire import RequestModel
from storage.models import SessionStatus

logger = logging.getLogger(__name__)

MAX_SDP_CHARS = 32 * 1024
Sdp = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SDP_CHARS)]

# ----- messages ----------------------------------------------------------------------


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


WEBRTC_CLIENT_MODELS: tuple[type[RequestModel], ...] = (WebRTCOfferMessage, WebRTCIceMessage, WebRTCRestartMessage)
WEBRTC_SERVER_MODELS: tuple[type[ServerMessage], ...] = (WebRTCAnswerMessage, UserSpeakingMessage, AudioLevelMessage)
_WEBRTC_ADAPTER: TypeAdapter[Any] = TypeAdapter(
    Annotated[WebRTCOfferMessage | WebRTCIceMessage | WebRTCRestartMessage, Field(discriminator="type")]
)

# ----- shared runtime -------------------------------------------------------------------


@dataclass
class MediaRuntime:
    """What every connection's media shares: the transcriber (one worker pool) and ICE servers."""

    transcriber: Transcriber
    ice_servers: list[IceServerConfig]
    recordings_dir: Path
    speech_end_silence_ms: int = 400
    host_addresses: list[str] = field(default_factory=list)
    sessions: set[MediaSession] = field(default_factory=set)
    _warm_up: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaRuntime:
        if settings.media_host_addresses:
            _gather_host_candidates_on(settings.media_host_addresses)
        return cls(
            transcriber=create_transcriber(
                settings.transcriber, settings.whisper_model, settings.transcribe_workers, settings.transcribe_threads
            ),
            ice_servers=parse_ice_servers(settings.ice_servers),
            recordings_dir=settings.recordings_path,
            speech_end_silence_ms=settings.speech_end_silence_ms,
            host_addresses=list(settings.media_host_addresses),
        )

    @property
    def loopback_only(self) -> bool:
        return bool(self.host_addresses) and all(_is_loopback(a) for a in self.host_addresses)

    def reachable(self, candidate_line: str) -> bool:
        """False for remote candidates our host addresses cannot pair with (loopback-only media).

        Pairing a loopback-only server with a browser's LAN candidates can never
        succeed; dropping them keeps every connectivity check on loopback.
        """
        if not self.loopback_only or not candidate_line:
            return True
        parts = candidate_line.removeprefix("a=").split()
        return len(parts) > 4 and _is_loopback(parts[4])

    def without_unreachable_candidates(self, sdp: str) -> str:
        if not self.loopback_only:
            return sdp
        lines = sdp.split("\r\n") if "\r\n" in sdp else sdp.split("\n")
        kept = [line for line in lines if not line.startswith("a=candidate:") or self.reachable(line)]
        return ("\r\n" if "\r\n" in sdp else "\n").join(kept)

    def start(self) -> None:
        """Load the speech model in the background so the first interview does not wait for it."""
        self._warm_up = asyncio.create_task(self._load(), name="transcriber-warm-up")

    async def _load(self) -> None:
        try:
            await self.transcriber.warm_up()
        except Exception:
            logger.exception("speech model failed to load; server-side transcripts are unavailable")

    async def close(self) -> None:
        if self._warm_up is not None:
            self._warm_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warm_up
        await self.transcriber.close()


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


def _gather_host_candidates_on(addresses: list[str]) -> None:
    """Make aioice offer host candidates on these addresses only.

    aioice has no option for this and skips loopback, so a machine whose media
    must stay on given addresses (a test host, a multi-homed server) replaces its
    address lookup, process-wide, once at start-up.
    """
    import aioice.ice

    chosen = list(addresses)
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: chosen  # type: ignore[assignment]


# ----- the hook -------------------------------------------------------------------------


class WebRTCHook:
    """One connection's signalling and media (see the module docstring)."""

    message_types = frozenset({"webrtc.offer", "webrtc.ice", "webrtc.restart"})

    def __init__(self, connection: Connection, runtime: MediaRuntime) -> None:
        self._connection = connection
        self._runtime = runtime
        self._media: MediaSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def on_message(self, message: dict[str, Any]) -> None:
        try:
            parsed = _WEBRTC_ADAPTER.validate_python(message)
        except ValidationError as error:
            details = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in error.errors()]
            raise AppError(400, ErrorCode.VALIDATION_ERROR, "Invalid WebRTC message", details) from None
        try:
            if isinstance(parsed, WebRTCIceMessage):
                await self._candidate(parsed)
                return
            media = await self._media_for_offer()
            sdp = self._runtime.without_unreachable_candidates(parsed.sdp)
            if isinstance(parsed, WebRTCRestartMessage):
                answer = await media.restart(sdp)
            else:
                answer = await media.offer(sdp)
        except MediaError as error:
            raise AppError(400, ErrorCode.WEBRTC_ERROR, error.message, {"reason": str(error.code)}) from None
        self._connection.send_ephemeral(WebRTCAnswerMessage(sdp=answer))

    async def _candidate(self, message: WebRTCIceMessage) -> None:
        if self._media is None:
            raise AppError(400, ErrorCode.WEBRTC_ERROR, "Send webrtc.offer before ICE candidates")
        if message.candidate and not self._runtime.reachable(message.candidate.candidate):
            return
        candidate = message.candidate.to_wire(exclude_none=True) if message.candidate else None
        await self._media.add_ice_candidate(candidate)

    async def _media_for_offer(self) -> MediaSession:
        service = self._connection.service
        session = await service.get(self._connection.session_id)
        if session.status != SessionStatus.IN_PROGRESS and session.status != SessionStatus.PAUSED:
            code = (
                ErrorCode.SESSION_ALREADY_COMPLETED
                if session.status == SessionStatus.COMPLETED
                else ErrorCode.SESSION_NOT_ACTIVE
            )
            raise AppError(400, code, f"Session is {session.status.value}")
        if self._media is None:
            self._media = MediaSession(
                session_id=session.session_id,
                service=service,
                transcriber=self._runtime.transcriber,
                ice_servers=self._runtime.ice_servers,
                send_ephemeral=self._connection.send_ephemeral,
                recording_path=await self._recording_path(session.session_id, session.application_id),
                on_failed=self._on_failed,
                speech_end_silence_ms=self._runtime.speech_end_silence_ms,
            )
            self._runtime.sessions.add(self._media)
        return self._media

    async def _recording_path(self, session_id: str, application_id: str) -> Path | None:
        """Record only when the application asks for it and the candidate consented."""
        service = self._connection.service
        application = await service.applications.get(application_id)
        if application is None or not application.interview.record:
            return None
        consent = await self._connection.channel.events.latest_named_event(session_id, "recording.consent")
        if consent is None or not consent.payload.get("payload", {}).get("granted"):
            return None
        return self._runtime.recordings_dir / f"{session_id}.wav"

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


def webrtc_hook_factory(runtime: MediaRuntime) -> Any:
    def factory(connection: Connection) -> WebRTCHook:
        return WebRTCHook(connection, runtime)

    return factory
