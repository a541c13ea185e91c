"""The question bank and its idempotent loading from the packaged JSON file."""

from __future__ import annotations

import asyncio
import json
import time
from importlib import resources
from typing import Any

from pymongo import ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection

from storage.models import Difficulty, QuestionCategory, QuestionDoc


def _read_bank_file() -> list[QuestionDoc]:
    text = resources.files("storage").joinpath("data/questions.json").read_text("utf-8")
    return [QuestionDoc.model_validate(item) for item in json.loads(text)]


async def load_packaged_bank() -> list[QuestionDoc]:
    """The question bank shipped with the server (read off the event loop)."""
    return await asyncio.to_thread(_read_bank_file)


class QuestionRepository:
    def __init__(self, collection: AsyncCollection[dict[str, Any]], cache_seconds: float = 60.0) -> None:
        self._collection = collection
        self._cache_seconds = cache_seconds
        self._cache: tuple[float, list[QuestionDoc]] | None = None

    async def all(self) -> list[QuestionDoc]:
        """The whole bank, cached briefly: it is small and read by every start-session."""
        now = time.monotonic()
        if self._cache is not None and self._cache[0] > now:
            return self._cache[1]
        documents = [QuestionDoc.model_validate(d) async for d in self._collection.find({})]
        self._cache = (now + self._cache_seconds, documents)
        return documents

    async def load_bank(self, questions: list[QuestionDoc]) -> int:
        """Upsert every question by id; running it again changes nothing."""
        if not questions:
            return 0
        operations = [ReplaceOne({"_id": q.id}, q.to_document(), upsert=True) for q in questions]
        await self._collection.bulk_write(operations, ordered=False)
        self._cache = None
        return len(operations)

    async def candidates(self, categories: list[QuestionCategory], difficulty: Difficulty) -> list[QuestionDoc]:
        """Every bank question in the given categories, the wanted difficulty first."""
        wanted = set(categories)
        documents = [q for q in await self.all() if q.category in wanted]
        return sorted(documents, key=lambda q: (q.difficulty != difficulty, q.id))
