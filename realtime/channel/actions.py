"""What the channel protocol decides, as values the asyncio shell acts on."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from realtime.channel.close_codes import CloseCode
from realtime.messages import ClientEventMessage
from server.sessions import NewClientEvent
from storage import EventDoc


class State(Enum):
    OPENING = "opening"
    REPLAYING = "replaying"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


@dataclass(frozen=True)
class Close:
    code: CloseCode
    reason: str


@dataclass
class StoreRequest:
    """Client messages ready for one `ingest` call, and the message behind each id."""

    events: list[NewClientEvent] = field(default_factory=list)
    by_id: dict[str, ClientEventMessage] = field(default_factory=dict)


Outgoing = EventDoc | dict[str, Any] | Close
