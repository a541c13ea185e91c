"""The embedded default store: `secantusd-py` (SecantusDB) run as a child process.

It speaks the MongoDB wire protocol, so the app reaches it through PyMongo like any
mongod. It is GPL-2.0 and therefore never imported: only executed.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # Linux: the store gets SIGTERM if this server dies, even by SIGKILL: never orphaned.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def find_executable() -> str:
    beside_python = Path(sys.executable).with_name("secantusd-py")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("secantusd-py")
    if not found:
        raise RuntimeError(
            "secantusd-py not found: install the embedded store (pip install SecantusDB) "
            "or set MONGODB_URL to a MongoDB server"
        )
    return found


class EmbeddedMongo:
    """Starts and stops one `secantusd-py` process on a free loopback port."""

    def __init__(self, storage_path: str | Path, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.storage_path = str(storage_path)
        self.host = host
        self.port = port or free_port(host)
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: int | None = None

    @property
    def url(self) -> str:
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"

    def start(self, timeout: float = 30.0, log_path: Path | None = None) -> None:
        if self.storage_path != ":memory:":
            Path(self.storage_path).mkdir(parents=True, exist_ok=True)
        args = [
            find_executable(),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--storage-path",
            self.storage_path,
            "--log-level",
            "WARNING",
        ]
        stdout: int = subprocess.DEVNULL
        if log_path is not None:
            stdout = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._log_file = stdout
        self.process = subprocess.Popen(args, stdout=stdout, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        self._wait_ready(timeout)
        logger.info("embedded store listening on %s:%s (%s)", self.host, self.port, self.storage_path)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"secantusd-py exited with code {self.process.returncode}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 0.2):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("secantusd-py did not start in time")

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("embedded store did not stop in %.0fs; killing it", timeout)
                process.kill()
                process.wait()
        if self._log_file is not None:
            os.close(self._log_file)
            self._log_file = None

    def __enter__(self) -> EmbeddedMongo:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
