"""The embedded store's PID record in the data dir, and what a new start does about a store still running.

A store outlives its server for a while after the server died (it stops on SIGTERM from
the parent-death signal, and a WiredTiger close can take seconds), and a second store on
the same files fails at once ("already being managed by another process"). So every
start first reads the record the previous store left, waits for that process to go,
and stops it (by its recorded PID, checked against its start time so a reused PID is
never signalled) when its server is gone but it is still there.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# How long a new start waits for a previous store to stop on its own, then after SIGTERM.
STALE_WAIT_SECONDS = 30.0
TERM_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class StoreRecord:
    """Which process runs the store on `storage_path`, and for which server process."""

    pid: int
    start_time: int  # /proc/<pid>/stat starttime: tells the process apart from a later one with its PID
    server_pid: int
    storage_path: str


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), or None if there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_time(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def children(pid: int) -> list[int]:
    """The PIDs of `pid`'s children (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in task.read_text().split()]
    return found


def _running(record: StoreRecord) -> bool:
    """The recorded process still exists (not a zombie) and is the one recorded."""
    fields = _stat(record.pid)
    return fields is not None and fields[0] != "Z" and int(fields[19]) == record.start_time


def _parent(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[1]) if fields else None


def write(path: Path, record: StoreRecord) -> None:
    """Replace the record atomically (a crash leaves the old one or the new one, never half of one)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(asdict(record)))
    os.replace(partial, path)


def read(path: Path) -> StoreRecord | None:
    try:
        return StoreRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def forget(path: Path, pid: int) -> None:
    """Remove the record if it still names `pid` (a newer store's record stays)."""
    record = read(path)
    if record is not None and record.pid == pid:
        with contextlib.suppress(OSError):
            path.unlink()


def _wait_gone(record: StoreRecord, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _running(record):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def settle_previous(path: Path, *, wait_seconds: float = STALE_WAIT_SECONDS) -> None:
    """Before a store starts: make sure the one recorded at `path` has stopped (see the module docstring).

    Raises RuntimeError when that store still belongs to a running server (two servers on one data dir).
    """
    record = read(path)
    if record is None or not _running(record):
        forget(path, record.pid if record else 0)
        return
    logger.warning("the store of an earlier run (pid %d) still holds %s; waiting", record.pid, record.storage_path)
    if _wait_gone(record, wait_seconds):
        forget(path, record.pid)
        return
    if _parent(record.pid) == record.server_pid and start_time(record.server_pid) is not None:
        raise RuntimeError(f"{record.storage_path} is in use by the store of server process {record.server_pid}")
    for sig, seconds in ((signal.SIGTERM, TERM_WAIT_SECONDS), (signal.SIGKILL, TERM_WAIT_SECONDS)):
        logger.warning("stopping the orphaned store (pid %d) with %s", record.pid, sig.name)
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, sig)
        if _wait_gone(record, seconds):
            forget(path, record.pid)
            return
    raise RuntimeError(f"the orphaned store (pid {record.pid}) of {record.storage_path} does not stop")
