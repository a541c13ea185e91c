"""Live media from the candidate page: Chromium's WebRTC to the real server, spoken words to stored transcripts.

Chromium's fake microphone plays a sentence synthesised by espeak-ng (looped); the
server (faster-whisper, host candidates on 127.0.0.1 only) transcribes it. Chromium
is started with loopback candidates allowed and mDNS host names off, so every
packet stays on 127.0.0.1 and aiortc can reach the browser's candidates.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import uuid
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    OUTPUT_DIR,
    WAIT_MS,
    answer_current_question,
    browser_context,
    open_interview,
    record_saved_ids,
    screenshot,
)
from tests.support import ROOT, ServerProcess, auth, create_application, running_server, user_token

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
    env = {
        "mongodb_db": f"test_{uuid.uuid4().hex[:12]}",
        "transcriber": "whisper",
        "transcribe_workers": "1",
        "media_host_addresses": "127.0.0.1",
        "start_session_rate_limit": "1000",
    }
    with running_server(mongodb_url, tmp_path_factory.mktemp("browser-media"), **env) as process:
        yield process


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sentence spoken by espeak-ng, then two seconds of silence so each loop ends an utterance."""
    folder = tmp_path_factory.mktemp("speech")
    spoken, path = folder / "spoken.wav", folder / "speech.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(spoken), SENTENCE], check=True)
    with wave.open(str(spoken), "rb") as source:
        params, frames = source.getparams(), source.readframes(source.getnframes())
    with wave.open(str(path), "wb") as padded:
        padded.setparams(params)
        padded.writeframes(frames + b"\x00" * params.sampwidth * params.framerate * 2)
    return path


@contextlib.asynccontextmanager
async def speaking_browser(wav: Path) -> AsyncIterator[Browser]:
    """A Chromium of its own whose fake microphone plays `wav` (the flag is per process)."""
    args = [*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={wav}", *MEDIA_ARGS]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


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
    async with asyncio.timeout(30):
        while (await http.get("/healthz")).json()["mediaSessions"] != 0:
            await asyncio.sleep(0.2)


async def watch_page(page: Page) -> None:
    """Collect what the page's client reports about live media and server transcripts."""
    await page.evaluate(
        """() => {
            window.__media = []; window.__finals = [];
            const client = window.interview.client;
            client.addEventListener('media', (e) => window.__media.push(e.detail.state));
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


async def start_live_interview(context: BrowserContext, server: ServerProcess, application: dict[str, Any]) -> Page:
    page = await open_interview(context, server, application)
    await record_saved_ids(page)
    await page.check("#recording-consent")
    await page.click("#start")
    await page.wait_for_selector("#connection[data-state='online']")
    await watch_page(page)
    await page.wait_for_selector("html[data-media='connected']")
    return page


async def test_spoken_answer_becomes_a_stored_live_transcript(
    media_server: ServerProcess, http: httpx.AsyncClient, speech_wav: Path
) -> None:
    application = await create_application(http, question_count=2, record=True)
    async with speaking_browser(speech_wav) as browser, browser_context(browser) as context:
        page = await start_live_interview(context, media_server, application)
        question_id = await page.evaluate("() => window.interview.client.currentQuestion.id")
        final = await wait_final_with_key_words(page)
        assert final["questionId"] == question_id
        assert final["endMs"] > final["startMs"]
        # The transcript panel shows the line, and the live indicators came from the server.
        line = page.locator("#transcript li", has_text="experience").first
        await line.wait_for()
        assert "python" in (await line.inner_text()).lower()
        await page.wait_for_function("() => document.querySelector('#live-level').value > 0")
        assert await page.is_visible("#live-audio")
        assert await page.is_hidden("#media-notice")
        path = await screenshot(page, "live-transcript")
        session_id = await page.evaluate("() => window.interview.client.sessionId")
    assert path.exists()

    events = await stored_events(http, session_id)
    finals = [e for e in events if e["type"] == "transcript.final"]
    assert final["seq"] in [e["seq"] for e in finals]
    stored = next(e for e in finals if e["seq"] == final["seq"])
    assert all(word in stored["payload"]["text"].lower() for word in KEY_WORDS)
    assert stored["payload"]["source"] == "server"
    assert "connected" in [e["payload"]["state"] for e in events if e["type"] == "media.state"]
    consents = [e for e in events if e["type"] == "event" and e["payload"]["name"] == "recording.consent"]
    assert [c["payload"]["payload"] for c in consents] == [{"granted": True}]

    await wait_no_media_sessions(http)
    recording = await http.get(f"/api/interview/sessions/{session_id}/recording", headers=RECRUITER)
    assert recording.status_code == 200
    assert recording.content[:4] == b"RIFF" and len(recording.content) > 44 + 16000
