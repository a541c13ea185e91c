"""The MongoDB connection (PyMongo's asyncio API) and the repositories built on its collections."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from storage.applications import ApplicationRepository
from storage.change_feed import ChangeFeed, OnChange, Wants
from storage.connections import ConnectionClaims
from storage.durability import Durability, client_options
from storage.events import EventRepository
from storage.monitoring import CommandCounter
from storage.questions import QuestionRepository
from storage.rate_limits import RateLimiter
from storage.recordings import RecordingFiles
from storage.seq_counter import SeqCounter
from storage.sessions import SessionRepository
from storage.tombstones import TombstoneRepository

logger = logging.getLogger(__name__)

Collection = AsyncCollection[dict[str, Any]]


@dataclass(frozen=True)
class Collections:
    applications: Collection
    sessions: Collection
    events: Collection
    questions: Collection
    rate_limits: Collection
    tombstones: Collection


@dataclass(frozen=True)
class Repositories:
    """Every repository of one database; only the session core holds it."""

    applications: ApplicationRepository
    sessions: SessionRepository
    events: EventRepository
    questions: QuestionRepository
    rate_limits: RateLimiter
    seqs: SeqCounter
    connections: ConnectionClaims
    recordings: RecordingFiles
    tombstones: TombstoneRepository


class Database:
    """Owns the AsyncMongoClient; every repository is built from its collections."""

    def __init__(self, url: str, name: str, timeout_ms: int = 2000, durability: Durability = "majority") -> None:
        self.commands = CommandCounter()  # the change feed's own client is not counted: it only waits
        # Every operation has `timeout_ms` in all (PyMongo's client-side operation timeout: server
        # selection, connecting, waiting for a pooled connection and the reply), so a store that is
        # down or frozen answers 503 within about that time instead of a socket timeout later.
        # Operations on many documents (replay pages, uploads, aggregations) get `long_seconds`.
        self.long_seconds = max(10.0, timeout_ms * 5 / 1000)
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            url,
            tz_aware=True,
            timeoutMS=timeout_ms,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            retryWrites=True,
            appname="interview-server",
            event_listeners=[self.commands],
            **client_options(durability),
        )
        self.durability = durability
        self.db: AsyncDatabase[dict[str, Any]] = self.client[name]
        self._url, self._name, self._timeout_ms = url, name, timeout_ms
        self._feed_client: AsyncMongoClient[dict[str, Any]] | None = None
        self.collections = Collections(
            applications=self.db["applications"],
            sessions=self.db["interviewSessions"],
            events=self.db["sessionEvents"],
            questions=self.db["questions"],
            rate_limits=self.db["rateLimits"],
            tombstones=self.db["sessionTombstones"],
        )

    def repositories(self) -> Repositories:
        c = self.collections
        return Repositories(
            applications=ApplicationRepository(c.applications),
            sessions=SessionRepository(c.sessions, self.long_seconds),
            events=EventRepository(c.events, self.long_seconds),
            questions=QuestionRepository(c.questions),
            rate_limits=RateLimiter(c.rate_limits),
            seqs=SeqCounter(c.sessions),
            connections=ConnectionClaims(c.sessions),
            recordings=RecordingFiles(self.db, self.long_seconds),
            tombstones=TombstoneRepository(c.tombstones),
        )

    def change_feed(self, on_change: OnChange, wants: Wants) -> ChangeFeed:
        """The process's change stream, on a client of its own so a busy pool never delays it."""
        if self._feed_client is None:
            self._feed_client = AsyncMongoClient(
                self._url,
                tz_aware=True,
                serverSelectionTimeoutMS=self._timeout_ms,
                connectTimeoutMS=self._timeout_ms,
                maxPoolSize=2,
                appname="interview-server-feed",
            )
        c = self.collections
        return ChangeFeed(
            self._feed_client[self._name], c.events.name, c.sessions.name, on_change, wants, c.tombstones.name
        )

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def close(self) -> None:
        if self._feed_client is not None:
            await self._feed_client.close()
        await self.client.close()
