"""How durable an ack is: the write and read concerns of every store operation."""

from __future__ import annotations

import logging
from typing import Any, Literal

from pymongo import MongoClient
from pymongo.errors import PyMongoError

logger = logging.getLogger(__name__)

Durability = Literal["majority", "acknowledged"]


def client_options(durability: Durability) -> dict[str, Any]:
    """PyMongo client options: with `majority`, a write returns once a majority of the replica set
    has it (journalled), and reads see only majority-committed data, so a replay never shows an
    event that a failover could take back, and everything acked survives one."""
    if durability == "majority":
        return {"w": "majority", "readConcernLevel": "majority"}
    return {"w": 1}


def detect(url: str, timeout_ms: int) -> Durability:
    """`majority` when the store is a replica set; also when it cannot be asked (the safe side)."""
    try:
        client: MongoClient[dict[str, Any]]
        with MongoClient(url, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms) as client:
            hello = client.admin.command("hello")
    except PyMongoError as error:
        logger.warning("store not reachable to detect a replica set (%s): acks wait for a majority", error)
        return "majority"
    if hello.get("setName") or hello.get("msg") == "isdbgrid":
        return "majority"
    logger.warning("the store is not a replica set: acks wait for the one server only")
    return "acknowledged"
