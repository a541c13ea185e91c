"""The MongoDB connection (PyMongo's asyncio API) and the collections the server uses."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Collections:
    applications: AsyncCollection
    sessions: AsyncCollection
    events: AsyncCollection
    questions: AsyncCollection
    rate_limits: AsyncCollection


class Database:
    """Owns the AsyncMongoClient; every repository is built from its collections."""

    def __init__(self, url: str, name: str, timeout_ms: int = 2000) -> None:
        # Short timeouts so an unreachable store answers 503 quickly instead of hanging.
        self.client: AsyncMongoClient = AsyncMongoClient(
            url,
            tz_aware=True,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            socketTimeoutMS=max(timeout_ms * 5, 10_000),
            retryWrites=True,
            appname="interview-server",
        )
        self.db: AsyncDatabase = self.client[name]
        self.collections = Collections(
            applications=self.db["applications"],
            sessions=self.db["interviewSessions"],
            events=self.db["sessionEvents"],
            questions=self.db["questions"],
            rate_limits=self.db["rateLimits"],
        )

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def close(self) -> None:
        await self.client.close()
