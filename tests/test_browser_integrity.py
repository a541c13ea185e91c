"""The candidate page reports integrity facts (focus, network, pastes) as named events, in Chromium."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from playwright.async_api import Browser

from tests.browser import Store, browser_context, open_interview
from tests.support import ServerProcess, create_application

DEADLINE_SECONDS = 30.0
NAMES = {"focus.lost", "focus.back", "network.offline", "network.online", "answer.paste"}


async def named_events(store: Store, session_id: str) -> dict[str, dict[str, Any]]:
    """Every named client event of the session that the page reports for integrity, by name."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        events = await store.events(session_id, source="client")
        found = {e["payload"]["name"]: e["payload"] for e in events if e["type"] == "event"}
        if NAMES <= set(found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def test_the_page_reports_focus_network_and_paste_facts(
    browser: Browser, server: ServerProcess, client: httpx.AsyncClient
) -> None:
    application = await create_application(client, question_count=2, mode="text")
    store = Store(server)
    try:
        async with browser_context(browser) as context:
            page = await open_interview(context, server, application)
            await page.click("#start")
            await page.wait_for_selector("#connection[data-state='online']")
            question_id = await page.evaluate("() => window.interview.client.currentQuestion.id")
            await page.evaluate(
                """() => {
                    const data = new DataTransfer();
                    data.setData('text/plain', 'pasted from somewhere');
                    const answer = document.getElementById('answer');
                    answer.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true}));
                    window.dispatchEvent(new Event('blur'));
                    window.dispatchEvent(new Event('focus'));
                }"""
            )
            await context.set_offline(True)
            await page.wait_for_function("() => navigator.onLine === false")
            await context.set_offline(False)
            await page.wait_for_selector("#connection[data-state='online']")
            session_id = (await store.sessions(application["id"]))[0]["sessionId"]
            found = await named_events(store, session_id)
        assert NAMES <= set(found), set(found)
        # The length of what was pasted, never the text itself.
        assert found["answer.paste"]["payload"] == {"chars": len("pasted from somewhere"), "questionId": question_id}
    finally:
        await store.close()
