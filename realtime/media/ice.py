"""ICE servers for aiortc, from any objects shaped like the browser's RTCIceServer (parsed in Settings)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from aiortc import RTCIceServer

__all__ = ["IceServerLike", "rtc_ice_servers"]


class IceServerLike(Protocol):
    @property
    def username(self) -> str | None: ...

    @property
    def credential(self) -> str | None: ...

    def url_list(self) -> list[str]: ...


def rtc_ice_servers(servers: Iterable[IceServerLike]) -> list[RTCIceServer]:
    """aiortc's RTCIceServer for each configured server."""
    return [RTCIceServer(urls=s.url_list(), username=s.username, credential=s.credential) for s in servers]
