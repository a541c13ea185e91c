"""Readers for the browser's remote tracks.

aiortc queues every decoded frame of a remote track without bound, so each
track must be read for as long as it lives, even when its frames are unwanted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from realtime.media.audio import PcmConverter

__all__ = ["consume_audio", "drain_track"]


async def consume_audio(
    track: MediaStreamTrack,
    *,
    deliver: Callable[[bytes], None],
    on_stall: Callable[[], None],
    stall_timeout: float,
) -> None:
    """Read ``track`` until it ends, passing 16 kHz mono s16le PCM to ``deliver``.

    ``deliver(pcm)`` is called once per received frame (``pcm`` may be empty
    while the resampler fills up). ``on_stall()`` is called each time no
    frame arrives for ``stall_timeout`` seconds.
    """
    converter = PcmConverter()
    while True:
        try:
            # Python 3.11's wait_for returns a frame that raced the timeout,
            # and Queue.get keeps its item when cancelled, so no frame is lost.
            frame = await asyncio.wait_for(track.recv(), stall_timeout)
        except TimeoutError:
            on_stall()
            continue
        except MediaStreamError:
            return
        if isinstance(frame, av.AudioFrame):
            deliver(converter.convert(frame))


async def drain_track(track: MediaStreamTrack, *, on_frame: Callable[[], None]) -> None:
    """Read and drop every frame of ``track`` until it ends, calling ``on_frame`` for each."""
    while True:
        try:
            await track.recv()
        except MediaStreamError:
            return
        on_frame()
