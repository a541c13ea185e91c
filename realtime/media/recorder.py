"""Live recording: 16 kHz mono s16le PCM handed to a sink in segments, from a task of the recorder's own."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from realtime.media.audio import PCM_SAMPLE_RATE, PCM_SAMPLE_WIDTH

__all__ = ["Segment", "SegmentRecorder", "SegmentSink"]

logger = logging.getLogger(__name__)

# Audio queued beyond this (the store is slow or down) is dropped rather than held without bound.
MAX_QUEUED_SECONDS = 120


class Segment(Protocol):
    """One stretch of the recording being stored; it counts only once published."""

    async def write(self, pcm: bytes) -> None: ...

    async def publish(self) -> None: ...

    async def discard(self) -> None: ...


class SegmentSink(Protocol):
    """Where a recording's segments go (the session's store, a list in a test)."""

    async def open_segment(self) -> Segment: ...


class SegmentRecorder:
    """Record PCM chunks into segments of at most `segment_seconds` without blocking the caller.

    :meth:`write` only enqueues; one task of the recorder's own opens a segment when audio
    arrives, writes to it, publishes it once it is full and starts the next one. A crash
    loses at most the open segment. A segment that fails is discarded and recording goes
    on with a new one (the error is kept in :attr:`error`).
    """

    def __init__(
        self,
        sink: SegmentSink,
        *,
        segment_seconds: float = 60.0,
        log: logging.Logger | logging.LoggerAdapter[logging.Logger] = logger,
    ) -> None:
        self._sink = sink
        self._segment_bytes = max(1, int(segment_seconds * PCM_SAMPLE_RATE)) * PCM_SAMPLE_WIDTH
        self._max_queued = MAX_QUEUED_SECONDS * PCM_SAMPLE_RATE * PCM_SAMPLE_WIDTH
        self._log = log
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._queued = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.frames_written = 0
        """Samples handed to published or open segments so far."""
        self.segments_published = 0
        self.dropped_bytes = 0
        self.error: BaseException | None = None
        """The last error of a segment, if any."""

    def start(self) -> None:
        """Start the writer task (idempotent); must be called from the event loop."""
        if self._task is not None or self._closed:
            return
        self._task = asyncio.create_task(self._run(), name="segment-recorder")

    def write(self, pcm: bytes) -> None:
        """Queue a chunk; never blocks. Dropped if not started, closed, or too far behind."""
        if self._task is None or self._closed or not pcm:
            return
        if self._queued + len(pcm) > self._max_queued:
            self.dropped_bytes += len(pcm)
            return
        self._queued += len(pcm)
        self._queue.put_nowait(pcm)

    async def aclose(self) -> None:
        """Store what is queued, publish the open segment and stop (idempotent).

        If the awaiting task is cancelled, the writer still finishes on its own: the end
        marker is already queued.
        """
        if not self._closed:
            self._closed = True
            if self._task is not None:
                self._queue.put_nowait(None)
        if self._task is not None:
            await asyncio.shield(self._task)
        if self.dropped_bytes:
            self._log.warning("recording dropped %d bytes the store could not take in time", self.dropped_bytes)

    async def _next_batch(self) -> tuple[bytes, bool]:
        """What is queued, joined, and whether the end marker came."""
        chunk = await self._queue.get()
        if chunk is None:
            return b"", True
        chunks = [chunk]
        while not self._queue.empty():
            more = self._queue.get_nowait()
            if more is None:
                return b"".join(chunks), True
            chunks.append(more)
        return b"".join(chunks), False

    async def _run(self) -> None:
        segment: Segment | None = None
        written = 0
        end = False
        while not end:
            data, end = await self._next_batch()
            self._queued -= len(data)
            while data:
                try:
                    if segment is None:
                        segment, written = await self._sink.open_segment(), 0
                    piece, data = data[: self._segment_bytes - written], data[self._segment_bytes - written :]
                    await segment.write(piece)
                    written += len(piece)
                    self.frames_written += len(piece) // PCM_SAMPLE_WIDTH
                    if written >= self._segment_bytes:
                        current, segment = segment, None
                        await self._publish_or_discard(current)
                except Exception as exc:
                    self._fail(exc)
                    if segment is not None:
                        await self._discard(segment)
                    segment, data = None, b""
        if segment is not None:
            await self._publish_or_discard(segment)

    async def _publish_or_discard(self, segment: Segment) -> None:
        try:
            await segment.publish()
        except Exception as exc:
            self._fail(exc)
            await self._discard(segment)
        else:
            self.segments_published += 1

    async def _discard(self, segment: Segment) -> None:
        try:
            await segment.discard()
        except Exception as exc:
            self._log.warning("could not discard a failed recording segment: %s", exc)

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        self._log.error("recording segment failed", exc_info=exc)
