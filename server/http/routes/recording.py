"""A session's audio recording: download with range requests, and upload from offline clients.

Each upload streams into its own temporary file and is renamed, complete and synced, to a
name of its own; the session document then takes the first one to arrive (a conditional
update) and any other upload of the same session answers 409 and removes its file. Two
concurrent uploads therefore never write to the same file, and a recording is never a mix.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
from pathlib import Path
from typing import BinaryIO

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, MalformedRangeHeader, RangeNotSatisfiable, Response

from server.http.callers import load_session
from server.http.deps import deps
from server.http.errors import HttpError
from server.http.routing import ApiRoute, Operation
from server.sessions import DomainError, ErrorCode, payload_too_large
from storage import RecordingRef, SessionDoc

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
UPLOAD_TYPES = {"audio/webm": ".webm", "audio/ogg": ".ogg", "audio/wav": ".wav", "audio/mp4": ".m4a"}


def _not_found() -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, "This session has no recording")


def _exists() -> DomainError:
    return DomainError(ErrorCode.RECORDING_EXISTS, "This session already has a recording")


def _recording_file(request: Request, session: SessionDoc) -> Path:
    """The recording's path, only if it lies inside the recordings directory."""
    if session.recording is None:
        raise _not_found()
    root = deps(request).settings.recordings_path.resolve()
    path = Path(session.recording.path).resolve()
    if root not in path.parents or not path.is_file():
        raise _not_found()
    return path


def _check_range(request: Request, response: FileResponse, size: int) -> None:
    """A Range the file cannot serve answers in the documented error shape (FileResponse would answer plain text)."""
    header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    # FileResponse ignores the Range when If-Range names another version: then so does this check.
    if header is None or (if_range is not None and not response._should_use_range(if_range)):
        return
    try:
        FileResponse._parse_range_header(header, size)
    except MalformedRangeHeader as error:
        details = [{"field": "Range", "message": error.content}]
        raise HttpError(400, ErrorCode.VALIDATION_ERROR, error.content, details) from None
    except RangeNotSatisfiable:
        message = "The requested range is outside the recording"
        headers = {"Content-Range": f"bytes */{size}"}
        raise HttpError(416, ErrorCode.VALIDATION_ERROR, message, {"size": size}, headers) from None


async def get_recording(request: Request) -> Response:
    _caller, session = await load_session(request)
    return await recording_response(request, session)


async def recording_response(request: Request, session: SessionDoc) -> Response:
    """The session's recording (Range requests answered), for a caller already allowed to read it."""
    path = await asyncio.to_thread(_recording_file, request, session)
    assert session.recording is not None
    filename = f"interview-{session.session_id}{path.suffix}"
    stat = await asyncio.to_thread(path.stat)
    # FileResponse answers Range requests (206 with Content-Range) and streams from a thread.
    response = FileResponse(path, media_type=session.recording.content_type, filename=filename, stat_result=stat)
    _check_range(request, response, stat.st_size)
    return response


async def upload_recording(request: Request) -> JSONResponse:
    """The candidate's local recording made in offline mode (MediaRecorder output)."""
    _caller, session = await load_session(request, write=True)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in UPLOAD_TYPES:
        raise HttpError(
            415, ErrorCode.VALIDATION_ERROR, "Unsupported recording type", {"allowed": sorted(UPLOAD_TYPES)}
        )
    if session.recording is not None:
        raise _exists()
    http = deps(request)
    # A name of its own per upload: concurrent uploads never share a file.
    name = f"{session.session_id}-offline-{uuid.uuid4().hex[:12]}{UPLOAD_TYPES[content_type]}"
    path = http.settings.recordings_path / name
    size = await _store_body(request, path)
    reference = RecordingRef(path=str(path), content_type=content_type, bytes=size)
    try:
        attached = await http.service.attach_recording(session.session_id, reference)
    except BaseException:
        await asyncio.to_thread(path.unlink, True)
        raise
    if not attached:  # another upload of this session won
        await asyncio.to_thread(path.unlink, True)
        raise _exists()
    return JSONResponse({"bytes": size, "contentType": content_type}, status_code=201)


def _open_partial(path: Path) -> tuple[BinaryIO, Path]:
    """A new, unique temporary file beside `path` (hidden, `.part`), open for writing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".part")
    return os.fdopen(fd, "wb"), Path(partial)


def _publish(partial: Path, path: Path) -> None:
    """Rename the complete file into place and make the rename durable."""
    os.replace(partial, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


async def _store_body(request: Request, path: Path) -> int:
    """Stream the body to `path` through a temporary file (file I/O in a thread), at most MAX_UPLOAD_BYTES."""
    handle, partial = await asyncio.to_thread(_open_partial, path)
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise payload_too_large(MAX_UPLOAD_BYTES, "Recording")
            await asyncio.to_thread(handle.write, chunk)
        await asyncio.to_thread(handle.flush)
        await asyncio.to_thread(os.fsync, handle.fileno())
        await asyncio.to_thread(handle.close)
        if size == 0:
            raise DomainError(ErrorCode.VALIDATION_ERROR, "Recording is empty")
        await asyncio.to_thread(_publish, partial, path)
    except BaseException:
        await asyncio.to_thread(handle.close)
        with contextlib.suppress(OSError):
            await asyncio.to_thread(partial.unlink)
        raise
    return size


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
