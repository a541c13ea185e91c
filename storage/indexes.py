"""Indexes, created idempotently at start-up."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

from storage.database import Database
from storage.recordings import BUCKET

SESSION_INDEXES = [
    IndexModel([("sessionId", ASCENDING)], unique=True, name="sessionId_unique"),
    IndexModel([("applicationId", ASCENDING), ("status", ASCENDING)], name="application_status"),
    IndexModel([("startedAt", DESCENDING)], name="startedAt_desc"),
    IndexModel([("candidateId", ASCENDING), ("startedAt", DESCENDING)], name="candidate_startedAt"),
    IndexModel([("status", ASCENDING), ("completedAt", ASCENDING)], name="status_completedAt"),  # retention
    # At most one active session per application, enforced by the store itself.
    IndexModel(
        [("applicationId", ASCENDING)],
        unique=True,
        name="one_active_session_per_application",
        partialFilterExpression={"status": {"$in": ["in_progress", "paused"]}},
    ),
    # start-session's idempotency key.
    IndexModel(
        [("applicationId", ASCENDING), ("clientSessionId", ASCENDING)],
        unique=True,
        name="clientSessionId_unique",
        partialFilterExpression={"clientSessionId": {"$exists": True}},
    ),
]

EVENT_INDEXES = [
    IndexModel([("sessionId", ASCENDING), ("seq", ASCENDING)], unique=True, name="session_seq_unique"),
    # A client retry can never store the same event twice.
    IndexModel(
        [("sessionId", ASCENDING), ("clientEventId", ASCENDING)],
        unique=True,
        name="session_clientEventId_unique",
        partialFilterExpression={"clientEventId": {"$exists": True}},
    ),
    # The lookup of already stored ids (every upload, every hello's pendingIds). The unique index above
    # is partial, and the embedded store's planner uses no partial index: without this one each lookup
    # scanned the collection (1.6 s of store time for 500 ids next to 2,000 events, holding everyone up).
    IndexModel([("sessionId", ASCENDING), ("clientEventId", ASCENDING)], name="session_clientEventId_lookup"),
]

# Indexes of earlier versions that nothing reads any more: each costs every insert its upkeep.
OBSOLETE_EVENT_INDEXES = ("type_ts", "apply_pending")

APPLICATION_INDEXES = [IndexModel([("candidateId", ASCENDING)], name="candidateId")]

QUESTION_INDEXES = [IndexModel([("category", ASCENDING), ("difficulty", ASCENDING)], name="category_difficulty")]

TOMBSTONE_INDEXES = [
    IndexModel([("sessionId", ASCENDING)], unique=True, name="sessionId_unique"),
    IndexModel([("state", ASCENDING), ("finishedAt", ASCENDING)], name="state_finishedAt"),
]

# GridFS's own indexes (PyMongo would create them on a first upload) and the lookup of a session's files.
RECORDING_FILE_INDEXES = [
    IndexModel([("filename", ASCENDING), ("uploadDate", ASCENDING)], name="filename_1_uploadDate_1"),
    IndexModel([("metadata.sessionId", ASCENDING)], name="metadata_sessionId"),
]
RECORDING_CHUNK_INDEXES = [
    IndexModel([("files_id", ASCENDING), ("n", ASCENDING)], unique=True, name="files_id_1_n_1"),
]

RATE_LIMIT_INDEXES = [
    IndexModel([("expiresAt", ASCENDING)], expireAfterSeconds=0, name="expiresAt_ttl"),
]


async def ensure_indexes(database: Database) -> None:
    c = database.collections
    await c.sessions.create_indexes(SESSION_INDEXES)
    await c.events.create_indexes(EVENT_INDEXES)
    existing = {index["name"] async for index in await c.events.list_indexes()}
    for name in OBSOLETE_EVENT_INDEXES:
        if name in existing:
            await c.events.drop_index(name)
    await c.applications.create_indexes(APPLICATION_INDEXES)
    await c.questions.create_indexes(QUESTION_INDEXES)
    await c.rate_limits.create_indexes(RATE_LIMIT_INDEXES)
    await c.tombstones.create_indexes(TOMBSTONE_INDEXES)
    await database.db[f"{BUCKET}.files"].create_indexes(RECORDING_FILE_INDEXES)
    await database.db[f"{BUCKET}.chunks"].create_indexes(RECORDING_CHUNK_INDEXES)
