"""The voice interview in real Chromium: the interviewer speaks each question, the candidate answers by speaking.

The server runs with TRANSCRIBER and VOICE at their defaults (auto), as `scripts/run`
starts it: Whisper transcribes, Piper speaks. Chromium's fake microphone plays an
espeak-ng WAV: ten seconds of silence (the question is spoken meanwhile), the answer,
then silence. Waits are hang guards on a shared machine, never timing assertions.
"""

from __future__ import annotations

import contextlib
import subprocess
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS, PHONE, browser_context, open_interview, screenshot
from tests.support import ServerProcess, auth, create_application, tuned_server, user_token

ANSWER = "I would profile the query first and then add an index on the slow columns."
KEY_WORDS = ("profile", "query", "index")
RECRUITER = auth(user_token("recruiter_1", "recruiter"))
MEDIA_ARGS = [
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]
ENERGY = 0.01  # speech played at normal level gives tenths within a second; silence stays at 0
WAIT_MS = 180_000  # model loading, speech and transcription on a busy 2-core machine


@pytest.fixture(scope="module")
def voice_server(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with tuned_server(
        mongodb_url,
        tmp_path_factory.mktemp("browser-voice"),
        transcriber="auto",
        voice="auto",
        transcribe_workers="1",
        media_host_addresses="127.0.0.1",
    ) as process:
        yield process


def answer_wav(folder: Path) -> Path:
    """Silence while the question is asked, the spoken answer, then a long silence (the file loops)."""
    spoken, path = folder / "answer-spoken.wav", folder / "answer.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(spoken), ANSWER], check=True)
    with wave.open(str(spoken), "rb") as source:
        params, frames = source.getparams(), source.readframes(source.getnframes())
    second = params.sampwidth * params.framerate
    with wave.open(str(path), "wb") as padded:
        padded.setparams(params)
        padded.writeframes(b"\x00" * second * 10 + frames + b"\x00" * second * 40)
    return path


@contextlib.asynccontextmanager
async def chromium(args: list[str]) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture(scope="module")
async def candidate_browser(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Browser]:
    wav = answer_wav(tmp_path_factory.mktemp("voice-wav"))
    async with chromium([*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={wav}", *MEDIA_ARGS]) as browser:
        yield browser


@pytest.fixture
async def http(voice_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=voice_server.base_url, timeout=30) as client:
        yield client


async def watch(page: Page) -> None:
    await page.evaluate(
        """() => {
            window.__voice = []; window.__speaking = [];
            const client = window.interview.client;
            client.addEventListener('questionAudio', (e) => window.__voice.push(e.detail));
            client.addEventListener('speaking', (e) => window.__speaking.push(e.detail.speaking));
        }"""
    )


async def wait_voice(page: Page, question_id: str, state: str) -> dict[str, Any]:
    handle = await page.wait_for_function(
        "([q, s]) => window.__voice.find((v) => v.questionId === q && v.state === s) || null",
        arg=[question_id, state],
        timeout=WAIT_MS,
    )
    return dict(await handle.json_value())


async def inbound_audio_energy(page: Page) -> float:
    """The total energy of the audio the page received from the server (WebRTC stats)."""
    return float(
        await page.evaluate(
            """async () => {
                const stats = [...(await window.interview.client.media.pc.getStats()).values()];
                const inbound = stats.find((s) => s.type === 'inbound-rtp' && s.kind === 'audio');
                return inbound ? (inbound.totalAudioEnergy || 0) : 0;
            }"""
        )
    )


async def heard_energy(page: Page) -> float:
    """Poll the inbound audio energy until it passes ENERGY (or the hang guard ends)."""
    energy = 0.0
    for _ in range(WAIT_MS // 500):
        energy = await inbound_audio_energy(page)
        if energy > ENERGY:
            break
        await page.wait_for_timeout(500)
    return energy


async def test_the_interviewer_speaks_and_a_spoken_answer_needs_no_typing(
    voice_server: ServerProcess, http: httpx.AsyncClient, candidate_browser: Browser
) -> None:
    application = await create_application(http, question_count=2, mode="voice")
    async with browser_context(candidate_browser) as context:
        page = await open_interview(context, voice_server, application)
        await watch(page)
        await page.click("#start")
        await page.wait_for_selector("#connection[data-state='online']")
        await page.wait_for_selector("html[data-media='connected']", timeout=WAIT_MS)
        first = await page.evaluate("() => window.interview.client.currentQuestion.id")
        playing = await wait_voice(page, first, "playing")
        assert playing["durationMs"] > 1000
        assert await heard_energy(page) > ENERGY  # the question's audio reached the browser
        assert await page.inner_text("#submit-answer") == "I'm done"
        assert await page.is_disabled("#submit-answer")  # nothing said or typed yet
        await screenshot(page, "spoken-question")

        # The fake microphone speaks the answer; once the candidate stops, "I'm done" with an empty box.
        await page.wait_for_function("() => window.__speaking.includes(true)", timeout=WAIT_MS)
        await page.wait_for_selector("#transcript-partial:not(:empty), #transcript li", timeout=WAIT_MS)
        await screenshot(page, "spoken-answer-transcript")
        await page.wait_for_function("() => window.__speaking.at(-1) === false", timeout=WAIT_MS)
        assert await page.input_value("#answer") == ""
        assert await page.is_enabled("#submit-answer")
        await page.click("#submit-answer")

        await page.wait_for_function(
            "(q) => window.interview.client.currentQuestion?.id !== q", arg=first, timeout=WAIT_MS
        )
        second = await page.evaluate("() => window.interview.client.currentQuestion.id")
        await wait_voice(page, second, "playing")  # the next question is spoken
        session_id = await page.evaluate("() => window.interview.client.sessionId")

    details = (await http.get(f"/api/interview/sessions/{session_id}/details", headers=RECRUITER)).json()
    answers = details["questions"][0]["answers"]
    assert details["questions"][0]["id"] == first and len(answers) == 1
    answer = answers[0]
    assert answer["recorded"] and not answer["text"]
    assert all(word in answer["answerText"].lower() for word in KEY_WORDS), answer


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
async def test_video_interviews_show_a_mirrored_self_view(
    voice_server: ServerProcess, http: httpx.AsyncClient, candidate_browser: Browser, viewport: dict[str, int] | None
) -> None:
    application = await create_application(http, question_count=1, mode="video")
    async with browser_context(candidate_browser, viewport) as context:
        page = await open_interview(context, voice_server, application)
        await page.click("#start")
        await page.wait_for_selector("#question-text:not(:empty)")
        await page.wait_for_selector("#self-view-box:not([hidden])", timeout=WAIT_MS)
        await page.wait_for_function("() => document.querySelector('#self-view').videoWidth > 0", timeout=WAIT_MS)
        assert await page.is_visible("#self-view")
        transform = await page.evaluate("() => getComputedStyle(document.querySelector('#self-view')).transform")
        assert transform.startswith("matrix(-1")  # mirrored, as candidates expect to see themselves
        box = await page.locator("#self-view-box").bounding_box()
        assert box is not None and box["width"] <= (viewport or {"width": 1100})["width"] / 2
        await screenshot(page, f"self-view-{'phone' if viewport else 'desktop'}")
        await page.click("#toggle-self-view")
        assert await page.is_hidden("#self-view")
        assert await page.inner_text("#toggle-self-view") == "Show my camera"
