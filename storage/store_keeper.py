"""Runs the embedded store for one server and stops it exactly once (a script: stdlib only, never imports the store).

`python store_keeper.py [--record PATH] -- secantusd-py ARGS...` starts the store and then
waits. It stops the store with one SIGTERM when its server says so (SIGTERM to this
process) or when the server is gone however it died: the server holds the other end of
this process's stdin, and the kernel closes it even on SIGKILL, so stdin reads EOF.
It then waits for the store (SIGKILL after STOP_SECONDS) and exits with its code.

Why a process in between: secantusd's SIGTERM handler deadlocks when a second SIGTERM
arrives while it runs, and the kernel's parent-death signal is sent again each time the
store passes to another thread of a dying multi-threaded server. This process has one
thread, so the store's own parent-death signal (set for the case this process is killed)
fires once; and it never signals the store twice.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import store_record  # type: ignore[import-not-found]  # the sibling module: this file runs as a script

STOP_SECONDS = 10.0
_PR_SET_PDEATHSIG = 1


def _die_with_keeper() -> None:  # pragma: no cover - runs in the store's process before exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop(store: subprocess.Popen[bytes]) -> int:
    if store.poll() is None:
        store.send_signal(signal.SIGTERM)
        try:
            store.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            store.kill()
    return store.wait()


def main(argv: list[str]) -> int:
    record: Path | None = None
    if argv[:1] == ["--record"]:
        record, argv = Path(argv[1]), argv[2:]
    command = argv[1:] if argv[:1] == ["--"] else argv
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGTERM, lambda *_: None)  # woken through the wakeup fd
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    store = subprocess.Popen(command, stdin=subprocess.DEVNULL, preexec_fn=_die_with_keeper)
    if record is not None:
        started = store_record.start_time(store.pid) or 0
        storage = command[command.index("--storage-path") + 1] if "--storage-path" in command else ""
        store_record.write(record, store_record.StoreRecord(store.pid, started, os.getppid(), storage))
    try:
        while store.poll() is None:
            ready, _, _ = select.select([sys.stdin.fileno(), wake_read], [], [], 1.0)
            if wake_read in ready:
                break  # told to stop
            if sys.stdin.fileno() in ready and not os.read(sys.stdin.fileno(), 512):
                break  # the server is gone
        return _stop(store)
    finally:
        if record is not None:
            store_record.forget(record, store.pid)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
