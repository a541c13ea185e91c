"""Tests for realtime.media: real aiortc peer connections over loopback.

A second ``RTCPeerConnection`` in the test plays the browser: it sends a WAV
file (a 440 Hz sine made here) through ``MediaPlayer``. ICE is pinned to
127.0.0.1 and no STUN/TURN server is configured, so nothing leaves the host.
"""

from __future__ import annotations

import array
import asyncio
import itertools
import math
import pathlib
import re
import wave
from collections.abc import AsyncIterator, Callable
from typing import Any

import aioice.ice
import pytest
import pytest_asyncio
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import VideoStreamTrack

from realtime.media import PCM_SAMPLE_RATE, MediaError, MediaPeer
from tests.test_recorder import MemorySink

SINE_HZ = 440
SINE_SECONDS = 2.0
DEADLINE = 30.0  # generous upper bound for anything asynchronous; never a performance claim


# -- fixtures and helpers ------------------------------------------------------


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gather ICE host candidates on 127.0.0.1 only (aioice skips loopback by default)."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@pytest.fixture(scope="module")
def sine_wav(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A 2 s, 48 kHz mono, 440 Hz sine at half scale."""
    path = tmp_path_factory.mktemp("audio") / "sine.wav"
    rate = 48_000
    samples = array.array(
        "h",
        (int(16_000 * math.sin(2 * math.pi * SINE_HZ * n / rate)) for n in range(int(rate * SINE_SECONDS))),
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


class Browser:
    """The browser's side: an aiortc peer connection sending a WAV file (and optionally video)."""

    def __init__(self, wav: pathlib.Path, *, video: bool = False) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.player = MediaPlayer(str(wav))
        assert self.player.audio is not None
        self.pc.addTrack(self.player.audio)
        self.video = VideoStreamTrack() if video else None
        if self.video is not None:
            self.pc.addTrack(self.video)

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept(self, answer: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def close(self) -> None:
        await self.pc.close()
        if self.player.audio is not None:
            self.player.audio.stop()
        if self.video is not None:
            self.video.stop()


class Recorder:
    """Collects what a MediaPeer hands to its callbacks."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.states: list[str] = []

    def on_audio(self, pcm: bytes) -> None:
        self.chunks.append(pcm)

    async def on_state(self, state: str) -> None:
        self.states.append(state)

    @property
    def pcm(self) -> bytes:
        return b"".join(self.chunks)

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / PCM_SAMPLE_RATE


@pytest_asyncio.fixture
async def browsers() -> AsyncIterator[list[Browser]]:
    """Browsers made by a test; all closed afterwards."""
    made: list[Browser] = []
    yield made
    for browser in made:
        await browser.close()


def make_peer(calls: Recorder, **kwargs: Any) -> MediaPeer:
    return MediaPeer(
        session_id="test-session",
        ice_servers=[],
        on_audio=calls.on_audio,
        on_state=calls.on_state,
        **kwargs,
    )


async def until(predicate: Callable[[], bool], what: str) -> None:
    """Wait for ``predicate`` to hold, failing after a generous deadline."""
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    while not predicate():
        if loop.time() > end:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def connect(peer: MediaPeer, browser: Browser) -> None:
    await browser.accept(await peer.handle_offer(await browser.offer()))


def rms(pcm: bytes) -> float:
    samples = array.array("h", pcm)
    return math.sqrt(sum(s * s for s in samples) / max(len(samples), 1))


def dominant_hz(pcm: bytes, rate: int) -> float:
    """Estimate a pure tone's frequency from zero crossings."""
    samples = array.array("h", pcm)
    crossings = sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))
    return crossings / 2 / (len(samples) / rate)


def peer_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("media-peer:")]


def strip_candidates(sdp: str) -> tuple[str, list[dict[str, Any]]]:
    """Turn a complete offer into a trickle-ICE one: SDP without candidates, plus the candidates."""
    kept, candidates = [], []
    mline, mid = -1, None
    for line in sdp.splitlines():
        if line.startswith("m="):
            mline += 1
        if line.startswith("a=mid:"):
            mid = line[len("a=mid:") :]
        if line.startswith("a=candidate:"):
            candidates.append({"candidate": line[2:], "sdpMid": mid, "sdpMLineIndex": mline})
        elif line != "a=end-of-candidates":
            kept.append(line)
    return "\r\n".join(kept) + "\r\n", candidates


# -- audio -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_audio_arrives_as_16khz_mono_pcm(sine_wav: pathlib.Path, browsers: list[Browser]) -> None:
    calls = Recorder()
    browser = Browser(sine_wav)
    browsers.append(browser)
    async with make_peer(calls, stall_timeout=1.0) as peer:
        await connect(peer, browser)
        await until(lambda: "connected" in calls.states, "connected")
        # The player sends the file once; the peer reports the silence that follows.
        await until(lambda: calls.states[-1] == "disconnected", "the end of the audio")

    assert calls.states[:2] == ["connecting", "connected"]
    assert calls.states[-1] == "closed"
    assert all(len(chunk) % 2 == 0 for chunk in calls.chunks)
    assert 0.5 * SINE_SECONDS < calls.seconds < 1.5 * SINE_SECONDS
    middle = calls.pcm[len(calls.pcm) // 4 : 3 * len(calls.pcm) // 4]
    assert rms(middle) > 2_000
    # A 440 Hz tone read back at 16 kHz proves the rate and the mono layout.
    assert 0.9 * SINE_HZ < dominant_hz(middle, PCM_SAMPLE_RATE) < 1.1 * SINE_HZ
    assert peer.stats.audio_bytes == len(calls.pcm)


@pytest.mark.asyncio
async def test_recording_holds_the_audio_in_segments(sine_wav: pathlib.Path, browsers: list[Browser]) -> None:
    calls = Recorder()
    sink = MemorySink()
    browser = Browser(sine_wav)
    browsers.append(browser)
    peer = make_peer(calls, recording=sink, segment_seconds=0.5)
    await connect(peer, browser)
    await until(lambda: calls.seconds > SINE_SECONDS / 2, "half of the audio")
    await peer.close()

    frames = sink.published()
    assert frames == calls.pcm
    assert len(sink.segments) >= 2 and all(len(s.data) <= PCM_SAMPLE_RATE for s in sink.segments)
    assert rms(frames) > 2_000


@pytest.mark.asyncio
async def test_on_audio_errors_do_not_stop_the_audio(sine_wav: pathlib.Path, browsers: list[Browser]) -> None:
    calls = Recorder()

    def failing(pcm: bytes) -> None:
        calls.chunks.append(pcm)
        raise RuntimeError("consumer bug")

    browser = Browser(sine_wav)
    browsers.append(browser)
    async with MediaPeer(session_id="s", ice_servers=[], on_audio=failing, on_state=calls.on_state) as peer:
        await connect(peer, browser)
        await until(lambda: len(calls.chunks) > 10, "audio despite the failing callback")


# -- signalling --------------------------------------------------------------


@pytest.mark.asyncio
async def test_trickled_candidates_connect(sine_wav: pathlib.Path, browsers: list[Browser]) -> None:
    calls = Recorder()
    browser = Browser(sine_wav)
    browsers.append(browser)
    offer, candidates = strip_candidates(await browser.offer())
    assert candidates
    async with make_peer(calls) as peer:
        # The first candidate races ahead of the offer: it is kept until the offer is answered.
        await peer.add_ice_candidate(candidates[0])
        answer = await peer.handle_offer(offer)
        for candidate in candidates[1:]:
            await peer.add_ice_candidate(candidate)
        await peer.add_ice_candidate({"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0})
        await peer.add_ice_candidate(
            {"candidate": candidates[0]["candidate"], "sdpMid": "0", "usernameFragment": "stale"}
        )
        await browser.accept(answer)
        await until(
            lambda: "connected" in calls.states and calls.seconds > 0.2,
            "audio over trickled candidates",
        )


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "candidate",
    [
        {"candidate": "candidate:garbage", "sdpMid": "0"},
        {"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 notaport typ host", "sdpMid": "0"},
        {"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host"},
    ],
)
async def test_bad_candidate_is_rejected(candidate: dict[str, Any]) -> None:
    async with make_peer(Recorder()) as peer:
        with pytest.raises(MediaError) as raised:
            await peer.add_ice_candidate(candidate)
    assert raised.value.code == "BAD_CANDIDATE"


def _video_only(sdp: str) -> str:
    return sdp.replace("m=audio", "m=video")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "make_sdp",
    [
        lambda offer: "",
        lambda offer: "this is not sdp",
        lambda offer: "v=0\r\nm=audio",
        lambda offer: _video_only(offer),
        lambda offer: offer.replace("a=sendrecv", "a=recvonly"),
        lambda offer: "\r\n".join(line for line in offer.splitlines() if not line.startswith("a=ice-")),
        lambda offer: re.sub(r"a=rtpmap:(\d+) \S+", r"a=rtpmap:\1 x-unknown/8000", offer),
    ],
    ids=[
        "empty",
        "garbage",
        "truncated",
        "no-audio",
        "audio-not-sent",
        "no-ice-credentials",
        "no-common-codec",
    ],
)
async def test_bad_sdp_is_rejected(
    make_sdp: Callable[[str], str], sine_wav: pathlib.Path, browsers: list[Browser]
) -> None:
    browser = Browser(sine_wav)
    browsers.append(browser)
    offer = await browser.offer()
    calls = Recorder()
    async with make_peer(calls) as peer:
        with pytest.raises(MediaError) as raised:
            await peer.handle_offer(make_sdp(offer))
        assert raised.value.code == "BAD_SDP"
        assert peer.state == "new"
        # The peer is still usable after a rejected offer.
        await connect(peer, browser)
        await until(lambda: "connected" in calls.states, "connected after a rejected offer")


@pytest.mark.asyncio
async def test_calls_after_close_raise_peer_closed(sine_wav: pathlib.Path, browsers: list[Browser]) -> None:
    browser = Browser(sine_wav)
    browsers.append(browser)
    offer = await browser.offer()
    calls = Recorder()
    peer = make_peer(calls)
    await peer.close()
    assert peer.state == "closed"
    assert calls.states == ["closed"]
    for call in (
        peer.handle_offer(offer),
        peer.restart(offer),
        peer.add_ice_candidate({"candidate": "", "sdpMid": "0"}),
    ):
        with pytest.raises(MediaError) as raised:
            await call
        assert raised.value.code == "PEER_CLOSED"


# -- lifecycle ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_close_is_idempotent_and_leaves_no_tasks(
    sine_wav: pathlib.Path, browsers: list[Browser], tmp_path: pathlib.Path
) -> None:
    before = asyncio.all_tasks()
    calls = Recorder()
    browser = Browser(sine_wav, video=True)
    browsers.append(browser)
    peer = make_peer(calls, recording=MemorySink())
    await connect(peer, browser)
    await until(lambda: calls.seconds > 0.2 and peer.stats.video_frames > 0, "audio and video")
    assert peer_tasks()

    await asyncio.gather(peer.close(), peer.close())
    assert peer_tasks() == []
    await peer.close()
    assert calls.states.count("closed") == 1
    assert peer.state == "closed"

    # Whatever aiortc and the test's browser still run must wind down by itself.
    await browser.close()
    await until(lambda: not (asyncio.all_tasks() - before), "aiortc's own cleanup")


@pytest.mark.asyncio
async def test_close_during_negotiation_raises_peer_closed(sine_wav: pathlib.Path, browsers: list[Browser]) -> None:
    browser = Browser(sine_wav)
    browsers.append(browser)
    offer = await browser.offer()
    peer = make_peer(Recorder())
    answering = asyncio.create_task(peer.handle_offer(offer))
    await asyncio.sleep(0)  # let handle_offer start before the peer closes
    await peer.close()
    with pytest.raises(MediaError) as raised:
        await answering
    assert raised.value.code == "PEER_CLOSED"
    assert peer_tasks() == []


@pytest.mark.asyncio
async def test_video_is_consumed_and_dropped(sine_wav: pathlib.Path, browsers: list[Browser]) -> None:
    calls = Recorder()
    browser = Browser(sine_wav, video=True)
    browsers.append(browser)
    async with make_peer(calls, accept_video=False) as peer:
        await connect(peer, browser)
        await until(lambda: peer.stats.video_frames > 5 and calls.seconds > 0.2, "video frames and audio")
    assert calls.states[-1] == "closed"


@pytest.mark.asyncio
async def test_offer_with_same_ice_credentials_renegotiates(sine_wav: pathlib.Path, browsers: list[Browser]) -> None:
    calls = Recorder()
    browser = Browser(sine_wav)
    browsers.append(browser)
    async with make_peer(calls) as peer:
        await connect(peer, browser)
        await until(lambda: calls.seconds > 0.2, "audio")
        await connect(peer, browser)
        heard = calls.seconds
        await until(lambda: calls.seconds > heard + 0.2, "audio after renegotiation")
        assert peer.stats.connections == 1
        assert "disconnected" not in calls.states


@pytest.mark.asyncio
@pytest.mark.parametrize("method", ["restart", "handle_offer"])
async def test_ice_restart_resumes_audio_into_the_same_recording(
    method: str, sine_wav: pathlib.Path, browsers: list[Browser], tmp_path: pathlib.Path
) -> None:
    calls = Recorder()
    sink = MemorySink()
    first = Browser(sine_wav)
    browsers.append(first)
    peer = make_peer(calls, recording=sink)
    await connect(peer, first)
    await until(lambda: calls.seconds > 0.2, "audio on the first connection")

    # The network changed: the browser offers again with new ICE credentials.
    second = Browser(sine_wav)
    browsers.append(second)
    await first.close()
    heard = calls.seconds
    answer = await getattr(peer, method)(await second.offer())
    await second.accept(answer)
    await until(lambda: calls.seconds > heard + 0.5, "audio after the restart")
    await until(lambda: peer.state == "connected", "connected after the restart")
    assert peer.stats.connections == 2
    assert calls.states[-1] == "connected"
    await peer.close()

    assert sink.published() == calls.pcm  # one recording across both connections
