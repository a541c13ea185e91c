"""The embedded store: data survives restarts, and the CLI never leaves it orphaned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pymongo import AsyncMongoClient

from storage.embedded import EmbeddedMongo, free_port
from tests.support import ROOT, SESSION_SECRET, USER_SECRET, auth, child_pids, process_alive, user_token


def _wait_gone(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.1)
    return False


async def test_data_survives_a_store_restart(tmp_path: Path) -> None:
    storage = tmp_path / "db"
    store = EmbeddedMongo(storage)
    store.start()
    try:
        client = AsyncMongoClient(store.url)
        await client.interview.applications.insert_one({"_id": "app_keep", "jobTitle": "Kept"})
        await client.close()
    finally:
        store.stop()
    store = EmbeddedMongo(storage)
    store.start()
    try:
        client = AsyncMongoClient(store.url)
        document = await client.interview.applications.find_one({"_id": "app_keep"})
        await client.close()
    finally:
        store.stop()
    assert document is not None and document["jobTitle"] == "Kept"


def _start_cli(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URL", "AUTH_JWT_SECRET", "SESSION_TOKEN_SECRET")}
    env.update(VOICE="none", TRANSCRIBER="none")  # the store is the only child these tests count
    return subprocess.Popen(
        [sys.executable, "-m", "server.cli", "--port", str(port), "--data-dir", str(data_dir), "--seed-demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "server exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("server not ready")


def test_cli_runs_embedded_store_keeps_data_and_cleans_up(tmp_path: Path) -> None:
    port = free_port()
    process = _start_cli(tmp_path, port)
    try:
        _wait_ready(port, process)
        stores = child_pids(process.pid)
        assert len(stores) == 1
        # The development secret was persisted, so a token minted by `interview-server token` is valid.
        token = subprocess.run(
            [sys.executable, "-m", "server.cli", "token", "--sub", "cand_demo", "--data-dir", str(tmp_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        created = httpx.post(
            f"http://127.0.0.1:{port}/api/interview/start-session",
            json={"applicationId": "app_demo"},
            headers=auth(token),
            timeout=10,
        )
        assert created.status_code == 201
        session_id = created.json()["sessionId"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert _wait_gone(stores[0]), "embedded store outlived a clean shutdown"

    process = _start_cli(tmp_path, port)
    try:
        _wait_ready(port, process)
        again = httpx.post(
            f"http://127.0.0.1:{port}/api/interview/start-session",
            json={"applicationId": "app_demo"},
            headers=auth(token),
            timeout=10,
        )
        assert again.status_code == 200 and again.json()["sessionId"] == session_id  # the data survived
        store_pid = child_pids(process.pid)[0]
    finally:
        process.kill()  # SIGKILL: no clean-up code runs in the server
        process.wait(30)
    assert _wait_gone(store_pid), "embedded store orphaned after the server was killed"


def test_production_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    env = {**os.environ, "ENV": "production", "MONGODB_URL": "mongodb://127.0.0.1:1/"}
    for name in ("AUTH_JWT_SECRET", "SESSION_TOKEN_SECRET", "AUTH_JWKS_URL"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "--port", str(free_port()), "--data-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SESSION_TOKEN_SECRET" in result.stderr + result.stdout


def test_explicit_secrets_are_used(tmp_path: Path) -> None:
    env = {**os.environ, "AUTH_JWT_SECRET": USER_SECRET, "SESSION_TOKEN_SECRET": SESSION_SECRET}
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "token", "--sub", "c1", "--role", "admin", "--data-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip().count(".") == 2
    assert not (tmp_path / "secrets.json").exists()
    import jwt

    assert jwt.decode(result.stdout.strip(), USER_SECRET, algorithms=["HS256"])["role"] == "admin"


def _start_owned_cli(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """The CLI on the embedded store, in a process group of its own (as supervisors run it)."""
    env = {k: v for k, v in os.environ.items() if k != "MONGODB_URL"}
    env.update({"AUTH_JWT_SECRET": USER_SECRET, "SESSION_TOKEN_SECRET": SESSION_SECRET, "LOG_LEVEL": "WARNING"})
    env.update(VOICE="none", TRANSCRIBER="none")  # the store keeper is the only child this test counts
    log = open(data_dir / "runs.log", "ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "server.cli", "--port", str(port), "--data-dir", str(data_dir)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("stop", ["sigterm-to-the-group", "sigkill"])
def test_stopped_then_started_at_once_on_the_same_data_ten_times(tmp_path: Path, stop: str) -> None:
    port = free_port()
    recruiter = auth(user_token("recruiter_1", "recruiter"))
    created: list[str] = []
    for run in range(10):
        process = _start_owned_cli(tmp_path, port)
        try:
            _wait_ready(port, process)
            [keeper] = child_pids(process.pid)
            [store] = child_pids(keeper)
            for app_id in created:  # everything the earlier runs acknowledged is still there
                kept = httpx.get(f"http://127.0.0.1:{port}/api/applications/{app_id}", headers=recruiter, timeout=10)
                assert kept.status_code == 200, (run, app_id, kept.text)
            app_id = f"app_run_{run}"
            body = {"id": app_id, "candidateId": "cand_1", "candidateName": "Ada", "jobTitle": "Engineer"}
            made = httpx.post(f"http://127.0.0.1:{port}/api/applications", json=body, headers=recruiter, timeout=10)
            assert made.status_code == 201, made.text
            created.append(app_id)
        finally:
            if stop == "sigkill":
                process.kill()
                process.wait(30)
            else:
                os.killpg(process.pid, signal.SIGTERM)
                assert process.wait(60) == 0, (tmp_path / "runs.log").read_text()[-3000:]
        if stop != "sigkill":
            assert not process_alive(store) and not process_alive(keeper), (
                "the server exited before its store had stopped"
            )
        # ...and the next run starts at once on the same files.
    assert _wait_gone(store), "the last store outlived its server"
