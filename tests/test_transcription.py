"""Tests for realtime.transcription: resampling, VAD segmentation, the worker pool,
and streaming transcription with the bundled Whisper tiny.en model on espeak-ng speech."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# Nothing may download a model: fail instead of reaching the network.
os.environ["HF_HUB_OFFLINE"] = "1"

from realtime.transcription import (
    SAMPLE_RATE,
    EndReason,
    ModelLoadError,
    NullTranscriber,
    PoolClosedError,
    SegmenterConfig,
    SegmenterEvent,
    SpeechStarted,
    SpeechStopped,
    StreamingTranscription,
    Transcriber,
    Utterance,
    VoiceSegmenter,
    WhisperTranscriber,
    WorkerPool,
    create_transcriber,
    level_from_dbfs,
    pcm16_dbfs,
)
from tests.audio_files import espeak_pcm16k

SENTENCE = "I have five years of experience with Python and databases."
LONG_SENTENCE = (
    "I have five years of experience with Python and databases, and before that "
    "I spent three years building web applications for a small company in Berlin."
)
FRAME = 640  # 20 ms of 16 kHz 16-bit mono
WAIT = 120.0  # hang guard only; the tests never assert on timing

slow = pytest.mark.slow  # loads the Whisper model; still runs by default


# --------------------------------------------------------------------------- helpers


def silence(seconds: float) -> bytes:
    return bytes(2 * int(SAMPLE_RATE * seconds))


def synthesize(text: str, directory: Path, name: str) -> bytes:
    """Speak ``text`` with espeak-ng (22050 Hz mono) and return 16 kHz mono PCM."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    return espeak_pcm16k(text, directory, name)


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return synthesize(SENTENCE, tmp_path_factory.mktemp("speech"), "short")


@pytest.fixture(scope="session")
def long_speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return synthesize(LONG_SENTENCE, tmp_path_factory.mktemp("speech"), "long")


@dataclass
class Recorder:
    """Collects callback invocations in order and lets a test wait for them."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_speaking(self, speaking: bool, level: float) -> None:
        self._add(("speaking", speaking, level))

    async def on_partial(self, text: str, start_ms: int, end_ms: int) -> None:
        self._add(("partial", text, start_ms, end_ms))

    async def on_final(self, text: str, start_ms: int, end_ms: int) -> None:
        self._add(("final", text, start_ms, end_ms))

    def _add(self, event: tuple[Any, ...]) -> None:
        self.events.append(event)
        self.changed.set()

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        return [event for event in self.events if event[0] == kind]

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


def make_stream(transcriber: Transcriber, recorder: Recorder, **kwargs: object) -> StreamingTranscription:
    return StreamingTranscription(
        transcriber,
        on_speaking=recorder.on_speaking,
        on_partial=recorder.on_partial,
        on_final=recorder.on_final,
        **kwargs,  # type: ignore[arg-type]
    )


async def feed(stream: StreamingTranscription, pcm: bytes, chunk: int = FRAME) -> None:
    """Feed in 20 ms chunks, yielding to the loop between them as a media track would."""
    for offset in range(0, len(pcm), chunk):
        stream.feed(pcm[offset : offset + chunk])
        await asyncio.sleep(0)


def segment(pcm: bytes, config: SegmenterConfig | None = None) -> list[tuple[int, SegmenterEvent]]:
    """Run the segmenter over ``pcm``; return (samples seen, event) pairs."""
    segmenter = VoiceSegmenter(config)
    size = segmenter.config.frame_bytes
    out: list[tuple[int, SegmenterEvent]] = []
    for offset in range(0, len(pcm) - size + 1, size):
        for event in segmenter.push(pcm[offset : offset + size]):
            out.append((segmenter.samples_seen, event))
    return out


def words(text: object) -> set[str]:
    return {w.strip(".,!?").lower() for w in str(text).split()}


def assert_key_words(text: object) -> None:
    found = words(text)
    assert {"experience", "python"} <= found, text


@pytest.fixture
async def whisper() -> AsyncIterator[Transcriber]:
    transcriber = create_transcriber("whisper", None, workers=1)
    await transcriber.warm_up()
    try:
        yield transcriber
    finally:
        await transcriber.close()


# --------------------------------------------------------------------------- audio


def test_levels() -> None:
    tone = (np.sin(np.linspace(0, 200 * np.pi, 1600)) * 32767).astype("<i2").tobytes()

    assert pcm16_dbfs(silence(0.1)) == -90.0
    assert -3.5 < pcm16_dbfs(tone) < -2.5
    assert level_from_dbfs(-90.0) == 0.0
    assert level_from_dbfs(0.0) == 1.0


# --------------------------------------------------------------------------- segmenter


def test_segmenter_ignores_silence_and_quiet_noise() -> None:
    # About -50 dBFS of white noise appearing after digital silence.
    noise = np.random.default_rng(2).normal(0, 100, size=3 * SAMPLE_RATE).astype("<i2")

    assert segment(silence(2.0) + noise.tobytes()) == []


def test_segmenter_starts_and_stops_on_speech(speech: bytes) -> None:
    events = [event for _, event in segment(silence(1.0) + speech + silence(1.5))]

    assert [type(e) for e in events] == [SpeechStarted, Utterance, SpeechStopped]
    started, utterance, stopped = events
    assert isinstance(started, SpeechStarted) and isinstance(stopped, SpeechStopped)
    assert isinstance(utterance, Utterance)
    assert utterance.reason is EndReason.SILENCE
    assert started.sample == utterance.start_sample
    assert stopped.sample == utterance.end_sample
    assert len(utterance.pcm) >= 2 * (utterance.end_sample - utterance.start_sample)


def test_segmenter_preroll_keeps_the_first_syllable(speech: bytes) -> None:
    audio = silence(1.0) + speech + silence(1.5)
    samples = np.frombuffer(audio, dtype="<i2")
    first_sound = int(np.argmax(np.abs(samples) > 300))

    utterance = next(e for _, e in segment(audio) if isinstance(e, Utterance))

    assert utterance.start_sample <= first_sound


@pytest.mark.parametrize("hangover_ms", [300, 900])
def test_segmenter_hangover_is_configurable(speech: bytes, hangover_ms: int) -> None:
    config = SegmenterConfig(hangover_ms=hangover_ms)
    events = segment(silence(0.5) + speech + silence(2.0), config)

    seen_at_stop, stopped = next((n, e) for n, e in events if isinstance(e, SpeechStopped))

    assert seen_at_stop - stopped.sample == SAMPLE_RATE * hangover_ms // 1000


def test_segmenter_max_length_forces_contiguous_utterances(speech: bytes) -> None:
    config = SegmenterConfig(max_utterance_ms=1000)
    events = [e for _, e in segment(silence(0.5) + speech + silence(1.5), config)]

    utterances = [e for e in events if isinstance(e, Utterance)]
    assert sum(isinstance(e, SpeechStarted) for e in events) == 1
    assert sum(isinstance(e, SpeechStopped) for e in events) == 1
    assert len(utterances) >= 3
    assert all(u.reason is EndReason.MAX_LENGTH for u in utterances[:-1])
    for previous, current in itertools.pairwise(utterances):
        assert current.start_sample == previous.end_sample


def test_segmenter_flush_closes_open_utterance(speech: bytes) -> None:
    segmenter = VoiceSegmenter()
    pcm = silence(0.5) + speech[: len(speech) // 2]
    for offset in range(0, len(pcm) - FRAME + 1, FRAME):
        segmenter.push(pcm[offset : offset + FRAME])
    assert segmenter.in_speech

    utterance, stopped = segmenter.flush()

    assert isinstance(utterance, Utterance) and utterance.reason is EndReason.FLUSH
    assert isinstance(stopped, SpeechStopped)
    assert not segmenter.in_speech
    assert segmenter.flush() == []


# --------------------------------------------------------------------------- worker pool


class Gate:
    """A blocking job body that records its run order and waits to be released."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.release = threading.Event()

    def job(self, name: str) -> Callable[[], str]:
        def run() -> str:
            self.log.append(name)
            self.release.wait(WAIT)
            return name

        return run


async def test_pool_runs_finals_first_and_keeps_one_waiting_partial_per_stream() -> None:
    log: list[str] = []
    gate = Gate(log)
    pool = WorkerPool(1)
    try:
        first = asyncio.create_task(pool.run_final(gate.job("final-1")))
        await asyncio.sleep(0)
        old = asyncio.create_task(pool.run_partial(gate.job("partial-old"), key="a"))
        new = asyncio.create_task(pool.run_partial(gate.job("partial-new"), key="a"))
        other = asyncio.create_task(pool.run_partial(gate.job("partial-b"), key="b"))
        await asyncio.sleep(0)
        assert await old is None  # superseded by a newer partial of the same stream
        second = asyncio.create_task(pool.run_final(gate.job("final-2")))
        await asyncio.sleep(0)
        assert await new is None and await other is None  # a final had to queue
        late = await pool.run_partial(gate.job("partial-late"), key="c")
        assert late is None  # finals are waiting: the pool is busy

        gate.release.set()

        assert await first == "final-1" and await second == "final-2"
        assert log == ["final-1", "final-2"]
        assert pool.stats.partials_skipped == 4
        assert pool.stats.max_running == 1
    finally:
        gate.release.set()
        await pool.close()


async def test_pool_runs_waiting_partials_when_a_worker_frees() -> None:
    log: list[str] = []
    gate = Gate(log)
    pool = WorkerPool(1)
    try:
        running = asyncio.create_task(pool.run_partial(gate.job("a1"), key="a"))
        await asyncio.sleep(0)
        waiting = asyncio.create_task(pool.run_partial(gate.job("b1"), key="b"))
        gate.release.set()
        assert await running == "a1" and await waiting == "b1"
        assert log == ["a1", "b1"]
    finally:
        await pool.close()


async def test_pool_keeps_a_worker_free_for_finals() -> None:
    log: list[str] = []
    gate = Gate(log)
    pool = WorkerPool(2)
    try:
        running = asyncio.create_task(pool.run_partial(gate.job("partial-a"), key="a"))
        waiting = asyncio.create_task(pool.run_partial(gate.job("partial-b"), key="b"))
        await asyncio.sleep(0)
        assert pool.running == 1  # partial-b waits although a worker is idle
        final = asyncio.create_task(pool.run_final(gate.job("final")))
        await asyncio.sleep(0)
        assert pool.running == 2  # the final did not wait
        gate.release.set()
        assert await final == "final" and await running == "partial-a"
        assert await waiting == "partial-b"
        assert log[-1] == "partial-b"
    finally:
        gate.release.set()
        await pool.close()


async def test_pool_cancelled_caller_leaves_the_queue() -> None:
    log: list[str] = []
    gate = Gate(log)
    pool = WorkerPool(1)
    try:
        busy = asyncio.create_task(pool.run_final(gate.job("busy")))
        await asyncio.sleep(0)
        queued = asyncio.create_task(pool.run_final(gate.job("cancelled")))
        await asyncio.sleep(0)
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        gate.release.set()
        await busy
        assert await pool.run_final(lambda: "after") == "after"
        assert log == ["busy"]
    finally:
        gate.release.set()
        await pool.close()


async def test_pool_close_rejects_queued_and_new_jobs() -> None:
    gate = Gate([])
    pool = WorkerPool(1)
    busy = asyncio.create_task(pool.run_final(gate.job("busy")))
    await asyncio.sleep(0)
    queued = asyncio.create_task(pool.run_final(gate.job("queued")))
    await asyncio.sleep(0)
    closing = asyncio.create_task(pool.close())
    await asyncio.sleep(0)
    gate.release.set()
    await closing

    assert await busy == "busy"
    with pytest.raises(PoolClosedError):
        await queued
    with pytest.raises(PoolClosedError):
        await pool.run_final(lambda: None)


async def test_pool_propagates_job_errors() -> None:
    def fail() -> None:
        raise RuntimeError("boom")

    pool = WorkerPool(1)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            await pool.run_final(fail)
    finally:
        await pool.close()


# --------------------------------------------------------------------------- transcribers


def test_create_transcriber_kinds() -> None:
    assert isinstance(create_transcriber("none", None, 1), NullTranscriber)
    whisper = create_transcriber("whisper", None, 2, threads_per_worker=1)
    assert isinstance(whisper, WhisperTranscriber) and isinstance(whisper, Transcriber)
    with pytest.raises(ValueError):
        create_transcriber("vosk", None, 1)


async def test_missing_model_fails_without_downloading() -> None:
    transcriber = create_transcriber("whisper", "nobody/whisper-not-cached", 1)
    try:
        with pytest.raises(ModelLoadError):
            await transcriber.warm_up()
    finally:
        await transcriber.close()


async def test_null_transcriber_reports_speaking_only(speech: bytes) -> None:
    recorder = Recorder()
    stream = make_stream(NullTranscriber(), recorder)
    try:
        await feed(stream, silence(0.5) + speech + silence(1.0))
        await stream.flush()
    finally:
        await stream.close()

    assert [e[1] for e in recorder.events] == [True, False]
    assert recorder.of("partial") == [] and recorder.of("final") == []


async def test_audio_level_tracks_the_input(speech: bytes) -> None:
    stream = make_stream(NullTranscriber(), Recorder())
    try:
        stream.feed(silence(0.1))
        quiet = stream.audio_level
        frames = [speech[i : i + FRAME] for i in range(0, len(speech) - FRAME + 1, FRAME)]
        stream.feed(max(frames, key=pcm16_dbfs))
        assert quiet == 0.0 < stream.audio_level <= 1.0
    finally:
        await stream.close()


class StuckTranscriber(NullTranscriber):
    """Produces text but never finishes a final, like an overloaded pool."""

    produces_text = True

    async def transcribe_final(self, pcm16k: bytes, *, stream_key: object = None) -> str:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_close_releases_a_pending_flush(speech: bytes) -> None:
    before = asyncio.all_tasks()
    stream = make_stream(StuckTranscriber(), Recorder(), partial_interval_ms=0)
    await feed(stream, silence(0.5) + speech)
    flushing = asyncio.create_task(stream.flush())
    await asyncio.sleep(0)
    assert not flushing.done()

    await stream.close()

    await flushing  # returns instead of hanging
    assert asyncio.all_tasks() - before == set()


# --------------------------------------------------------------------------- streaming with Whisper


@slow
async def test_final_transcript_contains_the_sentence(whisper: Transcriber, speech: bytes) -> None:
    recorder = Recorder()
    stream = make_stream(whisper, recorder, stream_id="final")
    try:
        await feed(stream, silence(0.5) + speech + silence(1.2))
        await recorder.wait_for(lambda: bool(recorder.of("final")))
    finally:
        await stream.close()

    [(_, text, start_ms, end_ms)] = recorder.of("final")
    assert_key_words(text)
    assert 0 <= start_ms < 500 < end_ms <= 500 + len(speech) * 1000 // (2 * SAMPLE_RATE)
    assert [e[1] for e in recorder.of("speaking")] == [True, False]


@slow
async def test_partials_arrive_during_a_long_utterance(whisper: Transcriber, long_speech: bytes) -> None:
    recorder = Recorder()
    stream = make_stream(whisper, recorder, stream_id="partials")
    try:
        # No trailing silence yet: the utterance stays open until a partial arrives.
        await feed(stream, silence(0.5) + long_speech)
        await recorder.wait_for(lambda: bool(recorder.of("partial")))
        await feed(stream, silence(1.2))
        await recorder.wait_for(lambda: bool(recorder.of("final")))
    finally:
        await stream.close()

    kinds = [e[0] for e in recorder.events]
    assert kinds.index("final") > max(i for i, k in enumerate(kinds) if k == "partial")
    (_, _, final_start, _) = recorder.of("final")[0]
    partial_ends = [end_ms for _, _, _, end_ms in recorder.of("partial")]
    assert partial_ends == sorted(set(partial_ends))  # growing, never out of order
    for _, text, start_ms, end_ms in recorder.of("partial"):
        assert text and start_ms == final_start < end_ms
    assert_key_words(recorder.of("final")[0][1])


@slow
async def test_flush_finalises_the_pending_utterance(whisper: Transcriber, speech: bytes) -> None:
    recorder = Recorder()
    stream = make_stream(whisper, recorder, stream_id="flush")
    try:
        await feed(stream, silence(0.5) + speech)  # no silence: VAD would still wait
        assert stream.speaking

        await stream.flush()

        assert not stream.speaking
        [(_, text, _, _)] = recorder.of("final")
        assert_key_words(text)
        assert recorder.events[-2][:2] == ("speaking", False)
    finally:
        await stream.close()


@slow
async def test_close_leaves_no_task_behind(whisper: Transcriber, speech: bytes) -> None:
    before = asyncio.all_tasks()
    recorder = Recorder()
    stream = make_stream(whisper, recorder, stream_id="close")
    # Partials in flight and a final queued or running while we close.
    await feed(stream, silence(0.5) + speech + silence(1.0))
    assert asyncio.all_tasks() - before

    await stream.close()

    assert asyncio.all_tasks() - before == set()
    stream.feed(speech)  # ignored after close
    assert asyncio.all_tasks() - before == set()
    # The shared transcriber is still usable by other streams.
    assert_key_words(await whisper.transcribe_final(speech))


@slow
async def test_back_pressure_with_many_streams_on_one_worker(speech: bytes) -> None:
    transcriber = create_transcriber("whisper", None, workers=1)
    assert isinstance(transcriber, WhisperTranscriber)
    recorders = [Recorder() for _ in range(6)]
    streams = [make_stream(transcriber, r, stream_id=f"s{i}") for i, r in enumerate(recorders)]
    audio = silence(0.5) + speech + silence(1.2)
    try:
        for offset in range(0, len(audio), FRAME):  # all streams talk at once
            for stream in streams:
                stream.feed(audio[offset : offset + FRAME])
            await asyncio.sleep(0)
        await asyncio.gather(*(stream.flush() for stream in streams))
    finally:
        await asyncio.gather(*(stream.close() for stream in streams))
        await transcriber.close()

    for recorder, stream in zip(recorders, streams, strict=True):
        [(_, text, _, _)] = recorder.of("final")
        assert_key_words(text)
        assert stream.stats.errors == 0
    assert sum(s.stats.partials_skipped for s in streams) > 0
    assert transcriber.stats.max_running == 1
    assert transcriber.stats.finals_run == len(streams)
