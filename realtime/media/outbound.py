"""The server's outbound audio track: the interviewer's voice, or silence, paced in real time."""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Callable
from typing import Protocol

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

OUT_RATE = 48_000
OUT_FRAME_SAMPLES = 960  # 20 ms: one Opus packet
_TIME_BASE = fractions.Fraction(1, OUT_RATE)
_SILENCE = np.zeros((1, OUT_FRAME_SAMPLES), dtype=np.int16)


class FrameSource(Protocol):
    def next_frame(self) -> bytes | None:
        """The next 20 ms of 48 kHz mono s16 PCM, or None for silence; called every 20 ms, must not block."""
        ...


class OutboundAudioTrack(MediaStreamTrack):
    """An aiortc audio track that asks its source for each frame when it is due (never ahead of time),
    so a stop takes effect on the very next frame."""

    kind = "audio"

    def __init__(self, source: FrameSource, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._source = source
        self._clock = clock
        self._start: float | None = None
        self._timestamp = 0
        self.frames_sent = 0
        self.voiced_frames = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = self._clock()
        else:
            self._timestamp += OUT_FRAME_SAMPLES
            wait = self._start + self._timestamp / OUT_RATE - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
        pcm = self._source.next_frame()
        if pcm is None:
            samples = _SILENCE
        else:
            samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
            self.voiced_frames += 1
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = OUT_RATE
        frame.pts = self._timestamp
        frame.time_base = _TIME_BASE
        self.frames_sent += 1
        return frame
