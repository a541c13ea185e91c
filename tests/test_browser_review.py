"""The reviewer page in Chromium: list, filters, a completed voice session with its recording, the plots.

Sessions are made through the real API (start, transcript lines with times, integrity
facts, answers, a WAV spoken by espeak-ng uploaded through the recording route); the
screenshots in docs/screenshots/ come from these tests.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page

from tests.browser import browser_context
from tests.session_support import ADMIN, RECRUITER, Started, named_event, new_session, now_iso, transcript_event
from tests.support import ROOT, ServerProcess, speech_wav_file, user_token
from tests.test_scoring_api import answer, details, scored_session

LAPTOP = {"width": 1366, "height": 768}
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
# Where each line of the first answer is in the recording (ms from its start).
LINES = [("I would start by measuring the slow endpoint.", 500, 2500), ("Then I would add a cache.", 3000, 5000)]


async def voice_session(client: httpx.AsyncClient, folder: Path) -> Started:
    """A completed, recorded voice interview with timed transcript lines, integrity facts and scores."""
    started = await new_session(client, question_count=2, mode="voice", record=True)
    first, second = (await details(client, started, RECRUITER))["questions"]
    facts = [
        named_event("recording.consent", granted=True),
        *(transcript_event(text, startMs=start, endMs=end) for text, start, end in LINES),
        named_event("tab.hidden", ts=now_iso(-0.4)),
        named_event("tab.visible", ts=now_iso(-0.1)),
        named_event("answer.paste", chars=31, questionId=first["id"]),
    ]
    stored = await client.post(started.url("/events"), json={"events": facts}, headers=started.bearer)
    assert stored.status_code == 200 and stored.json()["accepted"] == len(facts), stored.text
    wav = speech_wav_file(folder, " ".join(text for text, _, _ in LINES), silence_seconds=4).read_bytes()
    uploaded = await client.post(
        started.url("/recording"), content=wav, headers={**started.candidate, "Content-Type": "audio/wav"}
    )
    assert uploaded.status_code == 201, uploaded.text
    points = " ".join(first["expectedAnswerPoints"])
    await answer(client, started, first["id"], f"{points} For example, a cache in front of the slowest query.")
    await answer(client, started, second["id"], "I would talk to the team and agree on the next step.")
    await scored_session(client, started)
    return started


async def open_review(page: Page, server: ServerProcess, token: str) -> None:
    await page.goto(f"{server.base_url}/review#token={token}")
    await page.wait_for_selector("html[data-ready='true']")


async def audio_state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = await page.evaluate(
        "() => { const a = document.getElementById('player'); return {t: a.currentTime, paused: a.paused}; }"
    )
    return state


async def test_a_recruiter_reviews_a_recorded_session(
    browser: Browser, server: ServerProcess, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    started = await voice_session(client, tmp_path)
    for _ in range(2):  # a few more rows for the list
        other = await new_session(client, question_count=1)
        await client.post(other.url("/complete"), headers=other.candidate)
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with browser_context(browser, viewport=LAPTOP) as context:
        page = await context.new_page()
        await open_review(page, server, user_token("recruiter_1", "recruiter"))
        await page.wait_for_selector("html[data-view='list'][data-list-loaded]")
        # The token left the address bar for this tab's storage.
        assert "#" not in page.url and "token" not in page.url
        assert await page.evaluate("() => sessionStorage.getItem('review.userToken')") is not None
        row = f"tr[data-session-id='{started.session_id}']"
        await page.wait_for_selector(row)
        await page.screenshot(path=str(DOCS_SCREENSHOTS / "review-list.png"))

        # Filter: this application, completed, scored at least 1, started today.
        await page.fill("input[name='applicationId']", started.application["id"])
        await page.select_option("select[name='status']", "completed")
        await page.fill("input[name='minScore']", "1")
        await page.fill("input[name='from']", now_iso()[:10])
        loads = await page.evaluate("() => Number(document.documentElement.dataset.listLoaded)")
        await page.click("#filters button[type='submit']")
        await page.wait_for_function(f"() => Number(document.documentElement.dataset.listLoaded) > {loads}")
        assert await page.locator("#sessions-body tr").count() == 1
        # Opened with the keyboard: the row is focusable and Enter opens it.
        await page.focus(row)
        await page.keyboard.press("Enter")
        await page.wait_for_selector(f"html[data-session-ready='{started.session_id}']")

        timeline = page.locator("#timeline")
        assert await timeline.locator("li.question").count() == 2
        first = timeline.locator("li.question").first
        assert "Tab hidden 1 time" in await first.inner_text()
        assert "1 paste into the answer box, 31 characters" in await first.inner_text()
        assert float(await first.locator(".final-score strong").inner_text()) > 0
        assert await first.locator(".point-covered").count() >= 1
        lines = first.locator("button.line")
        assert [await lines.nth(i).get_attribute("data-start-ms") for i in range(2)] == ["500", "3000"]
        assert "Tab hidden 1 time" in await page.locator("#session-integrity").inner_text()
        await page.wait_for_function("() => document.getElementById('player').readyState >= 1")
        await page.screenshot(path=str(DOCS_SCREENSHOTS / "review-session.png"), full_page=True)

        # Selecting a line plays the recording from that line's start, and highlights it.
        for index, (_, start, end) in reversed(list(enumerate(LINES))):
            await lines.nth(index).click()
            await page.wait_for_function(
                "([s, e]) => { const a = document.getElementById('player');"
                " return !a.paused && a.currentTime * 1000 >= s && a.currentTime * 1000 < e; }",
                arg=[start, end],
            )
            await page.wait_for_selector(f"button.line[data-start-ms='{start}'].playing[aria-current='true']")
        await page.evaluate("() => document.getElementById('player').pause()")
        assert (await audio_state(page))["t"] * 1000 >= LINES[0][1]

        # The analytics plots, each with a text alternative.
        await page.keyboard.press("Escape")
        await page.wait_for_selector("html[data-view='list']")
        await page.click("#show-analytics")
        await page.wait_for_selector("html[data-analytics-ready='true'] #chart-scores svg")
        charts = page.locator("#charts svg[role='img']")
        assert await charts.count() == 4
        for index in range(4):
            labelled = await charts.nth(index).get_attribute("aria-labelledby")
            assert labelled and len(labelled.split()) == 2
            for part in labelled.split():
                assert await page.locator(f"[id='{part}']").count() == 1
        assert await page.locator("#charts table.visually-hidden").count() == 4
        await page.screenshot(path=str(DOCS_SCREENSHOTS / "review-analytics.png"), full_page=True)


async def test_a_candidate_token_is_refused_the_data(
    browser: Browser, server: ServerProcess, client: httpx.AsyncClient
) -> None:
    started = await new_session(client)
    async with browser_context(browser, viewport=LAPTOP) as context:
        page = await context.new_page()
        requests: list[tuple[str, int]] = []
        page.on("response", lambda response: requests.append((response.url, response.status)))
        await open_review(page, server, user_token(started.application["candidateId"]))
        await page.wait_for_selector("html[data-refused='true']")
        assert "recruiters and admins" in await page.locator("#message").inner_text()
        assert await page.locator("#token-section").is_visible()
        assert await page.locator("#sessions-body tr").count() == 0
        api = [(url, status) for url, status in requests if "/api/" in url]
        assert api and all(status == 403 for _, status in api), api
        assert not any("/api/interview/sessions" in url for url, _ in api)


async def test_a_pasted_token_signs_in(browser: Browser, server: ServerProcess) -> None:
    async with browser_context(browser, viewport=LAPTOP) as context:
        page = await context.new_page()
        await page.goto(f"{server.base_url}/review")
        await page.wait_for_selector("html[data-view='token']")
        await page.fill("#token-input", user_token(f"admin_{uuid.uuid4().hex[:6]}", "admin"))
        await page.keyboard.press("Enter")
        await page.wait_for_selector("html[data-view='list'][data-list-loaded]")
        assert await page.input_value("#token-input") == ""


async def test_a_deleted_session_vanishes_from_the_list_and_its_recording_answers_404(
    browser: Browser, server: ServerProcess, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    started = await voice_session(client, tmp_path)
    link = await client.post(started.url("/recording-link"), headers=ADMIN)
    assert link.status_code == 200, link.text
    row = f"tr[data-session-id='{started.session_id}']"
    async with browser_context(browser, viewport=LAPTOP) as context:
        page = await context.new_page()
        await open_review(page, server, user_token("admin_1", "admin"))
        await page.wait_for_selector(row)
        deleted = await client.delete(started.url(), headers=ADMIN)
        assert deleted.status_code == 204, deleted.text
        loads = await page.evaluate("() => Number(document.documentElement.dataset.listLoaded)")
        await page.click("#filters button[type='submit']")
        await page.wait_for_function(f"() => Number(document.documentElement.dataset.listLoaded) > {loads}")
        assert await page.locator(row).count() == 0
    assert (await client.get(link.json()["url"])).status_code == 404  # the signed link of the deleted recording
    assert (await client.get(started.url("/recording"), headers=ADMIN)).status_code == 404
    assert (await client.get(started.url(), headers=ADMIN)).status_code == 404
