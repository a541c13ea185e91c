"""Shared fixtures: the wire-protocol store (one per test run) and a running server."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser

from storage.embedded import EmbeddedMongo
from tests.browser import launched_browser
from tests.support import ServerProcess, running_server, tuned_server


@pytest.fixture(scope="session")
def mongodb_url() -> Iterator[str]:
    """TEST_MONGODB_URL when set (e.g. a real mongod), else `secantusd-py --storage-path :memory:`."""
    external = os.environ.get("TEST_MONGODB_URL")
    if external:
        yield external
        return
    store = EmbeddedMongo(":memory:")
    store.start()
    try:
        yield store.url
    finally:
        store.stop()


@pytest.fixture
def database_name() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def server(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server per test module, on its own database; tests use their own applications."""
    data_dir: Path = tmp_path_factory.mktemp("server")
    with tuned_server(mongodb_url, data_dir) as process:
        yield process


@pytest.fixture
async def client(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        yield http


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Debian Chromium for the run; each test opens its own context (profile)."""
    async with launched_browser() as chromium:
        yield chromium


@pytest.fixture
def own_server(mongodb_url: str, tmp_path: Path) -> Iterator[list[ServerProcess]]:
    """A server (and database) for one test that stops or kills it; append restarts to the list.

    Every process in the list is stopped at the end, whatever the test did to it.
    """
    env = {
        "mongodb_db": f"test_{uuid.uuid4().hex[:12]}",
        "start_session_rate_limit": "1000",
        "ws_heartbeat_seconds": "2",
    }
    with running_server(mongodb_url, tmp_path, **env) as first:
        servers = [first]
        try:
            yield servers
        finally:
            for process in servers[1:]:
                process.stop()
