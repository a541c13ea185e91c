"""Live media from the candidate page: Chromium's WebRTC to the real server, spoken words to stored transcripts.

Chromium's fake microphone plays a sentence synthesised by espeak-ng (looped); the
server (faster-whisper, host candidates on 127.0.0.1 only) transcribes it. Chromium
is started with loopback candidates allowed and mDNS host names off, so aiortc can
reach the browser's candidates as plain addresses. No STUN or TURN server is
configured: every packet goes between this machine's own addresses (Linux carries
those over the loopback device), nothing leaves the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, WebSocket, async_playwright

from tests.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    answer_current_question,
    browser_context,
    interview_url,
    open_interview,
    screenshot,
    wait_outbox_empty,
)
from tests.support import (
    ServerProcess,
    auth,
    create_application,
    speech_wav_file,
    tuned_server,
    user_token,
)

SENTENCE = "I have five years of experience with Python and databases."
KEY_WORDS = ("experience", "python")
RECRUITER = auth(user_token("recruiter_1", "recruiter"))
MEDIA_ARGS = [
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
# Speech recognition on a busy 2-core machine: generous, never a timing assertion.
TRANSCRIPT_WAIT_MS = 120_000


@pytest.fixture(scope="module")
def media_server(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with tuned_server(
        mongodb_url,
        tmp_path_factory.mktemp("browser-media"),
        transcriber="whisper",
        transcribe_workers="1",
        media_host_addresses="127.0.0.1",
    ) as process:
        yield process


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sentence spoken by espeak-ng, then two seconds of silence so each loop ends an utterance."""
    return speech_wav_file(tmp_path_factory.mktemp("speech"), SENTENCE)


@contextlib.asynccontextmanager
async def chromium(args: list[str]) -> AsyncIterator[Browser]:
    """Debian's Chromium with these flags, closed (with its processes) on exit."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture(scope="module")
async def speaking_browser(speech_wav: Path) -> AsyncIterator[Browser]:
    """A Chromium of its own whose fake microphone plays the sentence (the flag is per process)."""
    async with chromium([*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={speech_wav}", *MEDIA_ARGS]) as browser:
        yield browser


@pytest.fixture
async def http(media_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=media_server.base_url, timeout=30) as client:
        yield client


async def stored_events(http: httpx.AsyncClient, session_id: str) -> list[dict[str, Any]]:
    """The session's event log as a recruiter reads it."""
    response = await http.get(f"/api/interview/sessions/{session_id}/events", headers=RECRUITER)
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


async def wait_no_media_sessions(http: httpx.AsyncClient) -> None:
    """No peer connection outlives its page."""
    health: dict[str, Any] = {}
    for _ in range(150):
        health = (await http.get("/healthz")).json()
        if health["mediaSessions"] == 0:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"media sessions still open: {health}")


async def watch_page(page: Page) -> None:
    """Collect what the page's client reports about live media and server transcripts."""
    await page.evaluate(
        """() => {
            window.__media = []; window.__finals = []; window.__mediaStates = [];
            const client = window.interview.client;
            client.addEventListener('media', (e) => window.__media.push(e.detail.state));
            client.addEventListener('message', (e) => {
                if (e.detail.type === 'media.state') window.__mediaStates.push(e.detail);
            });
            client.addEventListener('transcript', (e) => {
                if (e.detail.final && e.detail.source === 'server') window.__finals.push(e.detail);
            });
        }"""
    )


async def wait_final_with_key_words(page: Page, after_seq: int = 0) -> dict[str, Any]:
    """The first server `transcript.final` (newer than `after_seq`) that holds the sentence's key words."""
    handle = await page.wait_for_function(
        """([words, after]) => window.__finals.find((f) => f.seq > after
            && words.every((w) => f.text.toLowerCase().includes(w))) || null""",
        arg=[list(KEY_WORDS), after_seq],
        timeout=TRANSCRIPT_WAIT_MS,
    )
    return dict(await handle.json_value())


class SentFrames:
    """Every WebSocket message the page sends, with the number of the socket it went on."""

    def __init__(self, page: Page) -> None:
        self.frames: list[tuple[int, dict[str, Any]]] = []
        self._sockets = 0
        page.on("websocket", self._on_socket)

    def _on_socket(self, ws: WebSocket) -> None:
        self._sockets += 1
        number = self._sockets
        ws.on("framesent", lambda payload: self.frames.append((number, json.loads(payload))))

    def signalling(self) -> list[tuple[int, str]]:
        """(socket number, type) of each offer and restart, in the order sent."""
        return [(n, f["type"]) for n, f in self.frames if f["type"] in ("webrtc.offer", "webrtc.restart")]

    def candidates(self) -> list[dict[str, Any] | None]:
        return [f["candidate"] for _, f in self.frames if f["type"] == "webrtc.ice"]


async def selected_pair(page: Page) -> dict[str, str]:
    """Addresses of the candidate pair the page's peer connection uses (from its stats)."""
    return dict(
        await page.evaluate(
            """async () => {
                const stats = [...(await window.interview.client.media.pc.getStats()).values()];
                const byId = new Map(stats.map((s) => [s.id, s]));
                const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
                const pair = byId.get(transport.selectedCandidatePairId);
                return {local: byId.get(pair.localCandidateId).address,
                        remote: byId.get(pair.remoteCandidateId).address};
            }"""
        )
    )


async def start_live_interview(
    context: BrowserContext, server: ServerProcess, application: dict[str, Any], *, consent: bool = True
) -> tuple[Page, SentFrames]:
    page = await open_interview(context, server, application)
    sent = SentFrames(page)
    await watch_page(page)
    if consent:
        await page.check("#recording-consent")
    await page.click("#start")
    await page.wait_for_selector("#connection[data-state='online']")
    return page, sent


async def test_spoken_answer_becomes_a_stored_live_transcript(
    media_server: ServerProcess, http: httpx.AsyncClient, speaking_browser: Browser
) -> None:
    application = await create_application(http, question_count=2, record=True)
    async with browser_context(speaking_browser) as context:
        page, sent = await start_live_interview(context, media_server, application)
        await page.wait_for_selector("html[data-media='connected']")
        question_id = await page.evaluate("() => window.interview.client.currentQuestion.id")
        final = await wait_final_with_key_words(page)
        assert final["questionId"] == question_id
        assert final["endMs"] > final["startMs"]
        # The transcript panel shows the line; the level meter moves with the server's audio.level.
        line = page.locator("#transcript li", has_text="experience").first
        await line.wait_for()
        assert "python" in (await line.inner_text()).lower()
        await page.wait_for_function("() => document.querySelector('#live-level').value > 0")
        assert await page.is_visible("#live-audio")
        assert await page.is_hidden("#media-notice")
        await screenshot(page, "live-transcript")
        # One offer, trickled candidates, and the server answered with its loopback candidate only.
        assert sent.signalling() == [(1, "webrtc.offer")]
        assert any(c and " 127.0.0.1 " in c["candidate"] for c in sent.candidates())
        assert (await selected_pair(page))["remote"] == "127.0.0.1"
        session_id = await page.evaluate("() => window.interview.client.sessionId")

    events = await stored_events(http, session_id)
    finals = {e["seq"]: e for e in events if e["type"] == "transcript.final"}
    assert final["seq"] in finals
    stored = finals[final["seq"]]["payload"]
    assert all(word in stored["text"].lower() for word in KEY_WORDS)
    assert stored["source"] == "server" and stored["questionId"] == question_id
    assert "connected" in [e["payload"]["state"] for e in events if e["type"] == "media.state"]
    consents = [e for e in events if e["type"] == "event" and e["payload"]["name"] == "recording.consent"]
    assert [c["payload"]["payload"] for c in consents] == [{"granted": True}]

    await wait_no_media_sessions(http)
    recording = await http.get(f"/api/interview/sessions/{session_id}/recording", headers=RECRUITER)
    assert recording.status_code == 200
    assert recording.content[:4] == b"RIFF" and len(recording.content) > 44 + 16000


async def test_new_socket_renegotiates_on_a_fresh_peer_connection(
    media_server: ServerProcess, http: httpx.AsyncClient, speaking_browser: Browser
) -> None:
    application = await create_application(http, question_count=2)
    async with browser_context(speaking_browser) as context:
        page, sent = await start_live_interview(context, media_server, application, consent=False)
        await page.wait_for_selector("html[data-media='connected']")
        await wait_final_with_key_words(page)  # the first peer carries speech
        await page.evaluate("() => { window.__firstPeer = window.interview.client.media.pc; }")

        await context.set_offline(True)
        await page.wait_for_selector("#connection[data-state='offline']")
        await page.wait_for_selector("html[data-media='waiting']")
        seen = await page.evaluate("() => window.interview.client.state.lastSeq")
        await context.set_offline(False)
        await page.wait_for_selector("#connection[data-state='online']")
        await page.wait_for_selector("html[data-media='connected']")
        reconnected = await page.wait_for_function(
            "(seen) => window.__mediaStates.find((m) => m.state === 'connected' && m.seq > seen) || null", arg=seen
        )
        first = await wait_final_with_key_words(page, after_seq=(await reconnected.json_value())["seq"])
        # The old peer may still finalise its last words after that; the next line is surely the new peer's.
        after = await wait_final_with_key_words(page, after_seq=first["seq"])
        assert await page.evaluate("() => window.interview.client.media.pc !== window.__firstPeer")
        assert await page.evaluate("() => window.__firstPeer.connectionState") == "closed"
        # The first socket offered; the second one restarted, with a new peer connection.
        assert sent.signalling() == [(1, "webrtc.offer"), (2, "webrtc.restart")]
        session_id = await page.evaluate("() => window.interview.client.sessionId")

    events = await stored_events(http, session_id)
    assert after["seq"] in [e["seq"] for e in events if e["type"] == "transcript.final"]
    states = [e["payload"]["state"] for e in events if e["type"] == "media.state"]
    assert states.count("connected") >= 2, states
    await wait_no_media_sessions(http)


async def test_denied_microphone_leaves_the_interview_running(
    media_server: ServerProcess, http: httpx.AsyncClient
) -> None:
    application = await create_application(http, question_count=2)
    # Without Chromium's fake permission prompt, so that the site setting below is obeyed.
    args = [arg for arg in CHROMIUM_ARGS if arg != "--use-fake-ui-for-media-stream"]
    async with chromium(args) as browser, browser_context(browser) as context:
        page = await context.new_page()
        # The candidate blocks the microphone in the site settings (a real browser permission, not a stub).
        cdp = await context.new_cdp_session(page)
        target = (await cdp.send("Target.getTargetInfo"))["targetInfo"]
        await cdp.send(
            "Browser.setPermission",
            {
                "permission": {"name": "microphone"},
                "setting": "denied",
                "origin": media_server.base_url,
                "browserContextId": target["browserContextId"],
            },
        )
        await page.goto(interview_url(media_server, application))
        await page.wait_for_selector("html[data-ready='true']")
        sent = SentFrames(page)
        await page.click("#start")
        await page.wait_for_selector("#connection[data-state='online']")
        await page.wait_for_selector("html[data-media='unavailable']")
        assert "No microphone" in await page.inner_text("#media-notice")
        assert await page.is_hidden("#message")
        question_id = await answer_current_question(page, "Typed, because the microphone is blocked.")
        await page.wait_for_function("(q) => window.interview.client.currentQuestion?.id !== q", arg=question_id)
        assert sent.signalling() == []
        session_id = await page.evaluate("() => window.interview.client.sessionId")
    events = await stored_events(http, session_id)
    assert [e["payload"]["text"] for e in events if e["type"] == "answer.submit"] == [
        "Typed, because the microphone is blocked."
    ]
    assert not [e for e in events if e["type"] == "media.state"]


@pytest.fixture
def unreachable_media_server(mongodb_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server whose only media address cannot be bound: its answers hold no candidate at all."""
    # TEST-NET-2: never a local address.
    with tuned_server(mongodb_url, tmp_path, media_host_addresses="198.51.100.7") as process:
        yield process


async def test_media_that_never_connects_gives_up_quietly(
    unreachable_media_server: ServerProcess, speaking_browser: Browser
) -> None:
    server = unreachable_media_server
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        application = await create_application(http, question_count=2)
        async with browser_context(speaking_browser) as context:
            page = await open_interview(context, server, application)
            sent = SentFrames(page)
            # Short timeouts so the retries run out within the test (the defaults are tens of seconds).
            await page.evaluate(
                "() => { window.interview.client.mediaOptions = "
                "{connectTimeoutMs: 1500, maxAttempts: 1, backoffInitialMs: 200, backoffMaxMs: 400}; }"
            )
            await watch_page(page)
            await page.click("#start")
            await page.wait_for_selector("#connection[data-state='online']")
            await page.wait_for_selector("html[data-media='failed']")
            assert "type your answers" in await page.inner_text("#media-notice")
            assert await page.is_hidden("#message")
            # The first offer, then one retry on a fresh peer connection, then nothing more.
            assert sent.signalling() == [(1, "webrtc.offer"), (1, "webrtc.restart")]
            question_id = await answer_current_question(page, "Typed while live audio is down.")
            await page.wait_for_function("(q) => window.interview.client.currentQuestion?.id !== q", arg=question_id)
            assert await page.evaluate("() => window.__media") == ["connecting", "reconnecting", "failed"]
            session_id = await page.evaluate("() => window.interview.client.sessionId")
            await wait_outbox_empty(page)  # the next question shows before the answer's ack
        events = await stored_events(http, session_id)
        assert [e["payload"]["text"] for e in events if e["type"] == "answer.submit"] == [
            "Typed while live audio is down."
        ]
        await wait_no_media_sessions(http)
