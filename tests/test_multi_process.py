"""Three server processes on one store: live delivery across processes, takeover across processes.

Sticky routing is not needed for correctness: what one process stores reaches a
live connection held by another through the change feed, and a reconnect that
lands on another process takes the session over from the first.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ServerProcess, auth, start_interview, user_token
from tests.ws_client import InterviewClient

PROCESSES = 3


@pytest.fixture(scope="module")
def servers(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServerProcess]]:
    env = {"MONGODB_DB": f"test_{uuid.uuid4().hex[:12]}", "START_SESSION_RATE_LIMIT": "1000"}
    folder = tmp_path_factory.mktemp("processes")
    started: list[ServerProcess] = []
    try:
        for _ in range(PROCESSES):
            started.append(ServerProcess(mongodb_url, Path(folder), env).start())
        yield started
    finally:
        for server in started:
            server.stop()


async def test_an_event_stored_by_another_process_reaches_the_open_socket(servers: list[ServerProcess]) -> None:
    a, b, _c = servers
    async with httpx.AsyncClient(base_url=b.base_url, timeout=15) as http:
        interview = await start_interview(http, question_count=2)
        client = InterviewClient(a.ws_url, interview.token)
        await client.connect()
        await client.wait_type("question", number=1)
        connections_before = client.connections
        sent = time.monotonic()
        candidate = auth(user_token(interview.application["candidateId"]))
        response = await http.post(f"/api/interview/sessions/{interview.session_id}/pause", headers=candidate)
        assert response.status_code == 200, response.text
        state = await client.wait_type("session.state", status="paused")
        print(f"\npause through process B reached the socket on process A after {time.monotonic() - sent:.3f} s")
        resumed = await http.post(f"/api/interview/sessions/{interview.session_id}/resume", headers=candidate)
        assert resumed.status_code == 200, resumed.text
        again = await client.wait_type("session.state", status="in_progress", since=client.log.index(state))
    await client.close()
    assert client.connections == connections_before  # delivered live, not at a reconnect
    assert again["seq"] > state["seq"]
    assert sorted(m["seq"] for m in client.messages) == [m["seq"] for m in client.messages]


async def test_a_reconnect_on_another_process_takes_the_session_over(servers: list[ServerProcess]) -> None:
    a, b, c = servers
    async with httpx.AsyncClient(base_url=c.base_url, timeout=15) as http:
        interview = await start_interview(http, question_count=2)
    client = InterviewClient(a.ws_url, interview.token)
    await client.connect()
    question = await client.wait_type("question", number=1)
    line = await client.send("transcript", text="said on process A", startMs=0, endMs=900)
    await client.wait_acked(line)
    client.url = b.ws_url
    await client.connect(take_over=True)  # the socket on A stays open: A must close it
    answer = await client.send("answer.submit", questionId=question["id"], text="answered on process B")
    await client.wait_acked(answer)
    await client.wait_type("question", number=2)
    await client.close()  # waits for the replaced socket's close too
    assert client.close_codes.count(4009) == 1  # process A closed its socket when B took over
    seqs = [m["seq"] for m in client.messages]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
