"""Schemathesis over /openapi.json, with a candidate's and a recruiter's token: no 5xx, no answer off the schema.

Property-based: it generates valid and invalid requests for every operation from the
document (fuzzing, coverage and stateful phases) and checks every answer: not a server
error, status documented, body and headers as documented, 405s with Allow, and invalid
requests refused. One check is left out: `positive_data_acceptance` takes every
schema-valid request for one that must succeed, but many are refused by the rules of
the interview itself (a question that is not the current one, a paused session, a cursor
the server did not make), which no schema says. Bounded in time (MAX_SECONDS per token).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ServerProcess, create_application, start_session, tuned_server, user_token

MAX_SECONDS = 50
ST = str(Path(sys.executable).with_name("st"))
# The per-client limits are checked in test_client_limits.py; here they would only turn cases into 429s.
UNLIMITED = {
    "http_rate_limit_per_second": "100000",
    "http_rate_limit_burst": "100000",
    "upload_bytes_per_minute": str(1024**3),
    "connection_rate_per_ip": "100000",
    "connection_burst_per_ip": "100000",
    "ws_prehello_per_ip": "512",
}


@pytest.fixture(scope="module")
def fuzzed(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with tuned_server(mongodb_url, tmp_path_factory.mktemp("schemathesis"), **UNLIMITED) as process:
        yield process


@pytest.fixture(scope="module")
async def candidate(fuzzed: ServerProcess) -> AsyncIterator[str]:
    """A candidate with an application and a started session, so some paths exist."""
    async with httpx.AsyncClient(base_url=fuzzed.base_url, timeout=15) as http:
        application = await create_application(http, "cand_fuzz")
        assert (await start_session(http, application)).status_code == 201
    yield user_token("cand_fuzz")


def schemathesis(server: ServerProcess, token: str, reports: Path) -> subprocess.CompletedProcess[str]:
    command = [
        ST,
        "run",
        f"{server.base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-time",
        str(MAX_SECONDS),
        "--workers",
        "2",
        "--seed",
        "20261201",
        "--request-timeout",
        "20",
        "--report",
        "junit",
        "--report-dir",
        str(reports),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=MAX_SECONDS * 3)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("role", ["candidate", "recruiter"])
def test_no_server_error_and_nothing_off_the_schema(
    fuzzed: ServerProcess, candidate: str, role: str, tmp_path: Path
) -> None:
    token = candidate if role == "candidate" else user_token("recruiter_fuzz", "recruiter")
    result = schemathesis(fuzzed, token, tmp_path)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert "passed" in result.stdout
