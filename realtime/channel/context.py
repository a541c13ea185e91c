"""What every connection of one app shares, built once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from realtime.channel.config import ChannelConfig
from realtime.channel.registry import ConnectionRegistry
from realtime.channel.signalling import SignallingFactory
from server.sessions import Clock, SessionService, SessionTokens


@dataclass
class ChannelContext:
    config: ChannelConfig
    service: SessionService
    tokens: SessionTokens
    clock: Clock
    registry: ConnectionRegistry = field(default_factory=ConnectionRegistry)
    signalling: SignallingFactory | None = None
    # (socket peer, X-Forwarded-For) -> the client's address; the root plugs in TRUSTED_PROXIES.
    client_address: Callable[[str | None, str | None], str | None] = lambda peer, _forwarded: peer
