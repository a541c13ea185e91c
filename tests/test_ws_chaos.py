"""Chaos: 20 candidates interview on 3 server processes while connections are cut and one process is SIGKILLed.

Three server processes share one store; every (re)connect lands on a random one.
Connections are cut at random points from the client side (TCP abort, no close frame)
and from the server side (a second `hello` for the session, often on another
process, makes the server holding the older socket close it with 4009, in the
middle of whatever it was doing), some reconnects use a stale `lastSeq` (so
duplicates arrive and are dropped by seq), and once, mid-run, one process is
killed with SIGKILL and a new one is started on the same port and database. At
the end the store must hold exactly the client messages each client had
acknowledged, and each client must have seen every stored server seq exactly
once after de-duplication.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.support import Interview, ServerProcess, set_time_limits, start_interview, store_of
from tests.ws_client import InterviewClient

CANDIDATES = 20
PROCESSES = 3
TIME_LIMIT_SECONDS = 4
TERMINAL = {"completed", "abandoned", "error"}
RUN_DEADLINE_SECONDS = 150


@dataclass
class Candidate:
    """One simulated candidate and what happened to it."""

    index: int
    interview: Interview
    client: InterviewClient
    rng: random.Random
    progress: asyncio.Event
    chaos: Chaos
    handled: set[int] = field(default_factory=set)
    aborts: int = 0
    takeovers: int = 0
    stale_resumes: int = 0
    failed_connects: int = 0

    def ended(self) -> bool:
        client = self.client
        if client.welcome is not None and client.welcome["status"] in TERMINAL:
            return True
        return any(m["status"] in TERMINAL for m in client.of_type("session.state"))


@dataclass
class Chaos:
    """Shared state: the live server processes and the one-time kill."""

    servers: list[ServerProcess]
    progress: asyncio.Event = field(default_factory=asyncio.Event)
    cut_by_kill: int = 0
    restarts: int = 0
    killed: asyncio.Event = field(default_factory=asyncio.Event)
    restarted: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def server(self) -> ServerProcess:
        return self.servers[0]


async def connect(candidate: Candidate, *, take_over: bool = False) -> None:
    """(Re)connect until a welcome arrives; the server may be down for a while."""
    client = candidate.client
    stale = not take_over and client.last_seq is not None and candidate.rng.random() < 0.25
    async with asyncio.timeout(60):
        while True:
            client.url = candidate.rng.choice(candidate.chaos.servers).ws_url  # any process will do
            try:
                if stale:
                    candidate.stale_resumes += 1
                    await client.connect(last_seq=max(0, (client.last_seq or 0) - 3), take_over=take_over)
                else:
                    await client.connect(take_over=take_over)
                return
            except (
                OSError,
                ConnectionRefusedError,
                TimeoutError,
                websockets.InvalidHandshake,
                websockets.ConnectionClosed,
            ):
                candidate.failed_connects += 1
                take_over = False
                await asyncio.sleep(0.1 + candidate.rng.random() * 0.2)


async def disrupt(candidate: Candidate) -> None:
    """Sometimes cut the connection: from the client side, or make the server close it (takeover)."""
    roll = candidate.rng.random()
    if roll < 0.10:
        candidate.aborts += 1
        await candidate.client.abort()
        await asyncio.sleep(candidate.rng.random() * 0.3)
        await connect(candidate)
    elif roll < 0.16:
        candidate.takeovers += 1
        await connect(candidate, take_over=True)


async def send(candidate: Candidate, type_: str, **fields: Any) -> None:
    await candidate.client.send(type_, **fields)
    await disrupt(candidate)


async def answer(candidate: Candidate, question: dict[str, Any]) -> None:
    """What the candidate does with one question: speak, then answer, skip, or run out of time."""
    rng, qid = candidate.rng, question["id"]
    plan = rng.choices(["answer", "skip", "time out"], weights=[7, 1, 2])[0]
    await send(candidate, "answer.start", questionId=qid)
    for line in range(rng.randint(1, 3)):
        await send(candidate, "transcript", text=f"line {line}", startMs=line * 1000, endMs=line * 1000 + 900)
        await asyncio.sleep(rng.random() * 0.1)
    if rng.random() < 0.3:
        await send(candidate, "event", name=rng.choice(["tab.hidden", "mic.muted", "network.quality"]))
    if plan == "answer":
        await send(candidate, "answer.submit", questionId=qid, text=f"answer to {question['number']}")
    elif plan == "skip":
        await send(candidate, "question.next", questionId=qid)
    # "time out": say nothing more; the server's timer moves on.


async def run_candidate(candidate: Candidate) -> None:
    client = candidate.client
    await connect(candidate)
    while not candidate.ended():
        question = client.current_question()
        if question is not None and question["number"] not in candidate.handled:
            candidate.handled.add(question["number"])
            candidate.progress.set()
            await answer(candidate, question)
            continue
        number: int = question["number"] if question else 0

        def moved_on(number: int = number) -> bool:
            latest = client.current_question()
            return candidate.ended() or (latest is not None and latest["number"] > number)

        try:
            await client.wait_until(moved_on)
        except ConnectionError:
            await connect(candidate)
    # An ended session replays its final state, then closes 4010 (docs/protocol.md): a client
    # that hangs up on the welcome alone would miss that replay.
    with contextlib.suppress(TimeoutError):
        await client.wait_closed(within=20)
    # Settle what is still unacknowledged: the ended session answers each pending id, then 4010.
    while client.outbox:
        await connect(candidate)
        with contextlib.suppress(TimeoutError):
            await client.wait_closed(within=20)
    await client.close()


async def kill_and_restart(chaos: Chaos, candidates: list[Candidate]) -> None:
    """Once about a third of the questions are under way, SIGKILL one process and start a new one."""
    while sum(len(c.handled) for c in candidates) < CANDIDATES:
        chaos.progress.clear()
        await chaos.progress.wait()
    index = random.Random(len(candidates)).randrange(len(chaos.servers))
    old = chaos.servers[index]
    chaos.cut_by_kill = sum(1 for c in candidates if c.client.connected and c.client.url == old.ws_url)
    await asyncio.to_thread(old.kill)
    chaos.killed.set()
    replacement = ServerProcess(old.mongodb_url, old.data_dir, old.env, port=old.port)
    await asyncio.to_thread(replacement.start)
    chaos.servers[index] = replacement
    chaos.restarts += 1
    chaos.restarted.set()


@pytest.fixture
def chaos_servers(mongodb_url: str, tmp_path: Path) -> Any:
    env = {
        "MONGODB_DB": f"test_{uuid.uuid4().hex[:12]}",
        "START_SESSION_RATE_LIMIT": "1000",
        "WS_HEARTBEAT_SECONDS": "2",
        "LOG_LEVEL": "WARNING",
    }
    servers = [ServerProcess(mongodb_url, tmp_path, env).start() for _ in range(PROCESSES)]
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


async def test_twenty_candidates_on_three_processes_survive_cuts_and_a_kill(
    chaos_servers: list[ServerProcess],
) -> None:
    seed = int(os.environ.get("CHAOS_SEED", random.randrange(1 << 30)))
    print(f"\nchaos seed {seed} (set CHAOS_SEED to replay)")
    master = random.Random(seed)
    chaos = Chaos(chaos_servers)
    server = chaos.server
    candidates: list[Candidate] = []
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http, store_of(server) as db:
        for index in range(CANDIDATES):
            interview = await start_interview(http, question_count=master.randint(2, 4))
            await set_time_limits(db, interview.session_id, TIME_LIMIT_SECONDS)
            client = InterviewClient(server.ws_url, interview.token)
            rng = random.Random(master.random())
            candidates.append(Candidate(index, interview, client, rng, chaos.progress, chaos))

    async with asyncio.timeout(RUN_DEADLINE_SECONDS):
        await asyncio.gather(kill_and_restart(chaos, candidates), *(run_candidate(c) for c in candidates))
    assert chaos.killed.is_set() and chaos.restarted.is_set()

    totals: Counter[str] = Counter()
    async with store_of(chaos.server) as db:
        for candidate in candidates:
            client, session_id = candidate.client, candidate.interview.session_id
            events = await db.sessionEvents.find({"sessionId": session_id}).sort("seq", 1).to_list()
            session = await db.interviewSessions.find_one({"sessionId": session_id})
            stored_client = [e["clientEventId"] for e in events if e["source"] == "client"]
            stored_server = [e["seq"] for e in events if e["source"] == "server"]
            label = f"candidate {candidate.index} ({session_id})"

            assert session["status"] == "completed", label
            assert client.outbox == {}, f"{label}: unsettled messages {list(client.outbox)}"
            assert len(stored_client) == len(set(stored_client)), f"{label}: a client message was stored twice"
            assert set(stored_client) == client.acked, f"{label}: stored client messages differ from acked ones"
            assert client.acked | set(client.rejected) == client.sent_ids, label
            assert not set(client.rejected) & set(stored_client), f"{label}: a refused message was stored"
            assert client.seqs == set(stored_server), f"{label}: server seqs seen differ from stored"
            assert len(client.messages) == len(stored_server), label

            totals["client messages sent"] += len(client.sent_ids)
            totals["client transmissions (with resends)"] += client.sends
            totals["client messages stored"] += len(stored_client)
            totals["client messages refused (after the end)"] += len(client.rejected)
            totals["server messages stored"] += len(stored_server)
            totals["server messages received"] += len(client.seen)
            totals["duplicates dropped by seq"] += client.duplicates
            totals["questions timed out"] += len(client.of_type("question.timeout"))
            totals["answers recorded"] += len(client.of_type("answer.recorded"))
            totals["connections"] += client.connections
            totals["client-side aborts"] += candidate.aborts
            totals["server-side closes (4009 takeover)"] += client.close_codes.count(4009)
            totals["stale-lastSeq resumes"] += candidate.stale_resumes
            totals["failed connect attempts"] += candidate.failed_connects
    totals["server processes"] = PROCESSES
    totals["server restarts (SIGKILL)"] = chaos.restarts
    totals["live connections cut by the SIGKILL"] = chaos.cut_by_kill
    print(f"chaos: {CANDIDATES} candidates, all sessions completed")
    for name, value in totals.items():
        print(f"  {name}: {value}")
    assert (
        totals["client messages stored"] + totals["client messages refused (after the end)"]
        == totals["client messages sent"]
    )
    assert totals["server messages received"] - totals["duplicates dropped by seq"] == totals["server messages stored"]
    assert totals["server-side closes (4009 takeover)"] > 0 and totals["client-side aborts"] > 0
