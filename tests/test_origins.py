"""Origins: the socket's Origin check (never the Host header), CORS for the API, and answers' default headers."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from realtime.channel.origins import origin_allowed, own_origins
from server.config import Settings
from server.sessions.wire_types import canonical_origin
from tests.session_support import new_session
from tests.support import ServerProcess, tuned_server

LISTED = "https://app.example.com"
PUBLIC = "https://interviews.example.com"


def test_origins_compare_scheme_host_and_port() -> None:
    allowed = Settings(allowed_origins=f"{LISTED}:443/", public_url=f"{PUBLIC}/some/path").browser_origins
    own = own_origins("ws", ("127.0.0.1", 8123))
    assert origin_allowed("https://APP.example.com", allowed, own)
    assert origin_allowed(PUBLIC, allowed, own)
    assert origin_allowed("http://localhost:8123", allowed, own)  # loopback names are one address
    assert origin_allowed(None, allowed, own)  # not a browser
    for foreign in ("http://app.example.com", "https://app.example.com:8443", "http://127.0.0.1:8124", "null", ""):
        assert not origin_allowed(foreign, allowed, own), foreign
    assert own_origins("wss", ("10.0.0.5", 443)) == {"https://10.0.0.5"}


def test_canonical_origin_is_what_browsers_send() -> None:
    assert canonical_origin("HTTP://Example.COM:80/") == "http://example.com"
    assert canonical_origin("https://[::1]:8443") == "https://[::1]:8443"
    for not_an_origin in ("ftp://x", "https://u@x", "https://x/path", "https://x:99999", "x"):
        assert canonical_origin(not_an_origin) is None, not_an_origin
    with pytest.raises(ValueError):
        Settings(allowed_origins="app.example.com")


@pytest.fixture(scope="module")
def origin_server(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with tuned_server(
        mongodb_url,
        tmp_path_factory.mktemp("origins"),
        allowed_origins=LISTED,
        public_url=PUBLIC,
        ws_hello_timeout_seconds="1",
    ) as process:
        yield process


@pytest.fixture
async def http(origin_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=origin_server.base_url, timeout=15) as client:
        yield client


async def upgrade_close_code(port: int, origin: str, host: str) -> int:
    """Open the socket by hand with any Host header; the close code the server sends."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws/interview HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: interview.v1\r\n\r\n"
        ).encode()
    )
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 101"), head
        while True:  # skip the `error` text frame that may come first
            opcode, length = await asyncio.wait_for(reader.readexactly(2), 10)
            size = length & 0x7F
            if size == 126:
                (size,) = struct.unpack("!H", await reader.readexactly(2))
            payload = await reader.readexactly(size)
            if opcode & 0x0F == 0x8:
                return int(struct.unpack("!H", payload[:2])[0])
    finally:
        writer.close()


async def test_a_foreign_origin_with_a_matching_host_is_refused(origin_server: ServerProcess) -> None:
    port = origin_server.port
    assert await upgrade_close_code(port, "http://evil.example", "evil.example") == 4003
    assert await upgrade_close_code(port, f"https://127.0.0.1:{port}", f"127.0.0.1:{port}") == 4003  # scheme
    assert await upgrade_close_code(port, "http://evil.example", f"127.0.0.1:{port}") == 4003


async def test_own_public_and_listed_origins_get_to_hello(origin_server: ServerProcess) -> None:
    port = origin_server.port
    # Past the Origin check the server waits for hello and, with none, closes 4001 after the hello timeout.
    for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}", LISTED, PUBLIC):
        assert await upgrade_close_code(port, origin, "anything.example") == 4001, origin


async def test_cors_preflight_and_requests_follow_allowed_origins(http: httpx.AsyncClient) -> None:
    started = await new_session(http)
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    allowed = await http.options(started.url("/events"), headers={"Origin": LISTED, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == LISTED
    assert "POST" in allowed.headers["access-control-allow-methods"]
    foreign = await http.options(started.url("/events"), headers={"Origin": "https://evil.example", **preflight})
    assert foreign.status_code == 400 and "access-control-allow-origin" not in foreign.headers
    read = await http.get(started.url(), headers={**started.bearer, "Origin": PUBLIC})
    assert read.status_code == 200 and read.headers["access-control-allow-origin"] == PUBLIC
    assert "retry-after" in read.headers["access-control-expose-headers"].lower()


async def test_api_answers_are_not_sniffed_nor_cached(http: httpx.AsyncClient) -> None:
    started = await new_session(http)
    for response in (
        await http.get(started.url(), headers=started.bearer),
        await http.get(started.url()),  # 401
        await http.get("/api/nothing-here"),  # 404
        await http.get("/openapi.json"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff", response.url
        assert response.headers["cache-control"] == "no-store", response.url
    page = await http.get("/client/candidate.js")
    assert page.headers["cache-control"] == "no-cache"  # files keep their own policy


async def test_the_page_has_its_policy_wherever_it_is_served(http: httpx.AsyncClient) -> None:
    direct = await http.get("/client/candidate.html")
    routed = await http.get("/interview/app_any")
    for name in ("content-security-policy", "x-frame-options", "permissions-policy", "x-content-type-options"):
        assert direct.headers[name] == routed.headers[name], name
    assert direct.headers["x-frame-options"] == "DENY"


async def test_405_names_every_allowed_method(http: httpx.AsyncClient) -> None:
    started = await new_session(http)
    for path, expected in (
        (started.url("/events"), {"GET", "HEAD", "POST"}),
        (started.url("/recording"), {"GET", "HEAD", "POST"}),
        ("/api/interview/start-session", {"POST"}),
    ):
        response = await http.request("DELETE", path, headers=started.bearer)
        assert response.status_code == 405
        assert set(response.headers["allow"].replace(" ", "").split(",")) == expected, path
        assert response.json()["code"] == "METHOD_NOT_ALLOWED"
