"""Recording upload (offline clients) and download with Range requests."""

from __future__ import annotations

import asyncio
import os

import httpx

from tests.session_support import RECRUITER, new_session
from tests.support import ServerProcess, auth, store_of, unique, user_token


async def _no_orphans(server: ServerProcess) -> bool:
    """Every chunk in the bucket belongs to a complete file (other tests' uploads share the database)."""
    async with store_of(server) as database:
        files = set(await database["recordings.files"].distinct("_id"))
        owners = set(await database["recordings.chunks"].distinct("files_id"))
    return owners <= files


async def test_upload_then_download_with_ranges(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    audio = os.urandom(50_000)
    uploaded = await client.post(
        started.url("/recording"), content=audio, headers={**started.candidate, "Content-Type": "audio/webm"}
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json() == {"bytes": len(audio), "contentType": "audio/webm"}

    whole = await client.get(started.url("/recording"), headers=RECRUITER)
    assert whole.status_code == 200 and whole.content == audio
    assert whole.headers["content-type"].startswith("audio/webm")
    assert whole.headers["accept-ranges"] == "bytes"

    part = await client.get(started.url("/recording"), headers={**RECRUITER, "Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == audio[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(audio)}"


async def test_second_upload_conflicts_and_types_are_checked(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    wrong = await client.post(
        started.url("/recording"), content=b"x", headers={**started.candidate, "Content-Type": "text/plain"}
    )
    assert wrong.status_code == 415 and wrong.json()["code"] == "VALIDATION_ERROR"
    empty = await client.post(
        started.url("/recording"), content=b"", headers={**started.candidate, "Content-Type": "audio/ogg"}
    )
    assert empty.status_code == 400
    first = await client.post(
        started.url("/recording"), content=b"abc", headers={**started.candidate, "Content-Type": "audio/ogg"}
    )
    assert first.status_code == 201
    again = await client.post(
        started.url("/recording"), content=b"abc", headers={**started.candidate, "Content-Type": "audio/ogg"}
    )
    assert again.status_code == 409 and again.json()["code"] == "RECORDING_EXISTS"


async def test_missing_and_foreign_recordings_are_404(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    none_yet = await client.get(started.url("/recording"), headers=RECRUITER)
    assert none_yet.status_code == 404
    stranger = auth(user_token(unique("cand")))
    await client.post(
        started.url("/recording"), content=b"abc", headers={**started.candidate, "Content-Type": "audio/ogg"}
    )
    foreign = await client.get(started.url("/recording"), headers=stranger)
    assert foreign.status_code == 404 and foreign.json()["code"] == "SESSION_NOT_FOUND"
    recruiter_upload = await client.post(
        started.url("/recording"), content=b"abc", headers={**RECRUITER, "Content-Type": "audio/ogg"}
    )
    assert recruiter_upload.status_code == 404  # recruiters read, they do not write


async def test_concurrent_uploads_never_interleave(client: httpx.AsyncClient, server: ServerProcess) -> None:
    started = await new_session(client)
    bodies = [bytes([n]) * 3_000_000 for n in range(1, 5)]  # large enough to be written at the same time
    headers = {**started.candidate, "Content-Type": "audio/webm"}
    responses = await asyncio.gather(
        *(client.post(started.url("/recording"), content=b, headers=headers) for b in bodies)
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409], [r.text for r in responses]
    assert all(r.json()["code"] == "RECORDING_EXISTS" for r in responses if r.status_code == 409)
    downloaded = (await client.get(started.url("/recording"), headers=RECRUITER)).content
    winner = bodies[[r.status_code for r in responses].index(201)]
    assert downloaded == winner  # one upload, whole, never a mix
    async with store_of(server) as database:  # the losers left nothing behind in GridFS
        files = await database["recordings.files"].find({"metadata.sessionId": started.session_id}).to_list()
        assert [f["length"] for f in files] == [len(winner)]
        chunks = await database["recordings.chunks"].count_documents({"files_id": files[0]["_id"]})
    assert chunks == -(-len(winner) // files[0]["chunkSize"])
    assert await _no_orphans(server)


async def test_range_errors_have_the_error_shape(client: httpx.AsyncClient) -> None:
    started = await new_session(client)
    audio = os.urandom(1000)
    headers = {**started.candidate, "Content-Type": "audio/ogg"}
    assert (await client.post(started.url("/recording"), content=audio, headers=headers)).status_code == 201
    outside = await client.get(started.url("/recording"), headers={**RECRUITER, "Range": "bytes=5000-6000"})
    assert outside.status_code == 416 and outside.headers["content-range"] == "bytes */1000"
    assert outside.json()["code"] == "VALIDATION_ERROR" and outside.json()["details"] == {"size": 1000}
    for malformed in ("pages=1-2", "bytes=", "bytes=9-3"):
        response = await client.get(started.url("/recording"), headers={**RECRUITER, "Range": malformed})
        assert response.status_code == 400, malformed
        assert set(response.json()) == {"error", "code", "details"} and response.json()["code"] == "VALIDATION_ERROR"
    stale = await client.get(started.url("/recording"), headers={**RECRUITER, "Range": "bytes=0-9", "If-Range": '"x"'})
    assert stale.status_code == 200 and stale.content == audio  # another version: the whole file, as before
