"""A session's audio recording: download with range requests, and upload from offline clients.

Recordings live in the database (GridFS, see storage/recordings.py), so every process
serves every recording. An upload streams into one GridFS file of its own, visible only
once complete; the session takes the first one to finish (a conditional update) and any
other upload of the same session answers 409 and its file is removed. A live recording
(raw PCM in segments) is served as one WAV file whose header is made for its length.
Recordings made before GridFS (a local file, `RecordingRef.path`) are still served by the
process whose disk has them.

`recording_response(request, session)` is the one way to serve a recording: any route
that has decided the caller may hear it calls it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    MalformedRangeHeader,
    RangeNotSatisfiable,
    Response,
    StreamingResponse,
)

from server.http.callers import load_session
from server.http.deps import deps
from server.http.errors import HttpError
from server.http.routing import ApiRoute, Operation
from server.sessions import DomainError, ErrorCode, StoredAudio, payload_too_large, recording_exists
from storage import RecordingKind, RecordingMissing, SessionDoc

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
UPLOAD_TYPES = {"audio/webm": ".webm", "audio/ogg": ".ogg", "audio/wav": ".wav", "audio/mp4": ".m4a"}


def _not_found() -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, "This session has no recording")


async def recording_response(request: Request, session: SessionDoc) -> Response:
    """The session's recording for `request` (whole, or the `Range` asked for); the caller checked access.

    Answers 200, or 206 with `Content-Range`; raises 404 (no recording, or not on this
    process's disk for a pre-GridFS one), 400 for a malformed `Range` and 416 for one outside
    the recording, in the error shape. `If-Range` naming another version gets the whole recording.
    """
    recording = session.recording
    if recording is None:
        raise _not_found()
    filename = f"interview-{session.session_id}{UPLOAD_TYPES.get(recording.content_type, '')}"
    if recording.kind == RecordingKind.FILE:
        return await _local_file_response(request, session, filename)
    audio = deps(request).service.recordings.stored_audio(recording)
    if audio is None:
        raise _not_found()
    return await _stored_response(request, audio, filename)


def _requested_range(request: Request, size: int, etag: str) -> tuple[int, int] | None:
    """The one range to send, or None for the whole recording; raises 400 / 416 in the error shape."""
    header = request.headers.get("range")
    if header is None:
        return None
    if_range = request.headers.get("if-range")
    if if_range is not None and (if_range.startswith("W/") or if_range != etag):
        return None  # the client's copy is another version: send the whole recording
    try:
        ranges = FileResponse._parse_range_header(header, size)
    except MalformedRangeHeader as error:
        details = [{"field": "Range", "message": error.content}]
        raise HttpError(400, ErrorCode.VALIDATION_ERROR, error.content, details) from None
    except RangeNotSatisfiable:
        message = "The requested range is outside the recording"
        headers = {"Content-Range": f"bytes */{size}"}
        raise HttpError(416, ErrorCode.VALIDATION_ERROR, message, {"size": size}, headers) from None
    # Several ranges (or too many) get the whole recording, as a server may answer any Range.
    return ranges[0] if len(ranges) == 1 else None


async def _stored_response(request: Request, audio: StoredAudio, filename: str) -> Response:
    chosen = _requested_range(request, audio.size, audio.etag)
    start, end = chosen if chosen is not None else (0, audio.size)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": audio.etag,
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Content-Length": str(end - start),
    }
    status = 200 if chosen is None else 206
    if chosen is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{audio.size}"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=audio.content_type)
    body = audio.read(start, end)
    try:
        # Read the first piece before answering: a file deleted meanwhile is a 404, not a cut-off body.
        first = await anext(body, b"")
    except RecordingMissing:
        raise _not_found() from None
    return StreamingResponse(_prepend(first, body), status_code=status, headers=headers, media_type=audio.content_type)


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


def _local_file(request: Request, session: SessionDoc) -> Path:
    """A pre-GridFS recording's path, only if it lies inside this process's recordings directory."""
    assert session.recording is not None
    root = deps(request).settings.recordings_path.resolve()
    path = Path(session.recording.path or "").resolve()
    if root not in path.parents or not path.is_file():
        raise _not_found()
    return path


async def _local_file_response(request: Request, session: SessionDoc, filename: str) -> Response:
    assert session.recording is not None
    path = await asyncio.to_thread(_local_file, request, session)
    stat = await asyncio.to_thread(path.stat)
    # FileResponse answers Range requests (206 with Content-Range) and streams from a thread.
    response = FileResponse(path, media_type=session.recording.content_type, filename=filename, stat_result=stat)
    header, if_range = request.headers.get("range"), request.headers.get("if-range")
    # FileResponse ignores the Range when If-Range names another version: then so does this check.
    if header is not None and (if_range is None or response._should_use_range(if_range)):
        _requested_range(request, stat.st_size, response.headers["etag"])  # raises 400 / 416 in the error shape
    return response


async def get_recording(request: Request) -> Response:
    _caller, session = await load_session(request)
    return await recording_response(request, session)


async def _limited(stream: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES:
            raise payload_too_large(MAX_UPLOAD_BYTES, "Recording")
        yield chunk


async def upload_recording(request: Request) -> JSONResponse:
    """The candidate's local recording made in offline mode (MediaRecorder output)."""
    _caller, session = await load_session(request, write=True)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in UPLOAD_TYPES:
        raise HttpError(
            415, ErrorCode.VALIDATION_ERROR, "Unsupported recording type", {"allowed": sorted(UPLOAD_TYPES)}
        )
    if session.recording is not None:
        raise recording_exists()
    name = f"interview-{session.session_id}-offline{UPLOAD_TYPES[content_type]}"
    recordings = deps(request).service.recordings
    stored = await recordings.store_upload(session, name, content_type, _limited(request.stream()))
    return JSONResponse({"bytes": stored.bytes, "contentType": content_type}, status_code=201)


_RECORDING = "/api/interview/sessions/{sessionId}/recording"
ROUTES = [
    ApiRoute(
        _RECORDING,
        get_recording,
        Operation(
            "Download the session's audio recording (supports Range requests)",
            {200: None, 206: None},
            errors=(400, 401, 404, 416, 503),
            tags=("recordings",),
            extra={"x-content-types": ["audio/wav", *UPLOAD_TYPES]},
        ),
    ),
    ApiRoute(
        _RECORDING,
        upload_recording,
        Operation(
            "Upload the recording made locally in offline mode (raw audio body)",
            {201: None},
            errors=(400, 401, 404, 409, 413, 415, 503),
            tags=("recordings",),
        ),
        methods=("POST",),
    ),
]
