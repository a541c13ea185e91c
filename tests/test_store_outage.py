"""A store that stops answering (SIGSTOP): requests get 503 within the store timeout, the socket says retry."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from storage.embedded import EmbeddedMongo
from tests.session_support import new_session
from tests.support import ServerProcess, running_server
from tests.ws_client import close_code_of, open_socket, receive_json


@pytest.fixture
def frozen_store(tmp_path: Path) -> Iterator[tuple[EmbeddedMongo, ServerProcess]]:
    store = EmbeddedMongo(tmp_path / "db")
    store.start()
    try:
        env = {"mongodb_db": "frozen", "mongodb_timeout_ms": "1000", "start_session_rate_limit": "1000"}
        with running_server(store.url, tmp_path / "server", **env) as server:
            yield store, server
    finally:
        pid = store.store_pid
        if pid is not None:
            os.kill(pid, signal.SIGCONT)
        store.stop()


async def test_a_frozen_store_answers_503_and_the_socket_says_retry(
    frozen_store: tuple[EmbeddedMongo, ServerProcess],
) -> None:
    store, server = frozen_store
    pid = store.store_pid
    assert pid is not None
    # The client gives up after 6 s: the server must answer well before (its store timeout is 1 s).
    async with httpx.AsyncClient(base_url=server.base_url, timeout=6) as http:
        started = await new_session(http)
        os.kill(pid, signal.SIGSTOP)
        try:
            for _ in range(3):
                response = await http.get(started.url(), headers=started.bearer)
                assert response.status_code == 503 and response.json()["code"] == "STORAGE_UNAVAILABLE"
            ready = await http.get("/readyz")
            assert ready.status_code == 503
            ws = await open_socket(server.ws_url)
            await ws.send(json.dumps({"type": "hello", "token": started.token}))
            refused = await receive_json(ws)
            assert refused["code"] == "STORAGE_UNAVAILABLE" and refused["retryable"] is True
            assert await close_code_of(ws) == 1011
        finally:
            os.kill(pid, signal.SIGCONT)
        again = await http.get(started.url(), headers=started.bearer)
        assert again.status_code == 200
