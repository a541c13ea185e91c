"""A session's audio recording: download with range requests, and upload from offline clients."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import BinaryIO

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

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


async def get_recording(request: Request) -> Response:
    _caller, session = await load_session(request)
    path = await asyncio.to_thread(_recording_file, request, session)
    assert session.recording is not None
    filename = f"interview-{session.session_id}{path.suffix}"
    # FileResponse answers Range requests (206 with Content-Range) and streams from a thread.
    return FileResponse(path, media_type=session.recording.content_type, filename=filename)


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
    path = http.settings.recordings_path / f"{session.session_id}-offline{UPLOAD_TYPES[content_type]}"
    size = await _store_body(request, path)
    reference = RecordingRef(path=str(path), content_type=content_type, bytes=size)
    if not await http.service.attach_recording(session.session_id, reference):
        await asyncio.to_thread(path.unlink, True)
        raise _exists()
    return JSONResponse({"bytes": size, "contentType": content_type}, status_code=201)


async def _store_body(request: Request, path: Path) -> int:
    """Stream the body to `path` (file I/O in a thread), refusing more than MAX_UPLOAD_BYTES."""
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".part")
    handle: BinaryIO = await asyncio.to_thread(open, partial, "wb")
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise payload_too_large(MAX_UPLOAD_BYTES, "Recording")
            await asyncio.to_thread(handle.write, chunk)
        await asyncio.to_thread(handle.flush)
        await asyncio.to_thread(os.fsync, handle.fileno())
    except BaseException:
        await asyncio.to_thread(handle.close)
        with contextlib.suppress(OSError):
            await asyncio.to_thread(partial.unlink)
        raise
    await asyncio.to_thread(handle.close)
    if size == 0:
        await asyncio.to_thread(partial.unlink)
        raise DomainError(ErrorCode.VALIDATION_ERROR, "Recording is empty")
    await asyncio.to_thread(partial.replace, path)
    return size


_RECORDING = "/api/interview/sessions/{sessionId}/recording"
ROUTES = [
    ApiRoute(
        _RECORDING,
        get_recording,
        Operation(
            "Download the session's audio recording (supports Range requests)",
            {200: None, 206: None},
            errors=(401, 404, 503),
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
