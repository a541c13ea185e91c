"""WebRTC over the interview socket: signalling errors, and real audio to transcripts (aiortc client)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aioice.ice
import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer

from tests.session_support import RECRUITER, new_session
from tests.support import ServerProcess, speech_wav_file, tuned_server
from tests.ws_client import InterviewClient

SENTENCE = "I have five years of experience with Python and databases."
KEY_WORDS = ("experience", "python")


@pytest.fixture(scope="module")
def media_server(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with tuned_server(
        mongodb_url,
        tmp_path_factory.mktemp("media"),
        transcriber="whisper",
        transcribe_workers="1",
        media_host_addresses="127.0.0.1",
    ) as process:
        yield process


@pytest.fixture
async def http(media_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=media_server.base_url, timeout=30) as client:
        yield client


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's own peer gathers candidates on 127.0.0.1 only, like the server."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sentence spoken by espeak-ng, then two seconds of silence so the utterance ends."""
    return speech_wav_file(tmp_path_factory.mktemp("speech"), SENTENCE)


async def _connected(server: ServerProcess, token: str) -> InterviewClient:
    client = InterviewClient(server.ws_url, token)
    await client.connect()
    return client


async def test_bad_sdp_is_an_error_not_a_crash(media_server: ServerProcess, http: httpx.AsyncClient) -> None:
    started = await new_session(http)
    client = await _connected(media_server, started.token)
    try:
        await client.send_raw({"type": "webrtc.offer", "sdp": "v=0 this is not sdp"})
        error = await client.wait_type("error")
        assert error["code"] == "WEBRTC_ERROR"
        await client.send_raw(
            {"type": "webrtc.ice", "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}}
        )
        error = await client.wait_for(lambda m: m.get("type") == "error" and m is not error)
        assert error["code"] == "WEBRTC_ERROR"
        await client.send_raw({"type": "webrtc.offer"})
        invalid = await client.wait_for(lambda m: m.get("type") == "error" and m.get("code") == "VALIDATION_ERROR")
        assert invalid["code"] == "VALIDATION_ERROR"
        # The connection still works for everything else.
        acked = await client.send("event", name="mic.muted", payload={})
        await client.wait_acked(acked)
    finally:
        await client.close()


async def test_offer_before_hello_is_refused(media_server: ServerProcess) -> None:
    from tests.ws_client import close_code_of, open_socket

    ws = await open_socket(media_server.ws_url)
    await ws.send('{"type": "webrtc.offer", "sdp": "v=0"}')
    code = await close_code_of(ws)
    assert code == 4001  # the protocol: anything but hello first closes 4001


async def _browser_like_peer(wav: Path) -> tuple[RTCPeerConnection, MediaPlayer]:
    peer = RTCPeerConnection()
    player = MediaPlayer(str(wav))
    peer.addTrack(player.audio)
    await peer.setLocalDescription(await peer.createOffer())
    return peer, player


async def test_spoken_sentence_arrives_as_final_transcript(
    media_server: ServerProcess, http: httpx.AsyncClient, speech_wav: Path
) -> None:
    started = await new_session(http, record=True)
    client = await _connected(media_server, started.token)
    peer, player = await _browser_like_peer(speech_wav)
    try:
        consent = await client.send("event", name="recording.consent", payload={"granted": True})
        await client.wait_acked(consent)
        await client.send_raw({"type": "webrtc.offer", "sdp": peer.localDescription.sdp})
        answer = await client.wait_type("webrtc.answer", within=30)
        await peer.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        final = await client.wait_type("transcript.final", within=120)
        text = final["text"].lower()
        assert all(word in text for word in KEY_WORDS), text
        assert final["questionId"] == started.question["id"]
        assert final["endMs"] > final["startMs"]
        speaking = await client.wait_type("user.speaking.start", within=5)
        assert 0 <= speaking["level"] <= 1
    finally:
        await peer.close()
        if player.audio:
            player.audio.stop()
        await client.close()

    events = (await http.get(started.url("/events"), headers=RECRUITER)).json()["events"]
    stored = [e for e in events if e["type"] == "transcript.final"]
    assert len(stored) == 1 and stored[0]["seq"] == final["seq"]
    assert {"connected"} <= {e["payload"]["state"] for e in events if e["type"] == "media.state"}

    # The peer connection does not outlive its socket, and the recording is finalised.
    async with asyncio.timeout(30):
        while (await http.get("/healthz")).json().get("mediaSessions") != 0:  # noqa: ASYNC110 - another process
            await asyncio.sleep(0.2)
    recording = await http.get(started.url("/recording"), headers=RECRUITER)
    assert recording.status_code == 200
    assert recording.content[:4] == b"RIFF" and len(recording.content) > 44 + 16000
