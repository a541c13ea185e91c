"""PCM helpers: down-mixing and resampling to 16 kHz mono, level metering."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = [
    "SAMPLE_RATE",
    "Resampler",
    "level_from_dbfs",
    "pcm16_dbfs",
    "pcm16_to_float32",
    "to_16k_mono",
]

SAMPLE_RATE = 16_000
"""Sample rate of everything downstream of the resampler (VAD and ASR)."""

SILENCE_DBFS = -90.0
"""Level reported for digital silence (the log of zero is not a number)."""

_METER_FLOOR_DBFS = -60.0
_FILTER_TAPS = 31  # odd, so the low-pass filter has an integer group delay

FloatArray = npt.NDArray[np.float32]


def _lowpass_kernel(cutoff: float, taps: int = _FILTER_TAPS) -> FloatArray:
    """Windowed-sinc low-pass FIR; ``cutoff`` is a fraction of the input rate."""
    n = np.arange(taps, dtype=np.float64) - (taps - 1) / 2
    kernel = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(taps)
    return (kernel / kernel.sum()).astype(np.float32)


def _to_mono(samples: npt.NDArray[np.int16], channels: int) -> FloatArray:
    """Average the channels of interleaved (or planar) int16 samples into float32."""
    if channels < 1:
        raise ValueError(f"channels must be >= 1, got {channels}")
    data = np.asarray(samples)
    if data.ndim == 2 and channels > 1 and data.shape[0] == channels:
        # Planar layout (one row per channel), as PyAV gives for "s16p".
        planar = data.astype(np.float32)
    else:
        # Packed layout: aiortc's "s16" frames are shape (1, n * channels).
        flat = data.reshape(-1)
        if flat.size % channels:
            raise ValueError(f"{flat.size} samples do not divide into {channels} channels")
        planar = flat.reshape(-1, channels).T.astype(np.float32)
    mono: FloatArray = planar.mean(axis=0) if channels > 1 else planar[0]
    return mono


def _float_to_pcm16(samples: FloatArray) -> bytes:
    clipped = np.clip(np.rint(samples), -32768, 32767)
    return clipped.astype("<i2").tobytes()


class Resampler:
    """Stateful resampler from any rate and channel count to 16 kHz mono int16.

    It keeps filter history and the fractional read position between calls, so
    a stream cut into 10-20 ms frames resamples without clicks at the frame
    boundaries. Down-sampling low-pass filters (31-tap windowed sinc) and then
    interpolates linearly; this is cheap and more than good enough for speech
    recognition.
    """

    def __init__(self, sample_rate: int, channels: int = 1, target_rate: int = SAMPLE_RATE) -> None:
        if sample_rate <= 0 or target_rate <= 0:
            raise ValueError("sample rates must be positive")
        self.sample_rate = sample_rate
        self.channels = channels
        self.target_rate = target_rate
        self._step = sample_rate / target_rate
        self._kernel: FloatArray | None = None
        if sample_rate > target_rate:
            # Cut a little below the new Nyquist frequency so the filter's
            # transition band does not alias.
            self._kernel = _lowpass_kernel(0.45 * target_rate / sample_rate)
            self._history = np.zeros(_FILTER_TAPS - 1, dtype=np.float32)
        self._last = np.float32(0.0)  # last filtered input sample, for interpolation
        self._pos = 1.0  # next output position, in input samples, relative to _last

    def process(self, samples: npt.NDArray[np.int16]) -> bytes:
        """Resample one chunk and return little-endian 16-bit mono PCM bytes."""
        mono = _to_mono(samples, self.channels)
        if self.sample_rate == self.target_rate:
            return _float_to_pcm16(mono)
        if mono.size == 0:
            return b""
        if self._kernel is not None:
            padded = np.concatenate((self._history, mono))
            self._history = padded[-(_FILTER_TAPS - 1) :]
            mono = np.convolve(padded, self._kernel, mode="valid").astype(np.float32)
        signal = np.concatenate(([self._last], mono))
        limit = signal.size - 1  # interpolate only between known samples
        count = max(0, math.ceil((limit - self._pos) / self._step))
        positions = self._pos + self._step * np.arange(count)
        out = np.interp(positions, np.arange(signal.size), signal).astype(np.float32)
        self._pos = self._pos + self._step * count - limit
        self._last = signal[-1]
        return _float_to_pcm16(out)


def to_16k_mono(samples: npt.NDArray[np.int16], sample_rate: int, channels: int) -> bytes:
    """Convert int16 PCM at any rate and channel count to 16 kHz mono PCM bytes.

    ``samples`` may be interleaved (any shape, e.g. aiortc's packed ``(1, n*ch)``
    frames) or planar ``(channels, n)``. This one-shot helper starts from fresh
    state; for a continuous stream of frames keep a :class:`Resampler` instead.

    Raises:
        ValueError: if the sample count does not divide into ``channels`` or a
            rate is not positive.
    """
    return Resampler(sample_rate, channels).process(samples)


def pcm16_to_float32(pcm: bytes) -> FloatArray:
    """Little-endian int16 PCM bytes to float32 samples in [-1, 1)."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def pcm16_dbfs(pcm: bytes) -> float:
    """RMS level of int16 PCM bytes in dBFS (0 is full scale)."""
    data = np.frombuffer(pcm, dtype="<i2", count=len(pcm) // 2).astype(np.float64)
    if data.size == 0:
        return SILENCE_DBFS
    rms = math.sqrt(float(np.mean(data * data)))
    if rms < 1.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * math.log10(rms / 32768.0))


def level_from_dbfs(dbfs: float) -> float:
    """Map dBFS to a 0..1 meter value (-60 dBFS and below is 0, full scale is 1)."""
    return min(1.0, max(0.0, (dbfs - _METER_FLOOR_DBFS) / -_METER_FLOOR_DBFS))
