"""Exceptions raised by the transcription package."""

from __future__ import annotations

__all__ = ["ModelLoadError", "PoolClosedError", "TranscriptionError"]


class TranscriptionError(Exception):
    """Base class for transcription failures."""

    code = "transcription_error"


class ModelLoadError(TranscriptionError):
    """The speech model could not be found or loaded (nothing is downloaded)."""

    code = "model_load_error"


class PoolClosedError(TranscriptionError):
    """A job was submitted to, or still queued in, a closed worker pool."""

    code = "pool_closed"
