"""`interview-server --workers N` (WEB_CONCURRENCY): N processes on one port, one store, one supervisor."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ServerProcess, auth, child_pids, process_alive, start_interview, user_token
from tests.ws_client import InterviewClient

WORKERS = 2


def _children_of(pid: int) -> set[int]:
    return set(child_pids(pid))


def _answering_pids(server: ServerProcess, attempts: int = 400) -> set[int]:
    """The pids that answer /healthz, each request on a new connection (the kernel picks the worker)."""
    seen: set[int] = set()
    for _ in range(attempts):
        seen.add(httpx.get(f"{server.base_url}/healthz", timeout=10).json()["pid"])
        if len(seen) == WORKERS:
            break
    return seen


def _wait(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def supervised(mongodb_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    env = {"MONGODB_DB": f"test_{uuid.uuid4().hex[:12]}", "WEB_CONCURRENCY": str(WORKERS)}
    server = ServerProcess(mongodb_url, tmp_path, env).start(60)
    try:
        yield server
    finally:
        server.stop()


def test_every_worker_accepts_on_the_one_port(supervised: ServerProcess) -> None:
    assert supervised.process is not None
    workers = _children_of(supervised.process.pid)
    assert len(workers) == WORKERS
    assert _answering_pids(supervised) == workers


async def test_an_interview_runs_across_workers(supervised: ServerProcess) -> None:
    """The socket lands on one worker, each HTTP pause on any: every change reaches the socket live."""
    async with httpx.AsyncClient(base_url=supervised.base_url, timeout=15) as http:
        interview = await start_interview(http, question_count=2)
    client = InterviewClient(supervised.ws_url, interview.token)
    await client.connect()
    await client.wait_type("question", number=1)
    candidate = auth(user_token(interview.application["candidateId"]))
    path = f"{supervised.base_url}/api/interview/sessions/{interview.session_id}"
    for action, status in [("pause", "paused"), ("resume", "in_progress")] * 3:
        # A new connection each time, so the kernel may hand it to either worker.
        async with httpx.AsyncClient(timeout=15) as http:
            response = await http.post(f"{path}/{action}", headers=candidate)
        assert response.status_code == 200, response.text
        await client.wait_type("session.state", status=status, since=len(client.log) - 1)
    await client.close()
    seqs = [m["seq"] for m in client.messages]
    assert seqs == sorted(set(seqs))
    assert client.connections == 1  # delivered live, not at a reconnect


def test_a_killed_worker_is_replaced(supervised: ServerProcess) -> None:
    assert supervised.process is not None
    supervisor = supervised.process.pid
    victim = min(_children_of(supervisor))
    os.kill(victim, signal.SIGKILL)
    assert _wait(lambda: victim not in _children_of(supervisor) and len(_children_of(supervisor)) == WORKERS)
    assert httpx.get(f"{supervised.base_url}/readyz", timeout=10).status_code == 200
    assert _wait(lambda: len(_answering_pids(supervised, attempts=50)) == WORKERS)


def test_sigterm_stops_every_worker_and_the_supervisor_exits_0(supervised: ServerProcess) -> None:
    process = supervised.process
    assert process is not None
    workers = _children_of(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    assert not any(process_alive(pid) for pid in workers)


def test_workers_do_not_outlive_a_killed_supervisor(supervised: ServerProcess) -> None:
    process = supervised.process
    assert process is not None
    workers = _children_of(process.pid)
    process.kill()
    process.wait(30)
    assert _wait(lambda: not any(process_alive(pid) for pid in workers))
