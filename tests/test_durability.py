"""Acks wait for a majority when the store is a replica set (SecantusDB reports itself as one)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from storage import Database
from storage.durability import detect
from tests.support import running_server


def test_a_replica_set_store_is_detected_as_needing_majority_acks(mongodb_url: str) -> None:
    assert detect(mongodb_url, 2000) == "majority"


def test_an_unreachable_store_gets_the_safe_default() -> None:
    assert detect("mongodb://127.0.0.1:1/?directConnection=true", 200) == "majority"


async def test_majority_writes_and_reads_work_on_the_store(mongodb_url: str) -> None:
    database = Database(mongodb_url, f"test_{uuid.uuid4().hex[:12]}", durability="majority")
    try:
        collection = database.collections.events
        assert collection.write_concern.document == {"w": "majority"}
        assert collection.read_concern.level == "majority"
        await collection.insert_one({"sessionId": "s", "seq": 1})
        assert await collection.count_documents({"sessionId": "s"}) == 1
    finally:
        await database.close()


def test_the_server_reports_what_acks_wait_for(mongodb_url: str, tmp_path: Path) -> None:
    db = f"test_{uuid.uuid4().hex[:12]}"
    with running_server(mongodb_url, tmp_path / "auto", mongodb_db=db) as server:
        auto = httpx.get(f"{server.base_url}/healthz").json()["storeDurability"]
    with running_server(mongodb_url, tmp_path / "one", mongodb_db=db, store_durability="acknowledged") as server:
        chosen = httpx.get(f"{server.base_url}/healthz").json()["storeDurability"]
    assert (auto, chosen) == ("majority", "acknowledged")
