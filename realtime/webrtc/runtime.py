"""What every connection's media shares: the transcriber (one worker pool), ICE servers, host addresses."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiortc import RTCIceServer

from realtime.speech import SpeechCache, SpeechUnavailable
from realtime.transcription import Transcriber

if TYPE_CHECKING:
    from realtime.webrtc.media_session import MediaSession

logger = logging.getLogger(__name__)


@dataclass
class MediaRuntime:
    transcriber: Transcriber
    ice_servers: list[RTCIceServer]
    voice: SpeechCache | None = None  # the interviewer's voice; None: the page speaks itself
    speech_end_silence_ms: int = 400
    recording_segment_seconds: float = 60.0  # a live recording's segments: a crash loses at most the open one
    host_addresses: list[str] = field(default_factory=list)
    sessions: set[MediaSession] = field(default_factory=set)
    _warm_up: asyncio.Task[None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.host_addresses:
            _gather_host_candidates_on(self.host_addresses)

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

    @property
    def transcribes(self) -> bool:
        return self.transcriber.produces_text

    @property
    def voice_name(self) -> str | None:
        return self.voice.engine.voice if self.voice is not None else None

    def start(self, questions: list[tuple[str, str]] | None = None) -> None:
        """Load the speech model and start the voice in the background: the first interview does not wait.

        `questions` ((id, text) of the bank) are then spoken into the cache one at a time, so even
        a session's first question plays at once; what the disk cache already holds costs nothing.
        """
        self._warm_up = asyncio.create_task(self._load(questions or []), name="media-warm-up")

    async def _load(self, questions: list[tuple[str, str]]) -> None:
        if self.voice is not None:
            await self.voice.engine.start()
        try:
            await self.transcriber.warm_up()
        except Exception:
            logger.exception("speech model failed to load; server-side transcripts are unavailable")
        if self.voice is not None:
            await self._prepare(self.voice, questions)

    @staticmethod
    async def _prepare(voice: SpeechCache, questions: list[tuple[str, str]]) -> None:
        for question_id, text in questions:
            try:
                await voice.get(question_id, text)
            except SpeechUnavailable:
                logger.info("question bank not prepared aloud: the voice is unavailable")
                return

    async def close(self) -> None:
        if self._warm_up is not None:
            self._warm_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warm_up
        await self.transcriber.close()
        if self.voice is not None:
            await self.voice.engine.close()


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
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: chosen
