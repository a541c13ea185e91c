"""`interview-server --workers N`: N server processes on one port against one store.

The parent prepares what must exist once (secrets, the embedded store, the durability
mode), binds the listening socket, and starts N children of `interview-server` that
inherit it (`--listen-fd`): the kernel hands each new connection to one of them. The
parent serves nothing; it restarts a child that dies (at most once a second), forwards
SIGTERM/SIGINT to all of them, waits for their graceful shutdown, then stops the store.

Children watch a pipe from the parent (`--parent-pipe`): when the parent dies, even by
SIGKILL, the pipe reaches EOF and the child shuts down gracefully, so no worker outlives
its supervisor. Each child owns the sessions whose WebSocket it holds (their media,
transcription and group commit); events another process writes reach it through the
store's change stream (docs/operations.md).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from server.config import Settings

logger = logging.getLogger(__name__)

# A child that dies is started again, but never twice within this many seconds.
RESTART_PAUSE_SECONDS = 1.0
# After the graceful period, children still running are killed.
STOP_GRACE_SECONDS = 20.0


def bind_listener(host: str, port: int, backlog: int) -> socket.socket:
    """The one listening socket every worker accepts on (inheritable by the children)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def watch_parent(pipe_fd: int) -> None:
    """Shut this worker down gracefully once the parent's end of `pipe_fd` closes."""

    def wait_for_eof() -> None:
        while os.read(pipe_fd, 1):
            pass
        logger.warning("the supervisor is gone; shutting down")
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=wait_for_eof, name="parent-watch", daemon=True).start()


@dataclass
class Supervisor:
    """Starts, restarts and stops the worker processes."""

    count: int
    listener: socket.socket
    settings: Settings
    base_args: list[str]
    children: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    stopping: bool = False

    def __post_init__(self) -> None:
        self._pipe_read, self._pipe_write = os.pipe()
        os.set_inheritable(self._pipe_read, True)
        self._started_at: dict[int, float] = {}

    def _environment(self) -> dict[str, str]:
        """The children connect to the store the parent prepared, with its resolved durability."""
        env = dict(os.environ)
        env["MONGODB_URL"] = self.settings.mongodb_url or ""
        env["STORE_DURABILITY"] = self.settings.store_durability
        env.pop("WEB_CONCURRENCY", None)  # a child is one process
        return env

    def start(self, index: int) -> None:
        fds = (self.listener.fileno(), self._pipe_read)
        command = [
            sys.executable,
            "-m",
            "server.cli",
            *self.base_args,
            "--listen-fd",
            str(fds[0]),
            "--parent-pipe",
            str(fds[1]),
        ]
        if index == 0 and self.settings.seed_demo:
            command.append("--seed-demo")  # one worker seeds; the others would only race it
        self.children[index] = subprocess.Popen(command, env=self._environment(), pass_fds=fds)
        self._started_at[index] = time.monotonic()
        logger.info("worker %d started (pid %d)", index, self.children[index].pid)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> int:
        """Supervise until SIGTERM/SIGINT; the exit status is 0 after a clean stop."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            for index in range(self.count):
                self.start(index)
            while not self.stopping:
                time.sleep(0.2)
                self._restart_exited()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._stop_all()
        return 0

    def _restart_exited(self) -> None:
        for index, child in list(self.children.items()):
            code = child.poll()
            if code is None or self.stopping:
                continue
            if time.monotonic() - self._started_at[index] < RESTART_PAUSE_SECONDS:
                continue
            logger.error("worker %d (pid %d) exited with %s; starting it again", index, child.pid, code)
            self.start(index)

    def _stop_all(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self.children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.error("worker pid %d did not stop in time; killing it", child.pid)
                child.kill()
                child.wait()
        os.close(self._pipe_write)
        os.close(self._pipe_read)
        self.listener.close()


def worker_args(host: str, port: int, data_dir: Path | None) -> list[str]:
    """The arguments every worker gets (the socket and the pipe are added per child)."""
    args = ["--host", host, "--port", str(port)]
    if data_dir is not None:
        args += ["--data-dir", str(data_dir)]
    return args
