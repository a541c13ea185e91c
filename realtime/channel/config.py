"""The channel's settings, resolved once by the composition root."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from server.sessions.wire_types import browser_origins

# The session is marked connected (`connectedUntil`) for this long and renewed at half-time,
# so the abandon sweeper (30 min of inactivity by default) leaves it alone; a dead process's
# mark simply runs out. Each renewal is a write: 10,000 idle connections cost 22 a second.
CONNECTION_LEASE_SECONDS = 900.0
GARBAGE_LIMIT = 10  # invalid messages within GARBAGE_WINDOW_SECONDS before closing 4008
GARBAGE_WINDOW_SECONDS = 60.0
MAX_BATCH = 50  # client messages stored with one ingest call when they queued up behind a slow store
REPLAY_PAGE_SIZE = 200
# The server times a question out this long after its limit, so that the page's own time-up
# (which submits the candidate's draft as the answer) arrives first; the server's timeout
# covers pages that are gone.
QUESTION_TIMEOUT_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class ChannelConfig:
    heartbeat_seconds: float = 20.0
    idle_timeout_seconds: float = 60.0
    hello_timeout_seconds: float = 5.0
    max_message_bytes: int = 64 * 1024
    rate_per_second: float = 20.0
    rate_burst: int = 60
    send_queue_size: int = 256
    token_refresh_before_seconds: int = 300
    # Sockets before hello per client address and in all; live sessions per user (this process).
    prehello_per_ip: int = 16
    prehello_total: int = 512
    sessions_per_user: int = 4
    # RTCIceServer objects for the browser, sent in `welcome`.
    ice_servers: list[dict[str, Any]] = field(default_factory=list)
    allowed_origins: tuple[str, ...] = ()
    public_url: str | None = None
    # What live media does in this process, told to the page in `welcome`.
    transcription: bool = False
    voice: str | None = None

    @functools.cached_property
    def browser_origins(self) -> frozenset[str]:
        """The origins, canonical, that may open the socket besides the server's own address."""
        return browser_origins(self.allowed_origins, self.public_url)

    @property
    def lease_seconds(self) -> float:
        return max(CONNECTION_LEASE_SECONDS, self.idle_timeout_seconds)
