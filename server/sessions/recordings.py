"""A session's recording in the store: offline uploads, live PCM in segments, reading any byte range.

An upload is one GridFS file; the session takes the first one to finish (a conditional
update) and any other is removed and answers RECORDING_EXISTS. A live recording is raw
PCM in segments (a GridFS file each, at most `segment_seconds` long): each finished
segment is appended to the session's recording, so a crash loses at most the open one.
Read back, a live recording is one WAV file: a header made for its length, then the
segments' PCM in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.sessions.clock import Clock
from server.sessions.errors import DomainError, ErrorCode, session_not_found
from storage import (
    FilePart,
    FileUpload,
    RecordingFiles,
    RecordingKind,
    RecordingRef,
    RecordingSegment,
    Repositories,
    SessionDoc,
)

logger = logging.getLogger(__name__)

# What the live recorder writes (realtime/media/audio.py); the core only needs it for the WAV header.
PCM_RATE = 16000
PCM_WIDTH = 2
WAV_HEADER_BYTES = 44
LIVE_CONTENT_TYPE = "audio/wav"
ORPHAN_AGE = timedelta(days=1)  # far longer than any upload or segment takes to write


def recording_exists() -> DomainError:
    return DomainError(ErrorCode.RECORDING_EXISTS, "This session already has a recording")


def wav_header(data_bytes: int) -> bytes:
    """The canonical 44-byte header of a 16 kHz mono 16-bit PCM WAV file with `data_bytes` of audio."""
    byte_rate = PCM_RATE * PCM_WIDTH
    return b"".join(
        (
            b"RIFF",
            (36 + data_bytes).to_bytes(4, "little"),
            b"WAVEfmt ",
            (16).to_bytes(4, "little"),
            (1).to_bytes(2, "little"),  # PCM
            (1).to_bytes(2, "little"),  # mono
            PCM_RATE.to_bytes(4, "little"),
            byte_rate.to_bytes(4, "little"),
            PCM_WIDTH.to_bytes(2, "little"),  # block align
            (8 * PCM_WIDTH).to_bytes(2, "little"),
            b"data",
            data_bytes.to_bytes(4, "little"),
        )
    )


@dataclass(frozen=True)
class StoredAudio:
    """A stored recording as one sequence of bytes: its size, type, a version tag, and any range of it."""

    size: int
    content_type: str
    etag: str
    reader: Callable[[int, int], AsyncIterator[bytes]]

    def read(self, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes `start` to `end` (exclusive); raises StorageError if the store lost a part."""
        return self.reader(start, end)


class LiveSegment:
    """One segment of a live recording being written; nothing of it is visible until `publish`."""

    def __init__(self, owner: LiveRecording, upload: FileUpload, started_at: datetime) -> None:
        self._owner = owner
        self._upload = upload
        self._started_at = started_at

    async def write(self, pcm: bytes) -> None:
        await self._upload.write(pcm)

    async def publish(self) -> None:
        """Finish the file and append it to the session's recording (removed if the session has none now)."""
        stored = await self._upload.finish()
        segment = RecordingSegment(file_id=stored.file_id, bytes=stored.bytes, started_at=self._started_at)
        await self._owner.attach(segment)

    async def discard(self) -> None:
        await self._upload.discard()


class LiveRecording:
    """Where one session's live recorder opens its segments (it satisfies realtime.media's SegmentSink)."""

    def __init__(self, files: RecordingFiles, recordings: SessionRecordings, session_id: str, clock: Clock) -> None:
        self._files = files
        self._recordings = recordings
        self.session_id = session_id
        self._clock = clock
        self._opened = 0

    async def open_segment(self) -> LiveSegment:
        self._opened += 1
        now = self._clock.now()
        name = f"interview-{self.session_id}-{now:%Y%m%dT%H%M%S}-{self._opened}.pcm"
        upload = self._files.open_file(self.session_id, name, "audio/L16;rate=16000", RecordingKind.LIVE.value)
        return LiveSegment(self, upload, now)

    async def attach(self, segment: RecordingSegment) -> None:
        if not await self._recordings.add_segment(self.session_id, segment):
            logger.info("segment of session %s not kept: the session has another recording or is gone", self.session_id)
            await self._files.delete(segment.file_id)


class SessionRecordings:
    """Recordings of sessions: the core's one way to the GridFS bucket."""

    def __init__(self, repos: Repositories, clock: Clock) -> None:
        self._repos = repos
        self._files = repos.recordings
        self._clock = clock

    async def consent(self, session: SessionDoc) -> bool:
        """Whether the application records and the candidate's latest `recording.consent` said yes."""
        application = await self._repos.applications.get(session.application_id)
        if application is None or not application.interview.record:
            return False
        consent = await self._repos.events.latest_named_event(session.session_id, "recording.consent")
        return consent is not None and bool(consent.payload.get("payload", {}).get("granted"))

    async def live(self, session: SessionDoc) -> LiveRecording | None:
        """The session's live recording (begun now unless it has one); None if it has an upload already."""
        recording = session.recording
        if recording is None:
            reference = RecordingRef(kind=RecordingKind.LIVE, content_type=LIVE_CONTENT_TYPE, bytes=0)
            if not await self._repos.sessions.attach_recording(session.session_id, reference):
                current = await self._repos.sessions.get(session.session_id)
                recording = current.recording if current is not None else None
        if recording is not None and recording.kind != RecordingKind.LIVE:
            return None
        return LiveRecording(self._files, self, session.session_id, self._clock)

    async def add_segment(self, session_id: str, segment: RecordingSegment) -> bool:
        return await self._repos.sessions.add_recording_segment(session_id, segment)

    async def store_upload(
        self, session: SessionDoc, name: str, content_type: str, chunks: AsyncIterable[bytes]
    ) -> RecordingRef:
        """Store an offline client's recording as one file; the session's first recording wins.

        :raises DomainError: RECORDING_EXISTS when the session has a recording (its file is
            removed), VALIDATION_ERROR for an empty body; whatever `chunks` raises (nothing is kept).
        """
        if session.recording is not None:
            raise recording_exists()
        stored = await self._files.store_upload(session.session_id, name, content_type, chunks)
        reference = RecordingRef(
            kind=RecordingKind.UPLOAD, content_type=content_type, bytes=stored.bytes, file_id=stored.file_id
        )
        try:
            if stored.bytes == 0:
                raise DomainError(ErrorCode.VALIDATION_ERROR, "Recording is empty")
            if not await self._repos.sessions.attach_recording(session.session_id, reference):
                if await self._repos.sessions.get(session.session_id) is None:
                    raise session_not_found()  # deleted meanwhile
                raise recording_exists()  # another upload of this session won
        except BaseException:
            await asyncio.shield(self._files.delete(stored.file_id))
            raise
        return reference

    async def remove_orphan_chunks(self) -> int:
        """Remove the chunks of uploads and segments a crash cut off more than a day ago (never visible)."""
        return await self._files.remove_orphan_chunks(self._clock.now() - ORPHAN_AGE)

    def stored_audio(self, recording: RecordingRef) -> StoredAudio | None:
        """The recording as bytes to serve; None for one kept on a local disk (kind `file`) or without audio yet."""
        if recording.kind == RecordingKind.UPLOAD and recording.file_id and recording.bytes:
            parts = [FilePart(recording.file_id, recording.bytes)]
            return StoredAudio(recording.bytes, recording.content_type, f'"{recording.file_id}"', self._reader(parts))
        if recording.kind == RecordingKind.LIVE and recording.segments:
            segments = recording.ordered_segments()
            parts = [FilePart(s.file_id, s.bytes) for s in segments]
            data = sum(s.bytes for s in segments)
            etag = f'"{segments[-1].file_id}-{len(segments)}-{data}"'  # grows with each segment
            return StoredAudio(WAV_HEADER_BYTES + data, LIVE_CONTENT_TYPE, etag, self._wav_reader(parts, data))
        return None

    def _reader(self, parts: list[FilePart]) -> Callable[[int, int], AsyncIterator[bytes]]:
        def read(start: int, end: int) -> AsyncIterator[bytes]:
            return self._files.read(parts, start, end)

        return read

    def _wav_reader(self, parts: list[FilePart], data: int) -> Callable[[int, int], AsyncIterator[bytes]]:
        header = wav_header(data)

        async def read(start: int, end: int) -> AsyncIterator[bytes]:
            if start < WAV_HEADER_BYTES:
                yield header[start : min(end, WAV_HEADER_BYTES)]
            if end > WAV_HEADER_BYTES:
                async for chunk in self._files.read(parts, max(0, start - WAV_HEADER_BYTES), end - WAV_HEADER_BYTES):
                    yield chunk

        return read
