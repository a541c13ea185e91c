"""What the candidate page says and how it sits on a phone: mode-aware wording, the sticky header, touch targets."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import Browser, Page

from tests.browser import PHONE, Store, browser_context, open_interview, screenshot
from tests.support import ServerProcess, create_application

# Every control a finger may need, as the page shows it (hidden ones do not count).
SMALL_TARGETS = """() => [...document.querySelectorAll('button, input, textarea, select, a[href], [role=button]')]
    .filter((el) => el.checkVisibility() && el.getBoundingClientRect().width > 0)
    .map((el) => ({ id: el.id || el.className || el.tagName, box: el.getBoundingClientRect() }))
    .filter(({ box }) => box.width < 44 || box.height < 44)
    .map(({ id, box }) => `${id}: ${Math.round(box.width)}x${Math.round(box.height)}`)"""


async def visible_text(page: Page) -> str:
    return str(await page.evaluate("() => document.body.innerText"))


async def test_a_text_interview_says_only_what_applies(
    browser: Browser, server: ServerProcess, client: httpx.AsyncClient
) -> None:
    application = await create_application(client, question_count=2, mode="text", time_limit_seconds=30)
    store = Store(server)
    try:
        async with browser_context(browser) as context:
            page = await open_interview(context, server, application)
            await page.wait_for_selector("#setup-summary:has-text('Hello')")
            setup = await visible_text(page)
            assert "This interview has 2 questions and takes up to about 1 minute." in setup
            assert "(s)" not in setup
            for absent in ("Check your microphone", "camera", "Camera", "Microphone level"):
                assert absent not in setup, absent
            await page.click("#start")
            await page.wait_for_selector("#connection[data-state='online']")
            asking = await visible_text(page)
            for absent in ("Live transcript", "Repeat the question", "camera", "When you speak"):
                assert absent not in asking, absent
            assert not await page.is_visible("#transcript-card")

            await page.fill("#answer", "First answer, typed.")
            await page.click("#submit-answer")
            await page.wait_for_selector("#question-number:has-text('Question 2 of 2')")
            await page.wait_for_selector("#save-status:has-text('Your answer to question 1 is saved on the server.')")
            assert "Everything is saved on the server." not in await visible_text(page)
            # The notice is about the answer before; it goes once the next one is being typed.
            await page.fill("#answer", "Second")
            assert await page.inner_text("#save-status") == ""
            await page.fill("#answer", "Second answer, typed.")
            await page.click("#submit-answer")
            await page.wait_for_selector("#done-text:has-text('Your interview has been submitted')")
            assert await page.inner_text("#connection-text") == "Submitted"
            assert "Disconnected" not in await visible_text(page)
        [session] = await store.sessions(application["id"])
        await store.wait_for_status(session["sessionId"], "completed")
    finally:
        await store.close()


async def test_a_video_interview_checks_the_camera_too(
    browser: Browser, server: ServerProcess, client: httpx.AsyncClient
) -> None:
    application = await create_application(client, question_count=1, mode="video", time_limit_seconds=60)
    async with browser_context(browser) as context:
        page = await open_interview(context, server, application)
        await page.wait_for_selector("#setup-summary:has-text('Hello')")
        assert await page.inner_text("#device-heading") == "Check your microphone and camera"
        assert "1 question and takes up to about 1 minute" in await page.inner_text("#setup-summary")


async def header_box(page: Page) -> dict[str, Any]:
    return dict(await page.evaluate("() => document.querySelector('header.top').getBoundingClientRect().toJSON()"))


async def test_on_a_phone_the_status_stays_in_view_and_every_target_is_44_px(
    browser: Browser, server: ServerProcess, client: httpx.AsyncClient
) -> None:
    application = await create_application(client, question_count=2, record=True)
    async with browser_context(browser, viewport=PHONE) as context:
        page = await open_interview(context, server, application)
        await page.wait_for_selector("#consent-block", state="visible")
        assert await page.evaluate(SMALL_TARGETS) == []
        consent = await page.locator("#recording-consent").bounding_box()
        assert consent is not None and consent["width"] >= 44 and consent["height"] >= 44
        await screenshot(page, "phone-setup")

        await page.click("#start")
        await page.wait_for_selector("#connection[data-state='online']")
        await page.wait_for_selector("#question-text:not(:empty)")
        assert await page.evaluate(SMALL_TARGETS) == []
        # Scrolled down to the answer buttons, the connection state and the time left are still on screen.
        await page.locator("#end").scroll_into_view_if_needed()
        assert await page.evaluate("() => window.scrollY") > 0
        box = await header_box(page)
        assert box["top"] == 0 and box["height"] <= 56  # compact: one line
        assert await page.is_visible("#connection-text") and await page.is_visible("#header-timer")
        assert await page.inner_text("#header-question") == "1/2"
        assert await page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        await page.screenshot(path=str((await screenshot(page, "phone-question")).with_name("phone-scrolled.png")))
