"""A value the server refuses for good, in Chromium: the page keeps it aside, reports it once, and carries on.

`1e19` is what a page can produce that the store cannot hold (an integer past 64 bits):
JSON.stringify writes it as 10000000000000000000.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from playwright.async_api import Browser, Page

from tests.browser import (
    Store,
    answer_current_question,
    browser_context,
    open_interview,
    outbox,
    restarted,
    wait_offline_ready,
    wait_question_changes,
)
from tests.support import ServerProcess, create_application
from tests.test_browser_offline import go_offline_at_start, make_application

POISON = "() => window.interview.client.reportEvent('debug.counter', {big: 1e19})"


async def watch_reports(page: Page) -> None:
    await page.evaluate(
        """() => {
            window.__errors = []; window.__quarantined = []; window.__acked = new Set();
            const client = window.interview.client;
            client.addEventListener('error', (e) => window.__errors.push(e.detail));
            client.addEventListener('acked', (e) => e.detail.ids.forEach((id) => window.__acked.add(id)));
            client.addEventListener('quarantined', (e) => window.__quarantined.push(e.detail));
        }"""
    )


async def quarantined(page: Page) -> list[dict[str, Any]]:
    items = await page.evaluate(
        "() => window.interview.client.store.listQuarantine(window.interview.client.applicationId)"
    )
    return list(items)


async def test_offline_sync_stores_the_rest_and_keeps_the_refused_item_aside(
    browser: Browser, own_server: list[ServerProcess]
) -> None:
    server = own_server[0]
    application = await make_application(server, question_count=3)
    store = Store(server)
    try:
        async with browser_context(browser) as context:
            page = await open_interview(context, server, application)
            await watch_reports(page)
            await wait_offline_ready(page)
            await go_offline_at_start(page, server)
            first = await answer_current_question(page, "Answer one, written offline.")
            await wait_question_changes(page, first)
            poison = await page.evaluate(POISON)
            second = await answer_current_question(page, "Answer two, after the bad one.")
            await wait_question_changes(page, second)

            own_server.append(await asyncio.to_thread(restarted(server).start))
            await page.wait_for_selector("html[data-synced='true']", state="attached")
            assert await outbox(page) == []
            [kept] = await quarantined(page)
            errors = await page.evaluate("() => window.__errors")
            reports = await page.evaluate("() => window.__quarantined")

        assert kept["id"] == poison and kept["payload"]["payload"]["big"] == 1e19
        assert kept["refusal"]["code"] == "VALIDATION_ERROR" and kept["refusal"]["field"] == "payload.payload.big"
        assert [r["ids"] for r in reports] == [[poison]]  # reported once
        assert [e["code"] for e in errors].count("UPLOAD_REFUSED") == 1
        [session] = await store.sessions(application["id"])
        stored = await store.events(session["sessionId"], source="client")
        answers = [e["payload"]["questionId"] for e in stored if e["type"] == "answer.submit"]
        assert answers == [first, second]  # the good items around the bad one are stored
        assert poison not in {e["clientEventId"] for e in stored}
    finally:
        await store.close()


async def test_online_refusal_is_kept_aside_and_the_socket_stays_up(
    browser: Browser, server: ServerProcess, client: httpx.AsyncClient
) -> None:
    application = await create_application(client, question_count=2)
    store = Store(server)
    try:
        async with browser_context(browser) as context:
            page = await open_interview(context, server, application)
            await watch_reports(page)
            await page.click("#start")
            await page.wait_for_selector("#connection[data-state='online']")
            before = await page.evaluate("() => window.interview.client.reportEvent('tab.hidden', {})")
            poison = await page.evaluate(POISON)
            after = await page.evaluate("() => window.interview.client.reportEvent('tab.visible', {})")
            await page.wait_for_function("() => window.__quarantined.length > 0")
            await page.wait_for_function("(ids) => ids.every((id) => window.__acked.has(id))", arg=[before, after])
            [kept] = await quarantined(page)
            reports = await page.evaluate("() => window.__quarantined")
            assert await page.get_attribute("#connection", "data-state") == "online"  # not an outage
        assert kept["id"] == poison and kept["refusal"]["code"] == "VALIDATION_ERROR"
        assert [r["ids"] for r in reports] == [[poison]]
        [session] = await store.sessions(application["id"])
        stored = {e["clientEventId"] for e in await store.events(session["sessionId"], source="client")}
        assert {before, after} <= stored and poison not in stored
    finally:
        await store.close()
