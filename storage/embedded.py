"""The embedded default store: `secantusd-py` (SecantusDB) run as a child process.

It speaks the MongoDB wire protocol, so the app reaches it through PyMongo like any
mongod. It is GPL-2.0 and therefore never imported: only executed.

Its lifetime is its server's, and it is always stopped gracefully, exactly once: it runs
under `storage/store_keeper.py`, a one-thread process that sends it one SIGTERM when the
server stops it or dies (even by SIGKILL: the keeper then reads EOF on the pipe the
server held), and waits for it. Two SIGTERMs would deadlock secantusd's signal handler,
and a SIGKILL right after a write loses it (WiredTiger's log is flushed shortly after
the commit is acknowledged), so neither the kernel's parent-death signal of the
multi-threaded server (sent once per dying thread) nor a kill is used. The keeper runs in
its own session, so a signal to the server's process group reaches the server alone.
With a `record` path, a start first waits for (or stops) the store an earlier run left on
the same files (storage/store_record.py), and the keeper records the new store's PID.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from storage import store_record

logger = logging.getLogger(__name__)

KEEPER = Path(__file__).with_name("store_keeper.py")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


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

    def __init__(
        self, storage_path: str | Path, port: int | None = None, host: str = "127.0.0.1", record: Path | None = None
    ) -> None:
        self.storage_path = str(storage_path)
        self.host = host
        self.port = port or free_port(host)
        self.record = record
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: int | None = None

    @property
    def store_pid(self) -> int | None:
        """The store's own process (its keeper's child), for signalling it directly (tests, operations)."""
        if self.process is None:
            return None
        found = store_record.children(self.process.pid)
        return found[0] if found else None

    @property
    def url(self) -> str:
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"

    def start(self, timeout: float = 30.0, log_path: Path | None = None) -> None:
        """Start the store (under its keeper) and wait until it accepts connections."""
        if self.storage_path != ":memory:":
            Path(self.storage_path).mkdir(parents=True, exist_ok=True)
        if self.record is not None:
            store_record.settle_previous(self.record)
        keeper = [sys.executable, "-E", "-s", str(KEEPER)]
        if self.record is not None:
            keeper += ["--record", str(self.record)]
        args = [
            *keeper,
            "--",
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
        # The keeper's stdin is a pipe only this process holds: its EOF says the server is gone.
        self.process = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=stdout, stderr=subprocess.STDOUT, start_new_session=True
        )
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

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the store and wait for it; idempotent. (Its keeper kills it after 10 s of stopping.)"""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("embedded store did not stop in %.0fs; killing its keeper", timeout)
                process.kill()  # the store then gets one SIGTERM from its own parent-death signal
                process.wait()
        if process is not None and process.stdin is not None:
            process.stdin.close()
        if self._log_file is not None:
            os.close(self._log_file)
            self._log_file = None

    def __enter__(self) -> EmbeddedMongo:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
