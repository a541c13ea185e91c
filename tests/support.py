"""Test helpers: real server processes on free ports, tokens, and application set-up."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt

from storage.embedded import free_port

USER_SECRET = "test-user-secret-0123456789abcdef0123456789"
SESSION_SECRET = "test-session-secret-0123456789abcdef012345"
ROOT = Path(__file__).resolve().parent.parent


def user_token(sub: str, role: str = "candidate", *, secret: str = USER_SECRET, ttl: int = 3600, **extra: Any) -> str:
    now = datetime.now(UTC)
    claims = {"sub": sub, "role": role, "iat": now, "exp": now + timedelta(seconds=ttl), **extra}
    return jwt.encode(claims, secret, algorithm="HS256")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def child_pids(pid: int) -> list[int]:
    """The live (not zombie) child processes of `pid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def process_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class ServerProcess:
    """`interview-server` (uvicorn) in its own process, talking to a real wire-protocol store."""

    mongodb_url: str
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    ready_path: str = "/readyz"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/interview"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        env = {
            **os.environ,
            "ENV": "test",
            "MONGODB_URL": self.mongodb_url,
            "AUTH_JWT_SECRET": USER_SECRET,
            "SESSION_TOKEN_SECRET": SESSION_SECRET,
            "INTERVIEW_DATA_DIR": str(self.data_dir),
            "LOG_LEVEL": "INFO",
            # Speech models and the voice engine stay off unless a test asks for them (they cost
            # seconds and hundreds of MB per server); the defaults are exercised by the tests that need them.
            "TRANSCRIBER": "none",
            "VOICE": "none",
            **self.env,
        }
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / f"server-{self.port}.log"
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}{self.ready_path}", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not become ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path and self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


@contextlib.contextmanager
def running_server(mongodb_url: str, data_dir: Path, **env: str) -> Iterator[ServerProcess]:
    server = ServerProcess(mongodb_url, data_dir, {k.upper(): v for k, v in env.items()}).start()
    try:
        yield server
    finally:
        server.stop()


def tuned_server(mongodb_url: str, data_dir: Path, **settings: str) -> contextlib.AbstractContextManager[ServerProcess]:
    """A server on its own fresh database, with some settings changed.

    The start-session rate limit and the per-client upload concurrency are relaxed: tests
    send many starts and uploads at once from one client on purpose (tests/test_client_limits.py
    checks the limits themselves).
    """
    env = {
        "mongodb_db": f"test_{uuid.uuid4().hex[:12]}",
        "start_session_rate_limit": "1000",
        "upload_concurrency": "64",
        **settings,
    }
    return running_server(mongodb_url, data_dir, **env)


def speech_wav_file(folder: Path, sentence: str, silence_seconds: int = 2) -> Path:
    """`sentence` spoken by espeak-ng, then silence so a voice detector sees the utterance end."""
    spoken, path = folder / "spoken.wav", folder / "speech.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(spoken), sentence], check=True)
    with wave.open(str(spoken), "rb") as source:
        params, frames = source.getparams(), source.readframes(source.getnframes())
    with wave.open(str(path), "wb") as padded:
        padded.setparams(params)
        padded.writeframes(frames + b"\x00" * params.sampwidth * params.framerate * silence_seconds)
    return path


async def create_application(
    client: httpx.AsyncClient, candidate_id: str | None = None, **interview: Any
) -> dict[str, Any]:
    """A fresh application (through the real API, as a recruiter) for a fresh candidate."""
    body: dict[str, Any] = {
        "candidateId": candidate_id or unique("cand"),
        "candidateName": "Test Candidate",
        "jobTitle": "Backend Engineer",
    }
    if interview:
        body["interview"] = interview
    response = await client.post("/api/applications", json=body, headers=auth(user_token("recruiter_1", "recruiter")))
    assert response.status_code == 201, response.text
    return response.json()


async def start_session(client: httpx.AsyncClient, application: dict[str, Any], **extra: Any) -> httpx.Response:
    return await client.post(
        "/api/interview/start-session",
        json={"applicationId": application["id"], **extra},
        headers=auth(user_token(application["candidateId"])),
    )


@dataclass
class Interview:
    """A started session (through the real API) and the application it belongs to."""

    application: dict[str, Any]
    session_id: str
    token: str
    start: dict[str, Any]


async def start_interview(client: httpx.AsyncClient, **interview: Any) -> Interview:
    """A fresh application (with `interview` settings) and its freshly started session."""
    application = await create_application(client, **interview)
    response = await start_session(client, application)
    assert response.status_code == 201, response.text
    body = response.json()
    return Interview(application, body["sessionId"], body["token"], body)


@contextlib.asynccontextmanager
async def store_of(server: ServerProcess) -> Any:
    """The server's database in the wire-protocol store, for checking what was persisted."""
    from pymongo import AsyncMongoClient

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(server.mongodb_url, tz_aware=True)
    try:
        yield mongo[server.env["MONGODB_DB"]]
    finally:
        await mongo.close()


async def set_time_limits(database: Any, session_id: str, seconds: int) -> None:
    """Shorten every question's time limit of one session (test data set-up in the real store).

    The bank's limits are minutes long; the server times questions from the session
    document, so this makes `question.timeout` happen within a test's time.
    """
    session = await database.interviewSessions.find_one({"sessionId": session_id})
    questions = [{**q, "timeLimitSeconds": seconds} for q in session["questions"]]
    await database.interviewSessions.update_one({"sessionId": session_id}, {"$set": {"questions": questions}})
