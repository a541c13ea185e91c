"""Shared bench helpers: percentiles and a self-contained store + server."""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from storage.embedded import EmbeddedMongo
from tests.support import ServerProcess


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"p50={percentile(ms, 50):.1f}ms p95={percentile(ms, 95):.1f}ms "
        f"p99={percentile(ms, 99):.1f}ms mean={statistics.fmean(ms):.1f}ms"
    )


# Every benchmark client connects from this one address as many users: the per-address and
# per-client limits (new connections, sockets before hello, requests, start-session per
# window) are lifted so that the figures measure the server, not its abuse limits.
BENCH_LIMITS = {
    "START_SESSION_RATE_LIMIT": "1000000",
    "HTTP_RATE_LIMIT_PER_SECOND": "100000",
    "HTTP_RATE_LIMIT_BURST": "100000",
    "CONNECTION_RATE_PER_IP": "100000",
    "CONNECTION_BURST_PER_IP": "100000",
    "WS_PREHELLO_PER_IP": "20000",
    "WS_PREHELLO_TOTAL": "20000",
    "LISTEN_BACKLOG": "4096",
    "SESSION_TOKEN_TTL_SECONDS": "7200",
    # Opening hundreds of sessions at once queues their claims (findAndModify, which SecantusDB
    # answers by scanning: ~25 ms each at 3,000 sessions) past the 2 s default; what is measured
    # comes after the connections are open.
    "MONGODB_TIMEOUT_MS": "15000",  # the tokens of a long benchmark outlive its sections
}


@contextlib.contextmanager
def store_and_server(mongodb_url: str | None = None, **env: str) -> Iterator[tuple[str, ServerProcess]]:
    """A wire-protocol store (unless one is given) and a server process using it."""
    with tempfile.TemporaryDirectory() as tmp:
        store = None
        if mongodb_url is None:
            store = EmbeddedMongo(Path(tmp) / "db")
            store.start()
            mongodb_url = store.url
        server_env = {"MONGODB_DB": f"bench_{uuid.uuid4().hex[:8]}", "LOG_LEVEL": "WARNING", **env}
        server = ServerProcess(mongodb_url, Path(tmp) / "server", server_env)
        try:
            server.start()
            yield mongodb_url, server
        finally:
            server.stop()
            if store is not None:
                store.stop()
