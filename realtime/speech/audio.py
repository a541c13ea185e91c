"""Speech audio as the outbound track plays it: 48 kHz mono signed 16-bit PCM, in 20 ms frames."""

from __future__ import annotations

import io

import av

RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms, what aiortc's Opus encoder sends per packet
FRAME_BYTES = FRAME_SAMPLES * 2
SILENT_FRAME = bytes(FRAME_BYTES)


def to_playback_pcm(encoded: bytes) -> bytes:
    """Any audio file's bytes (WAV from the engines) as 48 kHz mono s16 PCM. Blocking: run it in a thread."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    chunks: list[bytes] = []
    with av.open(io.BytesIO(encoded), mode="r") as container:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(bytes(out.planes[0])[: out.samples * 2])
    for out in resampler.resample(None):
        chunks.append(bytes(out.planes[0])[: out.samples * 2])
    return b"".join(chunks)


def duration_ms(pcm: bytes) -> int:
    return len(pcm) * 1000 // (RATE * 2)
