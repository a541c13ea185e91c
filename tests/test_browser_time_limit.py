"""A question's time limit in Chromium: warned before, and the draft is the answer when it runs out.

The application sets a 15 s limit for every question (`interview.timeLimitSeconds`), so the
test waits for real time-ups instead of editing the session; the waits are hang guards.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from playwright.async_api import Browser, Page

from tests.browser import WAIT_MS, Store, browser_context, screenshot, started_page
from tests.support import ServerProcess, create_application

LIMIT_SECONDS = 15
FIRST_DRAFT = "Draft one: I would measure before changing anything"
SECOND_DRAFT = "Draft two: ask what the customer saw, then agree on a next step"


async def saved_draft(page: Page, question_id: str) -> str:
    """The draft of a question as saved in IndexedDB (what a reload would bring back)."""
    return str(
        await page.evaluate(
            """async (id) => {
                const client = window.interview.client;
                const state = await client.store.getState(client.applicationId);
                return state?.flow?.drafts?.[id]?.text ?? '';
            }""",
            question_id,
        )
    )


async def wait_saved_draft(page: Page, question_id: str, text: str) -> None:
    """Poll IndexedDB until the draft is saved (typing is saved a moment later); a hang guard."""
    async with asyncio.timeout(WAIT_MS / 1000):
        while True:
            if await saved_draft(page, question_id) == text:
                return
            await asyncio.sleep(0.1)


async def current_id(page: Page) -> str:
    return str(await page.evaluate("() => window.interview.client.currentQuestion.id"))


async def test_the_draft_is_stored_as_the_timed_out_answer_of_its_question(
    browser: Browser, server: ServerProcess, client: httpx.AsyncClient
) -> None:
    application = await create_application(client, question_count=2, mode="text", time_limit_seconds=LIMIT_SECONDS)
    store = Store(server)
    try:
        async with browser_context(browser) as context:
            page = await started_page(context, server, application)
            first = await current_id(page)
            # Typed, never submitted.
            await page.fill("#answer", FIRST_DRAFT)
            await wait_saved_draft(page, first, FIRST_DRAFT)

            # Warned (visibly, and to screen readers) before the time runs out.
            warning = page.locator("#time-warning")
            await page.wait_for_selector("#time-warning[data-seconds='10']")
            assert await warning.get_attribute("aria-live") == "assertive"
            assert (await warning.inner_text()).startswith("10 seconds left for this question.")
            assert await warning.is_visible()
            await screenshot(page, "time-warning")

            # At 00:00 the draft goes in as question 1's answer and question 2 starts empty.
            await page.wait_for_selector("#question-number:has-text('Question 2 of 2')")
            assert "what you had so far was submitted" in await warning.inner_text()
            assert await page.input_value("#answer") == ""
            second = await current_id(page)

            # The second draft survives a reload (saved as typed), then times out as well.
            await page.fill("#answer", SECOND_DRAFT)
            await wait_saved_draft(page, second, SECOND_DRAFT)
            await page.reload()
            await page.wait_for_selector("html[data-ready='true']")
            await page.wait_for_selector("#question-number:has-text('Question 2 of 2')")
            assert await page.input_value("#answer") == SECOND_DRAFT
            await page.wait_for_selector("#done-text:has-text('Your interview has been submitted')")

        [session] = await store.sessions(application["id"])
        session = await store.wait_for_status(session["sessionId"], "completed")
        assert [q["id"] for q in session["questions"]] == [first, second]
        events = await store.events(session["sessionId"])
        submits = [e["payload"] for e in events if e["type"] == "answer.submit"]
        assert [(p["questionId"], p["text"], p.get("timedOut")) for p in submits] == [
            (first, FIRST_DRAFT, True),
            (second, SECOND_DRAFT, True),
        ]
        recorded = [e["payload"] for e in events if e["type"] == "answer.recorded"]
        assert [(p["questionId"], p["text"], p.get("timedOut")) for p in recorded] == [
            (first, FIRST_DRAFT, True),
            (second, SECOND_DRAFT, True),
        ]
        assert not [e for e in events if e.get("notApplied")]
        completed = [e["payload"] for e in events if e["type"] == "session.completed"]
        assert completed[0]["summary"]["questionsAnswered"] == 2
    finally:
        await store.close()


async def test_with_nothing_drafted_the_question_is_passed_as_timed_out(
    browser: Browser, server: ServerProcess, client: httpx.AsyncClient
) -> None:
    application = await create_application(client, question_count=2, mode="text", time_limit_seconds=LIMIT_SECONDS)
    store = Store(server)
    try:
        async with browser_context(browser) as context:
            page = await started_page(context, server, application)
            first = await current_id(page)
            await page.wait_for_selector("#question-number:has-text('Question 2 of 2')")
            assert await page.inner_text("#time-warning") == "Time is up for question 1."
            await page.fill("#answer", "Answered in time.")
            await page.click("#submit-answer")
            await page.wait_for_selector("#done-text:has-text('Your interview has been submitted')")
        [session] = await store.sessions(application["id"])
        events = await store.events(session["sessionId"])
        timeouts: list[dict[str, Any]] = [e["payload"] for e in events if e["type"] == "question.timeout"]
        assert timeouts == [{"questionId": first, "number": 1}]
        assert [e["payload"]["text"] for e in events if e["type"] == "answer.recorded"] == ["Answered in time."]
    finally:
        await store.close()
