"""Start-up indexes: created idempotently, and the ones nothing reads any more are dropped."""

from __future__ import annotations

import uuid

from pymongo import ASCENDING, IndexModel

from storage import Database, ensure_indexes
from storage.indexes import EVENT_INDEXES, OBSOLETE_EVENT_INDEXES


async def test_obsolete_event_indexes_are_dropped_and_the_current_ones_kept(mongodb_url: str) -> None:
    database = Database(mongodb_url, f"test_{uuid.uuid4().hex[:12]}")
    try:
        events = database.collections.events
        await events.create_indexes(
            [IndexModel([(f"old{i}", ASCENDING)], name=name) for i, name in enumerate(OBSOLETE_EVENT_INDEXES)]
        )
        await ensure_indexes(database)
        await ensure_indexes(database)  # a second start changes nothing
        names = {index["name"] async for index in await events.list_indexes()}
    finally:
        await database.close()
    assert names == {"_id_", *(index.document["name"] for index in EVENT_INDEXES)}
