"""Which browser origins may open the interview socket.

An Origin is compared, as scheme, host and port, with `ALLOWED_ORIGINS`, `PUBLIC_URL`'s
origin and the address the connection itself arrived on (the server's own listening
address, never the request's Host header, which the client writes). On a loopback
address the loopback names (`localhost`, `127.0.0.1`, `[::1]`) all count as that address.
"""

from __future__ import annotations

import functools
import ipaddress

from server.sessions.wire_types import canonical_origin

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


@functools.lru_cache(maxsize=64)
def own_origins(scheme: str, server: tuple[str, int] | None) -> frozenset[str]:
    """The origins of the address a connection arrived on (`scope["server"]`, `scope["scheme"]`)."""
    if server is None:
        return frozenset()
    host, port = server
    web_scheme = "https" if scheme in ("https", "wss") else "http"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    names = _LOOPBACK_NAMES if loopback else (f"[{host}]" if ":" in host else host,)
    found = (canonical_origin(f"{web_scheme}://{name}:{port}") for name in names)
    return frozenset(origin for origin in found if origin is not None)


def origin_allowed(origin: str | None, allowed: frozenset[str], own: frozenset[str]) -> bool:
    """Browsers always send Origin: it must be ours or listed. Non-browser clients send none."""
    if origin is None:
        return True
    canonical = canonical_origin(origin)
    return canonical is not None and (canonical in allowed or canonical in own)
