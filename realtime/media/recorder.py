"""WAV recording of PCM audio from a dedicated writer thread."""

from __future__ import annotations

import asyncio
import logging
import pathlib
import queue
import wave
from concurrent.futures import ThreadPoolExecutor

from realtime.media.audio import PCM_SAMPLE_RATE, PCM_SAMPLE_WIDTH

__all__ = ["WavRecorder"]

logger = logging.getLogger(__name__)


class WavRecorder:
    """Write 16 kHz mono s16le PCM chunks to a WAV file without blocking the event loop.

    :meth:`write` only enqueues; one thread of the recorder's own executor opens,
    writes and finally closes the file (closing fixes up the WAV header). The
    thread is private so that a long recording never occupies a worker of the
    loop's default executor.
    """

    def __init__(
        self,
        path: pathlib.Path,
        *,
        log: logging.Logger | logging.LoggerAdapter[logging.Logger] = logger,
    ) -> None:
        self._path = path
        self._log = log
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._executor: ThreadPoolExecutor | None = None
        self._writer: asyncio.Future[None] | None = None
        self._closed = False
        self.frames_written = 0
        """Samples written so far (updated by the writer thread)."""
        self.error: BaseException | None = None
        """The error that stopped the writer, if any; later chunks are dropped."""

    @property
    def path(self) -> pathlib.Path:
        """Where the recording is written."""
        return self._path

    def start(self) -> None:
        """Start the writer thread (idempotent); must be called from the event loop."""
        if self._writer is not None or self._closed:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wav-recorder")
        self._writer = asyncio.get_running_loop().run_in_executor(self._executor, self._run)

    def write(self, pcm: bytes) -> None:
        """Queue a chunk for writing; never blocks. Dropped if not started or closed."""
        if self._writer is not None and not self._closed and pcm:
            self._queue.put(pcm)

    async def aclose(self) -> None:
        """Flush queued audio, finalise the WAV header and stop the thread (idempotent).

        If the awaiting task is cancelled, the thread still finishes the file on
        its own, since the end marker is already queued.
        """
        if self._closed:
            if self._writer is not None:
                await asyncio.shield(self._writer)
            return
        self._closed = True
        if self._writer is None:
            return
        self._queue.put(None)
        try:
            await asyncio.shield(self._writer)
        finally:
            assert self._executor is not None
            self._executor.shutdown(wait=False)
        if self.error is not None:
            self._log.error("recording %s is incomplete: %s", self._path, self.error)

    def _run(self) -> None:
        """Writer thread: drain the queue into the file until the end marker."""
        writer: wave.Wave_write | _WavAppender | None = None
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            writer = _open_writer(self._path)
        except OSError as exc:
            self._fail(exc)
        try:
            while True:
                chunk = self._queue.get()
                if chunk is None:
                    break
                if writer is None:
                    continue
                # Batch whatever else is already queued into one write.
                chunks = [chunk]
                end = False
                while True:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        end = True
                        break
                    chunks.append(more)
                data = b"".join(chunks)
                try:
                    writer.writeframesraw(data)
                    self.frames_written += len(data) // PCM_SAMPLE_WIDTH
                except OSError as exc:
                    self._fail(exc)
                    self._abandon(writer)
                    writer = None
                if end:
                    break
        finally:
            if writer is not None:
                try:
                    writer.close()
                except OSError as exc:
                    self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
            self._log.error("recording to %s failed", self._path, exc_info=exc)

    @staticmethod
    def _abandon(writer: wave.Wave_write | _WavAppender) -> None:
        """Close a writer that already failed; its error was reported."""
        try:
            writer.close()
        except OSError:
            pass


_DATA_SIZE_OFFSET = 40  # the canonical 44-byte header the wave module writes


class _WavAppender:
    """Appends PCM to an existing canonical WAV file and fixes its sizes on close.

    A session may get several peer connections (reconnects, ICE restarts); each
    continues the same recording instead of overwriting what came before.
    """

    def __init__(self, path: pathlib.Path) -> None:
        self._file = open(path, "r+b")
        self._file.seek(0, 2)
        self._data_bytes = self._file.tell() - (_DATA_SIZE_OFFSET + 4)

    def writeframesraw(self, data: bytes) -> None:
        self._file.write(data)
        self._data_bytes += len(data)

    def close(self) -> None:
        try:
            self._file.seek(4)
            self._file.write((36 + self._data_bytes).to_bytes(4, "little"))
            self._file.seek(_DATA_SIZE_OFFSET)
            self._file.write(self._data_bytes.to_bytes(4, "little"))
        finally:
            self._file.close()


def _appendable(path: pathlib.Path) -> bool:
    """True for a 16 kHz mono s16 WAV with the canonical header (what this recorder writes)."""
    try:
        with wave.open(str(path), "rb") as existing:
            params = existing.getparams()
        with open(path, "rb") as raw:
            header = raw.read(_DATA_SIZE_OFFSET)
    except (OSError, EOFError, wave.Error):
        return False
    return (
        params.nchannels == 1
        and params.sampwidth == PCM_SAMPLE_WIDTH
        and params.framerate == PCM_SAMPLE_RATE
        and header[36:40] == b"data"
    )


def _open_writer(path: pathlib.Path) -> wave.Wave_write | _WavAppender:
    if path.exists() and _appendable(path):
        return _WavAppender(path)
    writer = wave.open(str(path), "wb")
    writer.setnchannels(1)
    writer.setsampwidth(PCM_SAMPLE_WIDTH)
    writer.setframerate(PCM_SAMPLE_RATE)
    return writer
