"""Sentry for real: a local HTTP endpoint stands in for Sentry's host and receives envelopes."""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.local_http import QuietHandler, serve_locally
from tests.support import create_application, start_session, tuned_server


class EnvelopeSink:
    """Collects every item of every envelope posted to it."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def add(self, raw: bytes) -> None:
        lines = raw.split(b"\n")
        with self.lock:
            for line in lines[1:]:
                line = line.strip()
                if line.startswith(b"{"):
                    try:
                        self.items.append(json.loads(line))
                    except ValueError:
                        continue

    def wait_for(self, predicate: Any, timeout: float = 20) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for item in self.items:
                    if predicate(item):
                        return item
            time.sleep(0.1)
        return None


@pytest.fixture
def sentry_sink() -> Iterator[tuple[str, EnvelopeSink]]:
    sink = EnvelopeSink()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            elif encoding == "br":
                import brotli  # type: ignore[import-not-found]

                body = brotli.decompress(body)
            sink.add(body)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

    with serve_locally(Handler) as port:
        yield f"http://publickey@127.0.0.1:{port}/1", sink


async def test_start_session_event_carries_session_tag(
    mongodb_url: str, tmp_path: Path, sentry_sink: tuple[str, EnvelopeSink]
) -> None:
    dsn, sink = sentry_sink
    with tuned_server(mongodb_url, tmp_path, sentry_dsn=dsn, sentry_traces_sample_rate="1.0") as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as client:
            application = await create_application(client)
            response = await start_session(client, application)
            assert response.status_code == 201
            session_id = response.json()["sessionId"]
            message = sink.wait_for(
                lambda item: (
                    item.get("message") == "interview.session.started"
                    or (item.get("logentry") or {}).get("message") == "interview.session.started"
                )
            )
            transaction = sink.wait_for(
                lambda item: (
                    item.get("type") == "transaction" and (item.get("tags") or {}).get("session_id") == session_id
                )
            )
    assert message is not None, "no interview.session.started event reached the DSN host"
    assert message["tags"]["session_id"] == session_id
    assert message["tags"]["application_id"] == application["id"]
    assert transaction is not None, "the start-session transaction was not tagged with the session id"
    spans = [span.get("op") for span in transaction.get("spans", [])]
    assert "interview.start_session" in spans
    serialized = json.dumps(sink.items)
    assert response.json()["token"] not in serialized  # tokens never reach Sentry
