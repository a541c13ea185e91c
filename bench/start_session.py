"""Benchmark: concurrent start-session requests against a real server and store.

Prints latency percentiles and throughput, then the throughput of the bare PyMongo
operations one start-session performs (same store, same concurrency, same run),
and the ratio between the two. Usage: python bench/start_session.py [--concurrency 100 --total 500]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from pymongo import AsyncMongoClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import http_load
from bench.common import BENCH_LIMITS, percentile, store_and_server, summary_ms
from bench.http_load import Outcome, request_bytes
from tests.support import auth, user_token


async def seed_applications(db: object, count: int, time_limit_seconds: int | None = None) -> list[tuple[str, str]]:
    """`count` open applications, each of its own candidate; `time_limit_seconds` replaces every question's."""
    now = datetime.now(UTC)
    interview: dict[str, object] = {"questionCount": 5, "categories": ["technical", "behavioral"], "difficulty": "mid"}
    if time_limit_seconds is not None:
        interview["timeLimitSeconds"] = time_limit_seconds
    pairs = [(f"app_b_{uuid.uuid4().hex[:10]}", f"cand_b_{i}") for i in range(count)]
    await db.applications.insert_many(  # type: ignore[attr-defined]
        [
            {
                "_id": app,
                "candidateId": cand,
                "candidateName": "Bench",
                "jobTitle": "Engineer",
                "status": "open",
                "interview": interview,
                "createdAt": now,
                "updatedAt": now,
            }
            for app, cand in pairs
        ]
    )
    return pairs


async def store_commands(base_url: str) -> int:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        return int((await client.get("/healthz")).json()["storeCommands"]["total"])


async def run_server(
    port: int, base_url: str, pairs: list[tuple[str, str]], concurrency: int
) -> tuple[Outcome, float, int]:
    """Every pair's start-session at `concurrency`; the outcome, elapsed seconds, store round trips."""
    requests = [
        request_bytes("POST", "/api/interview/start-session", port, {"applicationId": app}, auth(user_token(cand)))
        for app, cand in pairs
    ]
    before = await store_commands(base_url)
    started = time.perf_counter()
    outcome = await http_load.run(port, requests, concurrency)
    elapsed = time.perf_counter() - started
    return outcome, elapsed, await store_commands(base_url) - before


async def run_probe(port: int, total: int, concurrency: int) -> tuple[Outcome, float]:
    """The baseline of the same client and server: `GET /healthz` (no store, no auth) as often."""
    requests = [request_bytes("GET", "/healthz", port, None, {})] * total
    started = time.perf_counter()
    outcome = await http_load.run(port, requests, concurrency)
    return outcome, time.perf_counter() - started


async def bare_operations(db: object, pairs: list[tuple[str, str]], concurrency: int) -> float:
    """The same MongoDB round trips as one start-session, with no HTTP, auth or validation."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(app: str, cand: str) -> None:
        async with semaphore:
            now = datetime.now(UTC)
            room_left = [{"hits.2": {"$exists": False}}, {"hits.0": {"$lte": now - timedelta(minutes=10)}}]
            await asyncio.gather(
                db.applications.find_one({"_id": app}),
                db.interviewSessions.find_one({"applicationId": app, "status": {"$in": ["in_progress", "paused"]}}),
            )
            await db.rateLimits.update_one(
                {"_id": f"bare:{app}", "$or": room_left},
                {"$push": {"hits": {"$each": [now], "$slice": -3}}, "$set": {"expiresAt": now + timedelta(minutes=10)}},
                upsert=True,
            )
            sid = str(uuid.uuid4())
            await db.bareSessions.insert_one(
                {
                    "sessionId": sid,
                    "applicationId": app,
                    "candidateId": cand,
                    "lastSeq": 2,
                    "status": "in_progress",
                    "startedAt": now,
                }
            )
            await db.bareEvents.insert_many(
                [
                    {"sessionId": sid, "seq": i + 1, "type": t, "ts": now}
                    for i, t in enumerate(("session.started", "question"))
                ]
            )

    started = time.perf_counter()
    await asyncio.gather(*(one(app, cand) for app, cand in pairs))
    return time.perf_counter() - started


async def main(args: argparse.Namespace) -> None:
    with store_and_server(args.mongodb_url, **BENCH_LIMITS) as (mongodb_url, server):
        mongo = AsyncMongoClient(mongodb_url, maxPoolSize=args.concurrency)
        db = mongo[server.env["MONGODB_DB"]]
        await run_probe(server.port, 200, args.concurrency)  # warm-up: connections, caches
        probe, probe_elapsed = await run_probe(server.port, args.total, args.concurrency)
        pairs = await seed_applications(db, args.total)
        outcome, elapsed, round_trips = await run_server(server.port, server.base_url, pairs, args.concurrency)
        bare_pairs = await seed_applications(db, args.total)
        bare_elapsed = await bare_operations(db, bare_pairs, args.concurrency)
        await mongo.close()
    server_rate = args.total / elapsed
    bare_rate = args.total / bare_elapsed
    failed = args.total - outcome.statuses.get(201, 0)
    print(f"start-session: {args.total} requests, {args.concurrency} concurrent, {failed} not 201 ({outcome.statuses})")
    print(f"  latency {summary_ms(outcome.latencies)}")
    print(f"  throughput {server_rate:.1f} req/s; store round trips {round_trips / args.total:.2f} per start")
    print(f"baseline, GET /healthz on the same server and client: latency {summary_ms(probe.latencies)}")
    print(f"  throughput {args.total / probe_elapsed:.1f} req/s")
    print(f"bare PyMongo operations of one start-session, one at a time each: {bare_rate:.1f} sessions/s")
    print(f"ratio start-session/healthz P95: {percentile(outcome.latencies, 95) / percentile(probe.latencies, 95):.1f}")
    print(f"ratio server/bare throughput: {server_rate / bare_rate:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--total", type=int, default=500)
    parser.add_argument("--mongodb-url", default=None, help="use this store instead of a fresh embedded one")
    asyncio.run(main(parser.parse_args()))
