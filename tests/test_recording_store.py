"""Recordings in the database: any process serves any recording, live ones as one WAV across segments.

Two server processes share one store. A live recording is made here in the test process by
the real recorder and the core's GridFS sink (WebRTC is not needed to make one), then read
through the other process with Range requests that cross segment boundaries.
"""

from __future__ import annotations

import os
import uuid
import wave
from collections.abc import AsyncIterator, Iterator
from io import BytesIO
from pathlib import Path

import httpx
import pytest

from realtime.media.recorder import SegmentRecorder
from server.sessions import SessionService
from storage import Database
from tests.session_support import RECRUITER, new_session
from tests.support import ServerProcess, store_of

SEGMENT_SECONDS = 0.05  # 800 samples: 1,600 bytes a segment
SEGMENT_BYTES = 1600
HEADER = 44


@pytest.fixture(scope="module")
def servers(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServerProcess]]:
    env = {"MONGODB_DB": f"test_{uuid.uuid4().hex[:12]}", "START_SESSION_RATE_LIMIT": "1000"}
    started: list[ServerProcess] = []
    try:
        for name in ("a", "b"):  # each its own data directory: nothing is shared but the store
            started.append(ServerProcess(mongodb_url, Path(tmp_path_factory.mktemp(name)), env).start())
        yield started
    finally:
        for server in started:
            server.stop()


@pytest.fixture
async def service(servers: list[ServerProcess]) -> AsyncIterator[SessionService]:
    """The session core in the test process, on the servers' database."""
    database = Database(servers[0].mongodb_url, servers[0].env["MONGODB_DB"])
    try:
        yield SessionService(database.repositories())
    finally:
        await database.close()


async def test_an_upload_through_one_process_is_served_by_another_with_ranges(servers: list[ServerProcess]) -> None:
    a, b = servers
    audio = os.urandom(700_000)  # several GridFS chunks
    async with httpx.AsyncClient(base_url=a.base_url, timeout=15) as on_a:
        started = await new_session(on_a)
        headers = {**started.candidate, "Content-Type": "audio/ogg"}
        uploaded = await on_a.post(started.url("/recording"), content=audio, headers=headers)
        assert uploaded.status_code == 201, uploaded.text
    async with httpx.AsyncClient(base_url=b.base_url, timeout=15) as on_b:
        part = await on_b.get(started.url("/recording"), headers={**RECRUITER, "Range": "bytes=260000-530000"})
        assert part.status_code == 206, part.text
        assert part.content == audio[260_000:530_001]
        assert part.headers["content-range"] == f"bytes 260000-530000/{len(audio)}"
        assert part.headers["content-type"].startswith("audio/ogg")
        tail = await on_b.get(started.url("/recording"), headers={**RECRUITER, "Range": "bytes=-1000"})
        assert tail.status_code == 206 and tail.content == audio[-1000:]
        whole = await on_b.get(started.url("/recording"), headers=RECRUITER)
        assert whole.status_code == 200 and whole.content == audio
        same = await on_b.get(
            started.url("/recording"), headers={**RECRUITER, "Range": "bytes=0-9", "If-Range": whole.headers["etag"]}
        )
        assert same.status_code == 206 and same.content == audio[:10]


async def test_a_live_recording_is_one_wav_across_its_segments(
    servers: list[ServerProcess], service: SessionService
) -> None:
    a, b = servers
    async with httpx.AsyncClient(base_url=a.base_url, timeout=15) as on_a:
        started = await new_session(on_a)
    live = await service.recordings.live(await service.get(started.session_id))
    assert live is not None
    recorder = SegmentRecorder(live, segment_seconds=SEGMENT_SECONDS)
    recorder.start()
    pcm = os.urandom(SEGMENT_BYTES * 3 + 700)  # three full segments and a short last one
    for offset in range(0, len(pcm), 333):  # chunks that do not line up with the segments
        recorder.write(pcm[offset : offset + 333])
    await recorder.aclose()
    assert recorder.error is None and recorder.segments_published == 4
    wav = wave_bytes(pcm)

    async with httpx.AsyncClient(base_url=b.base_url, timeout=15) as on_b:
        whole = await on_b.get(started.url("/recording"), headers=RECRUITER)
        assert whole.status_code == 200 and whole.content == wav
        assert whole.headers["content-type"].startswith("audio/wav")
        with wave.open(BytesIO(whole.content)) as parsed:
            assert (parsed.getnchannels(), parsed.getsampwidth(), parsed.getframerate()) == (1, 2, 16000)
            assert parsed.readframes(parsed.getnframes()) == pcm
        # Ranges that start in the header, cross one or two segment boundaries, or sit inside one segment.
        for first, last in (
            (0, 99),
            (HEADER + SEGMENT_BYTES - 5, HEADER + SEGMENT_BYTES + 4),
            (30, 3500),
            (4000, 4000),
        ):
            part = await on_b.get(started.url("/recording"), headers={**RECRUITER, "Range": f"bytes={first}-{last}"})
            assert part.status_code == 206, part.text
            assert part.content == wav[first : last + 1], (first, last)
            assert part.headers["content-range"] == f"bytes {first}-{last}/{len(wav)}"
        outside = await on_b.get(started.url("/recording"), headers={**RECRUITER, "Range": f"bytes={len(wav)}-"})
        assert outside.status_code == 416
        assert outside.json() == {
            "error": "The requested range is outside the recording",
            "code": "VALIDATION_ERROR",
            "details": {"size": len(wav)},
        }
        assert outside.headers["content-range"] == f"bytes */{len(wav)}"
        stale = await on_b.get(
            started.url("/recording"), headers={**RECRUITER, "Range": "bytes=0-9", "If-Range": '"x"'}
        )
        assert stale.status_code == 200 and stale.content == wav

    # An upload after the live recording began is refused, and leaves no file behind.
    async with httpx.AsyncClient(base_url=a.base_url, timeout=15) as on_a:
        headers = {**started.candidate, "Content-Type": "audio/webm"}
        late = await on_a.post(started.url("/recording"), content=b"late", headers=headers)
        assert late.status_code == 409 and late.json()["code"] == "RECORDING_EXISTS"
    async with store_of(a) as database:
        files = await database["recordings.files"].count_documents({"metadata.sessionId": started.session_id})
    assert files == 4


def wave_bytes(pcm: bytes) -> bytes:
    """What the wave module writes for 16 kHz mono 16-bit PCM: the reference for the served header."""
    out = BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)
        writer.writeframes(pcm)
    return out.getvalue()
