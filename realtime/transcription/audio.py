"""PCM helpers for 16 kHz mono int16 audio: conversion to float samples and level metering."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["SAMPLE_RATE", "SILENCE_DBFS", "level_from_dbfs", "pcm16_dbfs", "pcm16_to_float32"]

SAMPLE_RATE = 16_000
"""Sample rate of everything the transcription sees (VAD and ASR)."""

SILENCE_DBFS = -90.0
"""Level reported for digital silence (the log of zero is not a number)."""

_METER_FLOOR_DBFS = -60.0

FloatArray = npt.NDArray[np.float32]


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
