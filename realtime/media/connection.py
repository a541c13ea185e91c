"""The pieces a MediaPeer is made of: one aiortc connection, its counters, its log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack


@dataclass
class MediaStats:
    """Counters of what the peer received, for logs and metrics."""

    audio_frames: int = 0
    """Audio frames received from the browser (typically 20 ms each)."""
    audio_bytes: int = 0
    """Bytes of 16 kHz mono s16le PCM handed to ``on_audio``."""
    video_frames: int = 0
    """Video frames received and dropped."""
    connections: int = 0
    """Peer connections negotiated: the first one plus one per ICE restart."""


@dataclass(eq=False)
class PeerConnection:
    """One aiortc peer connection and the reader tasks of its tracks."""

    pc: RTCPeerConnection
    ice_ufrag: str
    readers: set[asyncio.Task[None]] = field(default_factory=set)
    audio_track: MediaStreamTrack | None = None
    outbound: MediaStreamTrack | None = None  # the interviewer's voice, when the peer has one
    disposed: bool = False


class SessionLog(logging.LoggerAdapter[logging.Logger]):
    """Prefixes records with the session id and attaches it as ``session_id``."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = dict(self.extra or {})
        kwargs["extra"] = {**extra, **kwargs.get("extra", {})}
        return f"[session {extra.get('session_id')}] {msg}", kwargs
