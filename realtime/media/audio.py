"""Conversion of decoded audio frames to 16 kHz mono signed 16-bit PCM."""

from __future__ import annotations

import av

__all__ = ["PCM_SAMPLE_RATE", "PCM_SAMPLE_WIDTH", "PcmConverter"]

PCM_SAMPLE_RATE = 16_000
"""Sample rate of the PCM handed to ``on_audio`` and written to recordings."""
PCM_SAMPLE_WIDTH = 2
"""Bytes per sample (signed 16-bit little-endian, one channel)."""


class PcmConverter:
    """Resample :class:`av.AudioFrame` objects of one track to 16 kHz mono s16le bytes.

    The resampler is rebuilt if the input format changes (for example a
    renegotiated codec), since a PyAV resampler accepts only one input format.
    """

    def __init__(self) -> None:
        self._resampler: av.AudioResampler | None = None
        self._input: tuple[str, str, int] | None = None

    def convert(self, frame: av.AudioFrame) -> bytes:
        """Return the PCM for ``frame``; may be empty while the resampler fills up."""
        signature = (frame.format.name, frame.layout.name, frame.sample_rate)
        if self._resampler is None or signature != self._input:
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=PCM_SAMPLE_RATE)
            self._input = signature
        return _to_bytes(self._resampler.resample(frame))


def _to_bytes(frames: list[av.AudioFrame]) -> bytes:
    # Plane buffers may be padded for alignment: keep only the samples.
    return b"".join(bytes(f.planes[0])[: f.samples * PCM_SAMPLE_WIDTH] for f in frames)
