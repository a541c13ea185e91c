"""Recordings in GridFS (bucket `recordings`): uploads, live segments, ranged reads, deletion.

GridFS writes a file's chunks first and its files document last, so a file whose
upload did not finish is never visible; a failed upload removes its chunks at once,
and chunks a crash left behind are removed by `remove_orphan_chunks`. Every file
carries `metadata.sessionId`, so a session's files are found (and deleted) together.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pymongo
from bson import ObjectId
from bson.errors import InvalidId
from gridfs import AsyncGridFSBucket
from gridfs.asynchronous.grid_file import AsyncGridIn
from pymongo.asynchronous.database import AsyncDatabase

from storage.errors import RecordingMissing as NoFile

BUCKET = "recordings"
READ_SIZE = 256 * 1024


@dataclass(frozen=True)
class StoredFile:
    """A complete GridFS file: its id (hex) and length."""

    file_id: str
    bytes: int


@dataclass(frozen=True)
class FilePart:
    """One file of a recording made of several (a live recording's segment), in order."""

    file_id: str
    bytes: int


def _object_id(file_id: str) -> ObjectId:
    try:
        return ObjectId(file_id)
    except (InvalidId, TypeError):
        raise NoFile(f"no recording file {file_id!r}") from None


class FileUpload:
    """One GridFS file being written; it becomes visible only when `finish` writes its files document."""

    def __init__(self, stream: AsyncGridIn, long_seconds: float) -> None:
        self._stream = stream
        self._long = long_seconds
        self.bytes = 0

    @property
    def file_id(self) -> str:
        return str(self._stream._id)

    async def write(self, data: bytes) -> None:
        # Each write gets the long budget: a chunk batch of several MB is slow under load, not down.
        with pymongo.timeout(self._long):
            await self._stream.write(data)
        self.bytes += len(data)

    async def finish(self) -> StoredFile:
        """Write what is buffered, then the files document: the file is now complete and visible."""
        with pymongo.timeout(self._long):
            await self._stream.close()
        return StoredFile(self.file_id, self.bytes)

    async def discard(self) -> None:
        """Remove the chunks written so far (and the file, if it was finished); runs to its end if cancelled."""
        task = asyncio.ensure_future(self._abort())
        await asyncio.shield(task)

    async def _abort(self) -> None:
        with pymongo.timeout(self._long):
            await self._stream.abort()


class RecordingFiles:
    """The GridFS bucket of recordings, behind intent-named methods."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]], long_seconds: float = 10.0) -> None:
        self._bucket = AsyncGridFSBucket(database, BUCKET)
        self._files = database[f"{BUCKET}.files"]
        self._chunks = database[f"{BUCKET}.chunks"]
        self._long = long_seconds

    @property
    def bucket_name(self) -> str:
        return BUCKET

    def open_file(self, session_id: str, name: str, content_type: str, kind: str) -> FileUpload:
        """A new file of `session_id` to write; nothing is visible until it is finished."""
        metadata = {"sessionId": session_id, "contentType": content_type, "kind": kind}
        return FileUpload(self._bucket.open_upload_stream(name, metadata=metadata), self._long)

    async def store_upload(
        self, session_id: str, name: str, content_type: str, chunks: AsyncIterable[bytes]
    ) -> StoredFile:
        """Store `chunks` as one file, atomically: if reading them or writing fails, nothing stays behind."""
        upload = self.open_file(session_id, name, content_type, "upload")
        try:
            async for chunk in chunks:
                if chunk:
                    await upload.write(chunk)
            return await upload.finish()
        except BaseException:
            await upload.discard()
            raise

    async def read(self, parts: Sequence[FilePart], start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes `start` to `end` (exclusive) of the files of `parts` read one after the other.

        Raises StorageError (NoFile) when a file is missing or shorter than its part says.
        """
        offset = 0
        for part in parts:
            low, high = max(start, offset), min(end, offset + part.bytes)
            if low < high:
                async for data in self._read_file(part.file_id, low - offset, high - offset):
                    yield data
            offset += part.bytes
            if offset >= end:
                return

    async def _read_file(self, file_id: str, start: int, end: int) -> AsyncIterator[bytes]:
        stream = await self._bucket.open_download_stream(_object_id(file_id))
        try:
            await stream.seek(start)
            remaining = end - start
            while remaining > 0:
                data = await stream.read(min(READ_SIZE, remaining))
                if not data:
                    raise NoFile(f"recording file {file_id} is shorter than expected")
                remaining -= len(data)
                yield data
        finally:
            await stream.close()

    async def delete(self, file_id: str) -> None:
        """Remove one file (chunks first); nothing happens when it does not exist."""
        with contextlib.suppress(NoFile):
            oid = _object_id(file_id)
            await self._chunks.delete_many({"files_id": oid})
            await self._files.delete_one({"_id": oid})

    async def delete_sessions(self, session_ids: list[str]) -> int:
        """Remove every file of these sessions; chunks before files documents, so a retry finds what is left."""
        if not session_ids:
            return 0
        with pymongo.timeout(self._long):
            query = {"metadata.sessionId": {"$in": session_ids}}
            ids = [d["_id"] async for d in self._files.find(query, {"_id": 1})]
            if not ids:
                return 0
            await self._chunks.delete_many({"files_id": {"$in": ids}})
            await self._files.delete_many({"_id": {"$in": ids}})
        return len(ids)

    async def count_session_files(self, session_id: str) -> int:
        """How many complete files the session has (tests and operators)."""
        return await self._files.count_documents({"metadata.sessionId": session_id})

    async def remove_orphan_chunks(self, older_than: datetime) -> int:
        """Remove chunks of files opened before `older_than` that never got a files document (a crash mid-upload)."""
        with pymongo.timeout(self._long):
            opened = await self._chunks.distinct(
                "files_id", {"n": 0, "files_id": {"$lt": ObjectId.from_datetime(older_than)}}
            )
            if not opened:
                return 0
            known = {d["_id"] async for d in self._files.find({"_id": {"$in": opened}}, {"_id": 1})}
            orphans = [file_id for file_id in opened if file_id not in known]
            if orphans:
                await self._chunks.delete_many({"files_id": {"$in": orphans}})
        return len(orphans)
