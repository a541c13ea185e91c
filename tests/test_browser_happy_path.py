"""A whole interview in Chromium: start, answer every question, complete; checked in MongoDB."""

from __future__ import annotations

from collections import Counter

import httpx
from playwright.async_api import Browser, Page

from tests.browser import (
    PHONE,
    Store,
    answer_current_question,
    browser_context,
    open_interview,
    record_saved_ids,
    screenshot,
    wait_question_changes,
)
from tests.support import ServerProcess, create_application

ANSWERS = [
    "I would measure first: browser timings, then server traces, then the slowest query.",
    "I listen, restate the concern, and agree on the smallest next step together.",
    "I ask what matters most to the customer and say clearly what we can ship by Friday.",
]


async def run_interview(page: Page, answers: list[str]) -> list[str]:
    """Answer every question on screen; returns the answered question ids in order."""
    answered: list[str] = []
    for text in answers:
        await page.wait_for_selector("#submit-answer:enabled")
        question_id = await answer_current_question(page, text)
        answered.append(question_id)
        await wait_question_changes(page, question_id)
    return answered


async def test_candidate_completes_an_interview(
    browser: Browser, server: ServerProcess, client: httpx.AsyncClient
) -> None:
    application = await create_application(client, question_count=3)
    store = Store(server)
    try:
        async with browser_context(browser) as context:
            page = await open_interview(context, server, application)
            await record_saved_ids(page)
            await page.click("#start")
            await page.wait_for_selector("#connection[data-state='online']")
            await page.wait_for_selector("#question-number:has-text('Question 1 of 3')")
            await screenshot(page, "question-screen")

            answered = await run_interview(page, ANSWERS)
            await page.wait_for_selector("#done-text:has-text('Your interview has been submitted')")
            saved = await page.evaluate("() => window.__saved")
            delivered = await page.evaluate("() => window.__delivered")

        session_id = (await store.sessions(application["id"]))[0]["sessionId"]
        session = await store.wait_for_status(session_id, "completed")
        assert [q["id"] for q in session["questions"]] == answered
        events = await store.events(session_id)
        submits = [e for e in events if e["type"] == "answer.submit"]
        assert [(e["payload"]["questionId"], e["payload"]["text"]) for e in submits] == list(
            zip(answered, ANSWERS, strict=True)
        )
        assert [e["payload"]["questionId"] for e in events if e["type"] == "answer.recorded"] == answered
        client_ids = Counter(e["clientEventId"] for e in events if e["source"] == "client")
        assert set(client_ids) == {item["id"] for item in saved}
        assert set(client_ids.values()) == {1}
        started = [e for e in events if e["type"] == "event" and e["payload"]["name"] == "interview.session.started"]
        assert len(started) == 1
        # The page saw every server message exactly once, in order.
        assert delivered == [e["seq"] for e in events if e["source"] == "server"]
        assert (await store.application(application["id"]))["status"] == "completed"  # type: ignore[index]
    finally:
        await store.close()


async def test_keyboard_only_on_a_phone(browser: Browser, server: ServerProcess, client: httpx.AsyncClient) -> None:
    application = await create_application(client, question_count=1)
    store = Store(server)
    try:
        async with browser_context(browser, viewport=PHONE) as context:
            page = await open_interview(context, server, application)
            await screenshot(page, "setup-phone")
            for _ in range(8):
                await page.keyboard.press("Tab")
                if await page.evaluate("() => document.activeElement.id") == "start":
                    break
            assert await page.evaluate("() => document.activeElement.id") == "start"
            # The focus ring is visible (not the browser default that some resets remove).
            assert await page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") == "solid"
            await page.keyboard.press("Enter")
            await page.wait_for_selector("#question-text:not(:empty)")
            await screenshot(page, "question-screen-phone")
            # No horizontal scrolling on a phone.
            assert await page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
            await page.keyboard.press("Tab")
            assert await page.evaluate("() => document.activeElement.id") == "answer"
            await page.keyboard.type("Answered with the keyboard only.")
            await page.keyboard.press("Control+Enter")
            await page.wait_for_selector("#done-text:has-text('Your interview has been submitted')")
        session = (await store.sessions(application["id"]))[0]
        events = await store.events(session["sessionId"])
        assert [e["payload"]["text"] for e in events if e["type"] == "answer.submit"] == [
            "Answered with the keyboard only."
        ]
    finally:
        await store.close()


async def test_end_interview_asks_for_confirmation(
    browser: Browser, server: ServerProcess, client: httpx.AsyncClient
) -> None:
    application = await create_application(client, question_count=3)
    store = Store(server)
    try:
        async with browser_context(browser) as context:
            page = await open_interview(context, server, application)
            await page.click("#start")
            await page.wait_for_selector("#connection[data-state='online']")
            await page.click("#end")
            await page.wait_for_selector("#end-dialog[open]")
            await page.click("#cancel-end")
            await page.wait_for_selector("#end-dialog:not([open])", state="attached")
            assert await page.is_visible("#question-text")
            await page.click("#end")
            await page.click("#confirm-end")
            await page.wait_for_selector("#done-text:has-text('Your interview has been submitted')")
        session = (await store.sessions(application["id"]))[0]
        completed = await store.wait_for_status(session["sessionId"], "completed")
        assert completed["currentQuestionNumber"] == 1
    finally:
        await store.close()
