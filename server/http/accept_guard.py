"""New TCP connections per client address, limited before a byte of them is parsed.

A flood of connections (2,000 sockets that never say hello, from one address) costs the
server its whole HTTP and WebSocket handshake for each one, even when the answer is a
429: about half a millisecond of the event loop, which every other session waits for.
Past this limit the connection is dropped as soon as it is accepted (the client sees a
reset), which costs almost nothing. Addresses of TRUSTED_PROXIES are not limited (all
clients arrive through them; limit connections at the proxy). Kept per process.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.http.request import Network
from server.sessions.limits import KeyedBuckets


class ConnectionGuard:
    """`rate` new connections per second per address, bursts of `burst`."""

    def __init__(
        self, rate: float, burst: int, exempt: list[Network], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._buckets = KeyedBuckets(rate, burst)
        self._exempt = exempt
        self._clock = clock
        self.dropped = 0

    def admit(self, address: str) -> bool:
        if self._exempt:
            try:
                if any(ipaddress.ip_address(address) in network for network in self._exempt):
                    return True
            except ValueError:
                pass
        if self._buckets.take(address, self._clock()) == 0:
            return True
        self.dropped += 1
        return False


def guarded_http_protocol(guard: ConnectionGuard) -> type[asyncio.Protocol]:
    """uvicorn's httptools HTTP protocol, dropping connections `guard` does not admit."""

    class GuardedHttpProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            peer = transport.get_extra_info("peername")
            if peer and not guard.admit(str(peer[0])):
                self.transport = transport  # connection_lost closes it
                transport.abort()
                return
            super().connection_made(transport)

    return GuardedHttpProtocol
