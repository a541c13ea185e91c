"""Interview sessions: atomic, conditional updates only (no read-modify-write)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pymongo
from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from storage.errors import DUPLICATE_KEY
from storage.models import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    CamelModel,
    RecordingKind,
    RecordingRef,
    RecordingSegment,
    SessionDoc,
    SessionScores,
    SessionStatus,
)

ACTIVE_VALUES = frozenset(s.value for s in ACTIVE_STATUSES)


@dataclass(frozen=True)
class SessionFilter:
    """Which sessions a listing may return (all set conditions must hold)."""

    session_id: str | None = None
    candidate_id: str | None = None
    application_id: str | None = None
    statuses: list[SessionStatus] = field(default_factory=list)
    started_from: datetime | None = None  # inclusive
    started_before: datetime | None = None  # exclusive
    min_score: float | None = None  # inclusive, on finalScore; unscored sessions never match a score bound
    max_score: float | None = None  # inclusive

    def query(self) -> dict[str, Any]:
        query: dict[str, Any] = {}
        if self.session_id is not None:
            query["sessionId"] = self.session_id
        if self.candidate_id is not None:
            query["candidateId"] = self.candidate_id
        if self.application_id is not None:
            query["applicationId"] = self.application_id
        if self.statuses:
            query["status"] = {"$in": [s.value for s in self.statuses]}
        started = {
            op: bound for op, bound in (("$gte", self.started_from), ("$lt", self.started_before)) if bound is not None
        }
        if started:
            query["startedAt"] = started
        score = {op: bound for op, bound in (("$gte", self.min_score), ("$lte", self.max_score)) if bound is not None}
        if score:
            query["finalScore"] = {"$type": "number", **score}
        return query


class SessionChanges(CamelModel):
    """Fields a state transition sets; only the fields given are written (None clears one)."""

    status: SessionStatus | None = None
    updated_at: datetime | None = None
    last_activity_at: datetime | None = None
    active_since: datetime | None = None
    question_asked_at: datetime | None = None
    question_elapsed_seconds: float | None = None
    active_seconds: float | None = None
    completed_at: datetime | None = None
    duration: float | None = None
    connected_until: datetime | None = None

    def to_set(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_unset=True)


def _session(document: dict[str, Any] | None) -> SessionDoc | None:
    return SessionDoc.model_validate(document) if document else None


class SessionRepository:
    def __init__(self, collection: AsyncCollection[dict[str, Any]], long_seconds: float = 10.0) -> None:
        self._collection = collection
        self._long = long_seconds  # the budget of an aggregation over many sessions

    async def insert(self, session: SessionDoc) -> bool:
        """Insert; False when the application already has an active session (or the idempotency key exists)."""
        try:
            await self._collection.insert_one(session.to_document())
        except DuplicateKeyError:
            return False
        return True

    async def insert_many(self, sessions: list[SessionDoc]) -> set[int]:
        """Insert all in one write; the indexes of those a unique index refused (an active one exists)."""
        if not sessions:
            return set()
        try:
            await self._collection.insert_many([s.to_document() for s in sessions], ordered=False)
        except BulkWriteError as error:
            errors = error.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors) or error.details.get("writeConcernErrors"):
                raise
            return {int(e["index"]) for e in errors}
        return set()

    async def get(self, session_id: str) -> SessionDoc | None:
        return _session(await self._collection.find_one({"sessionId": session_id}))

    async def find_active(self, application_id: str) -> SessionDoc | None:
        return _session(
            await self._collection.find_one(
                {"applicationId": application_id, "status": {"$in": [s.value for s in ACTIVE_STATUSES]}}
            )
        )

    async def find_resumable(self, application_id: str, client_session_id: str | None) -> SessionDoc | None:
        """The session of `client_session_id` (an idempotent retry), else the active one."""
        found = (await self.find_resumable_many([(application_id, client_session_id)])).get(application_id, [])
        for session in found:
            if client_session_id is not None and session.client_session_id == client_session_id:
                return session
        return next((s for s in found if s.is_active), None)

    async def find_resumable_many(self, keys: list[tuple[str, str | None]]) -> dict[str, list[SessionDoc]]:
        """For many (application, client session id) pairs in one read: each application's active
        session and the sessions of its client session ids, by application.

        One indexed read of the applications' sessions (a few each: new ones are rate limited),
        sorted out here: a `$or` filter makes SecantusDB scan the whole collection.
        """
        client_ids = {c for _, c in keys if c is not None}
        found: dict[str, list[SessionDoc]] = {}
        async for document in self._collection.find({"applicationId": {"$in": [a for a, _ in keys]}}):
            if document.get("status") in ACTIVE_VALUES or document.get("clientSessionId") in client_ids:
                session = SessionDoc.model_validate(document)
                found.setdefault(session.application_id, []).append(session)
        return found

    async def find_by_client_session(self, application_id: str, client_session_id: str) -> SessionDoc | None:
        return _session(
            await self._collection.find_one({"applicationId": application_id, "clientSessionId": client_session_id})
        )

    async def _update(self, query: dict[str, Any], update: dict[str, Any]) -> SessionDoc | None:
        """Apply `update` if `query` matches; the session as read right after (None if it did not match).

        An `update_one` and a read by `sessionId`, not one `findAndModify`: the embedded store
        answers `findAndModify` by scanning the collection (46 ms at 2,000 sessions, 148 ms at
        10,000, against about 4 ms for the two), and holds every other command up meanwhile.
        The read may already show a later writer's change: callers treat what they get as the
        current state (every conditional write here checks `version` or a field it sets).
        """
        result = await self._collection.update_one(query, update)
        if result.matched_count == 0:
            return None
        return _session(await self._collection.find_one({"sessionId": query["sessionId"]}))

    async def apply_if_unchanged(
        self, session_id: str, status: SessionStatus, version: int, changes: SessionChanges
    ) -> SessionDoc | None:
        """Write `changes` only if the session still has this status and version; None if it moved on."""
        return await self._update(
            {"sessionId": session_id, "status": status.value, "version": version},
            {"$set": changes.to_set(), "$inc": {"version": 1}},
        )

    async def mark_question_asked(
        self, session_id: str, current_number: int, asked_number: int, now: datetime
    ) -> SessionDoc | None:
        """Record that the current question is being asked now, once (None if someone else did it)."""
        return await self._update(
            {
                "sessionId": session_id,
                "status": SessionStatus.IN_PROGRESS.value,
                "currentQuestionNumber": current_number,
                "askedQuestionNumber": asked_number,
            },
            {
                "$set": {
                    "askedQuestionNumber": current_number,
                    "questionAskedAt": now,
                    "questionElapsedSeconds": 0.0,
                    "updatedAt": now,
                },
                "$inc": {"version": 1},
            },
        )

    async def advance_question(self, session_id: str, from_number: int, now: datetime) -> SessionDoc | None:
        """Move past question `from_number` if it is still current in a running session."""
        return await self._update(
            {"sessionId": session_id, "status": SessionStatus.IN_PROGRESS.value, "currentQuestionNumber": from_number},
            {"$inc": {"currentQuestionNumber": 1, "version": 1}, "$set": {"updatedAt": now, "lastActivityAt": now}},
        )

    async def claim_answer(self, session_id: str, question_id: str, now: datetime) -> bool:
        """Mark `question_id` answered unless it already is; False when another answer has it.

        Atomic, so of two answers to one question (over any transport, in any process) one is recorded.
        """
        result = await self._collection.update_one(
            {"sessionId": session_id, "answeredQuestionIds": {"$ne": question_id}},
            {"$push": {"answeredQuestionIds": question_id}, "$set": {"updatedAt": now}},
        )
        return result.modified_count == 1

    async def attach_recording(self, session_id: str, recording: RecordingRef) -> bool:
        """Reference the session's recording unless it has one already; returns whether it was attached."""
        updated = await self._update(
            {"sessionId": session_id, "recording": None}, {"$set": {"recording": recording.to_document()}}
        )
        return updated is not None

    async def add_recording_segment(self, session_id: str, segment: RecordingSegment) -> bool:
        """Append a finished segment to the session's live recording; False if it has none (an upload won, or gone)."""
        result = await self._collection.update_one(
            {"sessionId": session_id, "recording.kind": RecordingKind.LIVE.value},
            {"$push": {"recording.segments": segment.to_document()}, "$inc": {"recording.bytes": segment.bytes}},
        )
        return result.matched_count == 1

    async def delete(self, session_id: str) -> bool:
        """Remove the session document; returns whether it was there."""
        result = await self._collection.delete_one({"sessionId": session_id})
        return result.deleted_count == 1

    async def find_ended_before(self, ended_before: datetime, limit: int) -> list[str]:
        """Ended sessions (completed, abandoned, error) whose end is older than `ended_before` (retention)."""
        cursor = self._collection.find(
            {"status": {"$in": [s.value for s in TERMINAL_STATUSES]}, "completedAt": {"$lt": ended_before}},
            {"sessionId": 1},
        ).limit(limit)
        return [d["sessionId"] async for d in cursor]

    async def set_scores(self, session_id: str, scores: SessionScores) -> bool:
        """Store the scores (and `finalScore`, `scoreBreakdown`) unless newer answers were scored already.

        Scores read from an older event log never replace newer ones; the same or a
        later log (a re-run, a new scorer version) replaces them. Returns whether stored.
        """
        updated = await self._update(
            {
                "sessionId": session_id,
                # Never scored, or scored from an older log. Not an `$or`: the embedded store scans
                # the collection for a filter with a top-level operator (18.6 ms at 3,000 sessions
                # against 0.9 ms through the sessionId index).
                "scores.basedOnSeq": {"$not": {"$gt": scores.based_on_seq}},
            },
            {
                "$set": {
                    "scores": scores.to_document(),
                    "finalScore": scores.final_score,
                    "scoreBreakdown": scores.breakdown.to_document(),
                }
            },
        )
        return updated is not None

    async def find_unscored(self, status: SessionStatus, completed_since: datetime, limit: int) -> list[str]:
        """Sessions that ended in `status` since `completed_since`, never scored or with events logged since.

        Only the recent ones: the `(status, completedAt)` index bounds what is read (97 ms for
        3,000 sessions with the whole collection filtered, 4 ms for the hundred recent ones).
        The comparison with `lastSeq` is made here: an `$expr` in the filter is a scan.
        """
        cursor = self._collection.find(
            {"status": status.value, "completedAt": {"$gte": completed_since}},
            {"sessionId": 1, "lastSeq": 1, "scores.basedOnSeq": 1},
        )
        found: list[str] = []
        try:
            async for document in cursor:
                scores = document.get("scores")
                based_on = scores.get("basedOnSeq") if isinstance(scores, dict) else None
                if not isinstance(based_on, int) or based_on < int(document.get("lastSeq") or 0):
                    found.append(str(document["sessionId"]))
                    if len(found) >= limit:
                        break
        finally:
            await cursor.close()
        return found

    async def find_page(
        self, where: SessionFilter, limit: int, before: tuple[datetime, str] | None
    ) -> list[SessionDoc]:
        """Newest first; `before` is the (startedAt, sessionId) of the previous page's last item.

        Listed sessions come without their detailed `scores` (kilobytes each; `finalScore`
        and `scoreBreakdown` stay): read one session for them.
        """
        query = where.query()
        if before is not None:
            started_at, session_id = before
            query["$or"] = [
                {"startedAt": {"$lt": started_at}},
                {"startedAt": started_at, "sessionId": {"$lt": session_id}},
            ]
        cursor = self._collection.find(query, {"scores": 0}).sort(
            [("startedAt", DESCENDING), ("sessionId", DESCENDING)]
        )
        return [SessionDoc.model_validate(d) async for d in cursor.limit(limit)]

    async def find_stale(self, idle_before: datetime, limit: int) -> list[str]:
        """Active sessions with no live connection and no activity since `idle_before`."""
        cursor = self._collection.find(
            {
                "status": {"$in": [s.value for s in ACTIVE_STATUSES]},
                "lastActivityAt": {"$lt": idle_before},
                # No lease, or one that lapsed (not an `$or`, which the embedded store answers by a scan).
                "connectedUntil": {"$not": {"$gte": idle_before}},
            },
            {"sessionId": 1},
        ).limit(limit)
        return [d["sessionId"] async for d in cursor]

    async def aggregate(self, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run an aggregation of this collection (pipelines live in storage/, see storage/analytics.py)."""
        with pymongo.timeout(self._long):
            cursor = await self._collection.aggregate(pipeline)
            return await cursor.to_list()
