"""Recording upload (offline clients) and download with Range requests."""

from __future__ import annotations

import os

import httpx

from tests.session_support import RECRUITER, new_session
from tests.support import auth, unique, user_token


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
