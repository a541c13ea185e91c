"""Benchmark of the interview WebSocket channel (a benchmark, not a test); every figure has its same-run baseline.

(b) Load: S sessions each sending a `transcript` every 1/R s, measured over a window
    that starts `--warmup` s after the traffic (connections are open by then): ack
    latency P50/P99/max, throughput against the offered load, the server's CPU seconds
    per message, and store round trips per client message (`/healthz` `storeCommands`
    deltas over the window). Then the same at twice the load (2S sessions x R/s) on 1, 2
    and 3 server processes against one store, sessions spread round-robin, CPU summed.
(c) The baseline of (b): the same clients and traffic against a bare `websockets` echo
    server in its own process (welcomes `hello`, acks every id, nothing else). Ratios
    (b)/(c) are printed: CPU per message, latency.
(d) The store's ceiling for the write path: one `insert_many` per group-commit batch
    (of the batch size (b) saw), one batch at a time, issued directly through PyMongo.
(a) Idle capacity: N interview connections (each its own session) held by one server
    process through several heartbeats, with and without permessage-deflate offered by
    the client, on the server's sans-I/O WebSocket implementation and (the baseline) on
    uvicorn's legacy websockets one; server RSS delta per connection. Clients are callback-only sans-I/O
    sockets (bench/ws_idle.py), so 10,000 fit in this process; it raises its own
    RLIMIT_NOFILE soft limit to the hard one, which the server processes it starts inherit.

Usage: python bench/ws.py [--idle 10000 --sessions 200 --store-sessions 3000 --rate 2 --warmup 5 --duration 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import websockets
from pymongo import AsyncMongoClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import http_load
from bench.common import BENCH_LIMITS
from bench.http_load import request_bytes
from bench.start_session import seed_applications
from bench.ws_idle import open_idle, raise_open_files_limit
from bench.ws_load import Target, rss_kib, traffic
from storage.embedded import EmbeddedMongo, free_port
from tests.support import ServerProcess, auth, user_token

# ----- server processes ----------------------------------------------------------------


@contextlib.contextmanager
def server_fleet(count: int, mongodb_url: str, db: str, folder: Path, **env: str) -> Iterator[list[Target]]:
    """`count` server processes on one store and database, each on its own port.

    The one place that decides how server processes are run. When `interview-server
    --workers N` lands, a single-port mode plugs in here: start one ServerProcess with
    `--workers count` and return one Target per worker, all on its port, with the
    workers' pids (for CPU) — the store-command counts then need each worker's /healthz.
    """
    server_env = {"MONGODB_DB": db, "LOG_LEVEL": "WARNING", **BENCH_LIMITS, **env}
    servers = [ServerProcess(mongodb_url, folder / f"server{i}", server_env) for i in range(count)]
    try:
        with ThreadPoolExecutor(count) as pool:
            list(pool.map(lambda s: s.start(60), servers))
        targets = []
        for server in servers:
            assert server.process is not None
            targets.append(Target(server.ws_url, server.process.pid, server.base_url))
        yield targets
    except BaseException:
        for server in servers:
            print(server.log(), file=sys.stderr)
        raise
    finally:
        for server in servers:
            server.stop()


async def start_sessions(
    base_url: str, mongodb_url: str, db_name: str, count: int, concurrency: int = 100
) -> list[str]:
    """`count` fresh sessions through the real start-session endpoint; their session tokens."""
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url)
    # An hour per question: the benchmark measures connections, and thousands of question
    # timers firing together (every 2-3 minutes with the bank's limits) would be a load of their own.
    pairs = await seed_applications(mongo[db_name], count, time_limit_seconds=3600)
    await mongo.close()
    port = int(base_url.rsplit(":", 1)[1])
    requests = [
        request_bytes("POST", "/api/interview/start-session", port, {"applicationId": app}, auth(user_token(cand)))
        for app, cand in pairs
    ]
    outcome = await http_load.run(port, requests, concurrency, keep=lambda status: status == 201)
    if outcome.statuses.get(201, 0) != count:
        raise RuntimeError(f"start-session answered {outcome.statuses}")
    return [body["token"] for body in outcome.bodies]


# ----- the bare echo server ------------------------------------------------------------


async def echo_server(port: int) -> None:
    """Acks every message that has an id, welcomes hello; nothing else (no storage, no validation)."""
    from websockets.asyncio.server import serve

    async def handler(ws: Any) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in ws:
                message = json.loads(raw)
                if message.get("type") == "hello":
                    await ws.send(json.dumps({"type": "welcome"}))
                elif "id" in message:
                    await ws.send(json.dumps({"type": "ack", "ids": [message["id"]]}))

    async with serve(handler, "127.0.0.1", port, subprotocols=["interview.v1"], ping_interval=None):  # type: ignore[list-item]
        await asyncio.Future()


@contextlib.contextmanager
def echo_process() -> Iterator[Target]:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--echo-server", str(port)])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            time.sleep(0.05)
        yield Target(f"ws://127.0.0.1:{port}/", process.pid)
    finally:
        process.terminate()
        process.wait(10)


# ----- (d) the store's ceiling ---------------------------------------------------------


async def store_ceiling(mongodb_url: str, db_name: str, batch_size: int, batches: int) -> dict[str, float]:
    """One insert_many of `batch_size` event documents at a time, as the group writer stores a batch."""
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url)
    events = mongo[db_name].sessionEvents
    latencies: list[float] = []
    started = time.perf_counter()
    for _ in range(batches):
        now = datetime.now(UTC)
        docs = [
            {
                "sessionId": f"ceiling-{uuid.uuid4().hex}",
                "seq": 1,
                "type": "transcript",
                "ts": now,
                "payload": {"text": "bench line", "final": True, "startMs": 0, "endMs": 800},
                "source": "client",
                "clientEventId": str(uuid.uuid4()),
                "receivedAt": now,
            }
            for _ in range(batch_size)
        ]
        begun = time.perf_counter()
        await events.insert_many(docs, ordered=False)
        latencies.append(time.perf_counter() - begun)
    elapsed = time.perf_counter() - started
    await mongo.close()
    ms = sorted(v * 1000 for v in latencies)
    return {"events_per_second": batch_size * batches / elapsed, "p50_ms": ms[len(ms) // 2], "max_ms": ms[-1]}


# ----- reporting -----------------------------------------------------------------------


def report(name: str, r: dict[str, Any], echo: dict[str, Any] | None = None) -> None:
    line = (
        f"  {name}: {r['acked']}/{r['sent']} acked; {r['throughput']:.0f} msg/s of {r['offered']:.0f} offered "
        f"({r['throughput'] / r['offered']:.2f}); ack p50={r['p50_ms']:.1f}ms p99={r['p99_ms']:.1f}ms "
        f"max={r['max_ms']:.1f}ms; CPU {r['cpu_seconds']:.1f}s = {r['cpu_ms_per_message']:.3f} ms/msg"
    )
    if echo is not None:
        line += (
            f" ({r['cpu_ms_per_message'] / echo['cpu_ms_per_message']:.2f}x echo); "
            f"store {r['store_commands']} round trips = {r['round_trips_per_message']:.3f}/msg, "
            f"{r['batch_size']:.1f} events/batch; store time "
            + ", ".join(f"{name} {ms / 1000:.1f}s ({n})" for name, (ms, n) in r["store_millis"].items())
        )
    print(line, flush=True)


async def load_section(args: argparse.Namespace, store: str, db: str, tmp: Path, tokens: list[str]) -> int:
    print(
        f"(b)/(c) load: {args.warmup:.0f}s warm-up, then {args.duration:.0f}s measured; "
        "sessions spread round-robin over the processes",
        flush=True,
    )
    single, double = tokens[: args.sessions], tokens[: 2 * args.sessions]
    load = {"rate": args.rate, "warmup": args.warmup, "duration": args.duration}
    with echo_process() as echo_target:
        echo = await traffic([echo_target], ["-"] * len(single), expect=0, **load)
        echo2 = await traffic([echo_target], ["-"] * len(double), expect=0, **load)
    report(f"(c) bare websockets echo, {len(single)} x {args.rate:g}/s", echo)
    report(f"(c) bare websockets echo, {len(double)} x {args.rate:g}/s", echo2)
    with server_fleet(1, store, db, tmp / "load1") as targets:
        channel = await traffic(targets, single, expect=2, **load)
    report(f"(b) channel, 1 process, {len(single)} x {args.rate:g}/s", channel, echo)
    for count in args.processes:
        with server_fleet(count, store, db, tmp / f"load{count}x2") as targets:
            result = await traffic(targets, double, expect=2, **load)
        processes = f"{count} process{'es' if count > 1 else ''}"
        report(f"(b) channel, {processes}, {len(double)} x {args.rate:g}/s", result, echo2)
    return max(1, round(channel["batch_size"]))


async def ceiling_section(store: str, db: str, batch_size: int) -> None:
    ceiling = await store_ceiling(store, db, batch_size, 200)
    print(
        f"(d) store ceiling, one insert_many of {batch_size} events at a time (the write path of one batch): "
        f"{ceiling['events_per_second']:.0f} events/s, "
        f"p50={ceiling['p50_ms']:.1f}ms max={ceiling['max_ms']:.1f}ms a batch",
        flush=True,
    )


# The server's implementation (sans-I/O, small deflate window) and, as the same-run baseline,
# uvicorn's legacy websockets one with zlib's default window.
IDLE_RUNS = [("websockets", False), ("sansio", False), ("websockets", True), ("sansio", True)]


async def wait_released(store: str, db: str, within: float = 300.0) -> None:
    """Until no session in the store is leased to a connection (each was released)."""
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(store)
    try:
        async with asyncio.timeout(within):
            # Polled: the releases are another process's writes.
            while await mongo[db].interviewSessions.count_documents(  # noqa: ASYNC110
                {"connectedUntil": {"$gt": datetime.now(UTC)}}
            ):
                await asyncio.sleep(1)
    finally:
        await mongo.close()


async def idle_section(args: argparse.Namespace, store: str, db: str, tmp: Path, tokens: list[str]) -> None:
    for implementation, compression in IDLE_RUNS:
        if args.idle_runs and f"{implementation}:{'deflate' if compression else 'plain'}" not in args.idle_runs:
            continue
        hold_env = {"WS_HEARTBEAT_SECONDS": str(args.heartbeat), "WS_IMPLEMENTATION": implementation}
        folder = tmp / f"idle-{implementation}-{compression}"
        with server_fleet(1, store, db, folder, **hold_env) as (target,):
            warm = await open_idle(target.ws_url, tokens[:50], compression=compression, expect=2)
            warm.close()
            await asyncio.sleep(2)
            before = rss_kib(target.pid)
            count = args.idle if implementation == "sansio" else min(args.idle, args.idle_baseline)
            idle = await open_idle(target.ws_url, tokens[:count], compression=compression, expect=2)
            opened = rss_kib(target.pid)
            await asyncio.sleep(args.hold)
            after = rss_kib(target.pid)
            alive = idle.alive(min_pings=2)
            negotiated = sum(c.deflate for c in idle.clients)
            idle.close()
            count = len(idle.clients)
            print(
                f"(a) idle, {implementation}, permessage-deflate {'offered' if compression else 'not offered'} "
                f"({negotiated} negotiated): {alive}/{count} alive after {args.hold:.0f}s with >= 2 pings; "
                f"opened in {idle.connect_seconds:.0f}s ({idle.retries} retried); server RSS "
                f"{before / 1024:.0f} -> {opened / 1024:.0f} (opened) -> {after / 1024:.0f} MiB (held) = "
                f"{(after - before) / count:.1f} KiB per connection",
                flush=True,
            )
            # Let the server release every session before it stops: a stop cannot release
            # 10,000 in its timeout, and the next run's hellos would wait out the takeover.
            with contextlib.suppress(TimeoutError):
                await wait_released(store, db)


async def main(args: argparse.Namespace) -> None:
    limit = raise_open_files_limit()
    needed = max(args.idle if "a" in args.only else 0, 2 * args.sessions, args.store_sessions)
    print(
        f"WebSocket channel benchmark ({os.cpu_count()} CPUs shared by the store, the servers and the clients; "
        f"RLIMIT_NOFILE {limit})",
        flush=True,
    )
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        store = args.mongodb_url
        if store is None:
            embedded = EmbeddedMongo(tmp / "db")
            embedded.start()
            stack.callback(embedded.stop)
            store = embedded.url
        db = f"bench_{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        with server_fleet(1, store, db, tmp / "start") as (target,):
            assert target.base_url is not None
            tokens = await start_sessions(target.base_url, store, db, needed)
        print(f"  {len(tokens)} sessions started in {time.perf_counter() - started:.0f}s", flush=True)
        batch_size = 10
        if "b" in args.only:
            batch_size = await load_section(args, store, db, tmp, tokens)
        if "d" in args.only:
            await ceiling_section(store, db, batch_size)
        if "a" in args.only:
            await idle_section(args, store, db, tmp, tokens)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=10_000, help="idle connections for (a)")
    parser.add_argument(
        "--idle-baseline", type=int, default=2_000, help="idle connections of the legacy-implementation baseline"
    )
    parser.add_argument(
        "--idle-runs", type=lambda v: v.split(","), default=[], help="of (a), e.g. 'sansio:deflate' (default: all four)"
    )
    parser.add_argument("--hold", type=float, default=25.0, help="seconds to hold them")
    parser.add_argument("--heartbeat", type=float, default=10.0, help="WS_HEARTBEAT_SECONDS of the (a) server")
    parser.add_argument("--sessions", type=int, default=200, help="sessions for (b) (twice as many for 2x)")
    parser.add_argument(
        "--store-sessions", type=int, default=3_000, help="sessions started in the store before (b), at least"
    )
    parser.add_argument("--rate", type=float, default=2.0, help="transcripts per second per session")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of traffic before the window")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of measured traffic")
    parser.add_argument("--processes", type=lambda s: [int(n) for n in s.split(",")], default=[1, 2, 3])
    parser.add_argument("--only", default="abcd", help="sections to run, e.g. 'a' or 'bcd'")
    parser.add_argument("--mongodb-url", default=None, help="use this store instead of a fresh embedded one")
    parser.add_argument("--echo-server", type=int, default=None, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.echo_server is not None:
        asyncio.run(echo_server(arguments.echo_server))
    else:
        asyncio.run(main(arguments))
