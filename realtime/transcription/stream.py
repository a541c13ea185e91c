"""Per-session streaming transcription: VAD segmentation, partials and finals."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from .audio import SAMPLE_RATE, SILENCE_DBFS, level_from_dbfs, pcm16_dbfs
from .segmenter import (
    EndReason,
    SegmenterConfig,
    SegmenterEvent,
    SpeechStarted,
    SpeechStopped,
    Utterance,
    VoiceDetector,
    VoiceSegmenter,
)
from .transcriber import Transcriber

__all__ = ["OnSpeaking", "OnText", "StreamStats", "StreamingTranscription"]

logger = logging.getLogger(__name__)

OnSpeaking = Callable[[bool, float], Awaitable[None]]
"""``on_speaking(speaking, level)``; ``level`` is the 0..1 meter value."""
OnText = Callable[[str, int, int], Awaitable[None]]
"""``on_partial`` / ``on_final(text, start_ms, end_ms)``, ms since the stream's start."""


@dataclass(slots=True)
class StreamStats:
    """Counters for one stream."""

    utterances: int = 0
    utterances_too_short: int = 0
    partials_requested: int = 0
    partials_delivered: int = 0
    partials_skipped: int = 0
    """Skipped by the pool under load, superseded, or stale/empty when done."""
    finals_delivered: int = 0
    finals_empty: int = 0
    errors: int = 0


MAX_LABELS = 64


def _ms(sample: int) -> int:
    return sample * 1000 // SAMPLE_RATE


class StreamingTranscription:
    """Streams one speaker's 16 kHz mono PCM to speaking, partial and final callbacks.

    Call :meth:`feed` from the event loop with chunks of any size. Callbacks run
    one at a time, in order, on a task this object owns; an exception in a
    callback is logged and does not stop the stream. Do not call :meth:`flush`
    or :meth:`close` from inside a callback. The transcriber is shared and is
    not closed here.
    """

    def __init__(
        self,
        transcriber: Transcriber,
        *,
        on_speaking: OnSpeaking,
        on_partial: OnText,
        on_final: OnText,
        config: SegmenterConfig | None = None,
        partial_interval_ms: int = 700,
        min_voiced_ms: int = 200,
        stream_id: str = "",
        vad: VoiceDetector | None = None,
        on_voice: Callable[[bool], None] | None = None,
    ) -> None:
        self.stream_id = stream_id
        self.stats = StreamStats()
        self._transcriber = transcriber
        self._on_speaking = on_speaking
        self._on_partial = on_partial
        self._on_final = on_final
        # Called at once, on the frame that decided it (not queued behind other callbacks): barge-in.
        self._on_voice = on_voice
        self._segmenter = VoiceSegmenter(config, vad)
        self._frame_bytes = self._segmenter.config.frame_bytes
        self._partial_samples = SAMPLE_RATE * partial_interval_ms // 1000
        self._min_voiced_ms = min_voiced_ms
        self._key = object()  # identifies this stream to the shared worker pool
        self._log = logging.LoggerAdapter(logger, {"session_id": stream_id})
        self._pending = bytearray()
        self._level_dbfs = SILENCE_DBFS
        self._seq = 0
        self._open_seq: int | None = None
        self._next_partial_sample = 0
        self._last_partial_request = 0  # stream sample of the latest partial request
        self._last_partial: tuple[int, int] = (0, -1)  # (utterance seq, end sample)
        self._events: asyncio.Queue[tuple[Callable[..., Awaitable[None]], tuple[Any, ...]]] = asyncio.Queue()
        # What the speaker was answering when each utterance began (by its start in ms).
        self._labels: dict[int, Any] = {}
        self.label: Any = None
        """Set by the owner (e.g. the question being asked); read back with `label_for`."""
        self._utterances: asyncio.Queue[Utterance] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._quiet = asyncio.Event()  # set while no utterance is open
        self._quiet.set()
        self._started = False
        self._closed = False

    @property
    def audio_level(self) -> float:
        """Level of the latest frame for a meter, 0 (<= -60 dBFS) to 1 (full scale)."""
        return level_from_dbfs(self._level_dbfs)

    @property
    def audio_level_dbfs(self) -> float:
        """RMS level of the latest frame in dBFS."""
        return self._level_dbfs

    @property
    def speaking(self) -> bool:
        """Whether the VAD currently considers the speaker to be talking."""
        return self._segmenter.in_speech

    @property
    def position_ms(self) -> int:
        """Stream time: audio consumed so far, in ms."""
        return _ms(self._segmenter.samples_seen)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def feed(self, pcm16k: bytes) -> None:
        """Consume 16-bit little-endian mono 16 kHz PCM; never blocks.

        Must be called from the event loop's thread. Audio fed after
        :meth:`close` is ignored.
        """
        if self._closed:
            return
        self._ensure_started()
        self._pending += pcm16k
        frames = len(self._pending) // self._frame_bytes
        if not frames:
            return
        fb = self._frame_bytes
        data = bytes(self._pending[: frames * fb])
        del self._pending[: frames * fb]
        for offset in range(0, len(data), fb):
            self._process_frame(data[offset : offset + fb])

    async def wait_quiet(self, seconds: float) -> bool:
        """Until the open utterance (if any) ends by itself; False if it still runs after `seconds`."""
        try:
            async with asyncio.timeout(seconds):
                await self._quiet.wait()
        except TimeoutError:
            return False
        return True

    async def flush(self) -> None:
        """Finalise the open utterance, if any, and wait until its final is delivered."""
        if self._closed:
            return
        self._ensure_started()
        for event in self._segmenter.flush():
            self._handle(event)
        await self._utterances.join()
        await self._events.join()

    async def close(self) -> None:
        """Cancel and await every task this stream owns; pending results are dropped.

        Call :meth:`flush` first to keep the last utterance.
        """
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        # Release anyone blocked in flush() on work that will now never be done.
        for queue in (self._utterances, self._events):
            while not queue.empty():
                queue.get_nowait()
                queue.task_done()
        self._log.debug("transcription stream closed: %s", self.stats)

    def _ensure_started(self) -> None:
        if not self._started:
            self._started = True
            self._spawn(self._dispatch(), "dispatch")
            self._spawn(self._finalise(), "finals")

    def _spawn(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=f"transcription-{what}-{self.stream_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _emit(self, callback: Callable[..., Awaitable[None]], *args: Any) -> None:
        self._events.put_nowait((callback, args))

    def _process_frame(self, frame: bytes) -> None:
        self._level_dbfs = pcm16_dbfs(frame)
        for event in self._segmenter.push(frame):
            self._handle(event)
        self._maybe_request_partial()

    def _handle(self, event: SegmenterEvent) -> None:
        if isinstance(event, SpeechStarted):
            self._quiet.clear()
            self._open_utterance(event.sample)
            if self._on_voice is not None:
                self._on_voice(True)
            self._emit(self._on_speaking, True, self.audio_level)
        elif isinstance(event, SpeechStopped):
            self._quiet.set()
            if self._on_voice is not None:
                self._on_voice(False)
            self._emit(self._on_speaking, False, self.audio_level)
        elif isinstance(event, Utterance):
            self._open_seq = None
            self.stats.utterances += 1
            if event.reason is EndReason.MAX_LENGTH:
                # Speech goes on: the segmenter already opened the next utterance.
                self._open_utterance(self._segmenter.utterance_start_sample)
            if event.voiced_ms < self._min_voiced_ms:
                self.stats.utterances_too_short += 1
            elif self._transcriber.produces_text:
                self._utterances.put_nowait(event)

    def label_for(self, start_ms: int) -> Any:
        """The `label` that was current when the utterance starting at `start_ms` began."""
        return self._labels.pop(start_ms, self.label)

    def _open_utterance(self, start_sample: int) -> None:
        self._labels[_ms(start_sample)] = self.label
        while len(self._labels) > MAX_LABELS:  # utterances that never gave a final
            self._labels.pop(next(iter(self._labels)))
        self._seq += 1
        self._open_seq = self._seq
        self._next_partial_sample = start_sample + self._partial_samples

    def _maybe_request_partial(self) -> None:
        if (
            self._open_seq is None
            or self._partial_samples <= 0
            or not self._transcriber.produces_text
            or self._segmenter.samples_seen < self._next_partial_sample
        ):
            return
        now = self._segmenter.samples_seen
        self._next_partial_sample = now + self._partial_samples
        if (
            self._segmenter.last_voiced_sample <= self._last_partial_request
            or 2 * self._segmenter.silence_ms >= self._segmenter.config.hangover_ms
        ):
            # A pause: the text cannot have changed much and a final may be
            # imminent, so leave the workers to it.
            return
        self._last_partial_request = now
        self.stats.partials_requested += 1
        pcm = self._segmenter.utterance_audio()
        start = self._segmenter.utterance_start_sample
        self._spawn(self._partial(self._open_seq, start, now, pcm), "partial")

    async def _partial(self, seq: int, start: int, end: int, pcm: bytes) -> None:
        try:
            text = await self._transcriber.transcribe_partial(pcm, stream_key=self._key)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.stats.errors += 1
            self._log.exception("partial transcription failed")
            return
        text = (text or "").strip()
        last_seq, last_end = self._last_partial
        # Drop results that are empty, belong to a closed utterance, or were
        # overtaken by a newer partial on another worker.
        if not text or seq != self._open_seq or (seq == last_seq and end <= last_end):
            self.stats.partials_skipped += 1
            return
        self._last_partial = (seq, end)
        self.stats.partials_delivered += 1
        self._emit(self._on_partial, text, _ms(start), _ms(end))

    async def _finalise(self) -> None:
        """Transcribe closed utterances one at a time, so finals stay in order."""
        while True:
            utterance = await self._utterances.get()
            try:
                text = await self._transcriber.transcribe_final(utterance.pcm, stream_key=self._key)
                text = text.strip()
                if text:
                    self.stats.finals_delivered += 1
                    self._emit(self._on_final, text, utterance.start_ms, utterance.end_ms)
                else:
                    self.stats.finals_empty += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                self.stats.errors += 1
                self._log.exception("final transcription failed")
            finally:
                self._utterances.task_done()

    async def _dispatch(self) -> None:
        """Run callbacks serially, in the order their events happened."""
        while True:
            callback, args = await self._events.get()
            try:
                await callback(*args)
            except asyncio.CancelledError:
                raise
            except Exception:
                self._log.exception("transcription callback %s failed", callback)
            finally:
                self._events.task_done()
