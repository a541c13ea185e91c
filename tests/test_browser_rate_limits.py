"""The two rate limits a candidate's page meets, in Chromium: start-session's and the WebSocket's.

A resume never counts toward start-session's limit (3 new sessions per application per 10
minutes), and the outbox resent after an outage is paced under the WebSocket's (20 messages
a second, bursts of 60) so that recovering never gets the page disconnected.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Response

from tests.browser import WAIT_MS, Store, browser_context, outbox, started_page
from tests.support import ServerProcess, create_application, tuned_server

QUEUED = 200


@pytest.fixture(scope="module")
def limited_server(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The production limits: 3 new sessions per 10 minutes, 20 messages a second in bursts of 60."""
    with tuned_server(
        mongodb_url,
        tmp_path_factory.mktemp("limited"),
        start_session_rate_limit="3",
        start_session_rate_window_seconds="600",
        ws_rate_limit_per_second="20",
        ws_rate_limit_burst="60",
    ) as process:
        yield process


def record_starts(context: BrowserContext, statuses: list[int]) -> None:
    def seen(response: Response) -> None:
        if response.url.endswith("/api/interview/start-session"):
            statuses.append(response.status)

    context.on("response", seen)


async def session_of(page: Page) -> str:
    return str(await page.evaluate("() => window.interview.client.sessionId"))


async def test_reloads_within_the_window_never_get_429(browser: Browser, limited_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=limited_server.base_url, timeout=15) as http:
        application = await create_application(http, question_count=3)
    store = Store(limited_server)
    statuses: list[int] = []
    session_ids: set[str] = set()
    try:
        async with browser_context(browser) as context:
            record_starts(context, statuses)
            page = await started_page(context, limited_server, application)
            session_ids.add(await session_of(page))
            for _ in range(4):  # the same browser: the page picks its interview up again
                await page.reload()
                await page.wait_for_selector("#connection[data-state='online']")
                session_ids.add(await session_of(page))
        # A reload on another device (no local copy) asks start-session each time: a resume, never limited.
        for _ in range(4):
            async with browser_context(browser) as other:
                record_starts(other, statuses)
                page = await started_page(other, limited_server, application)
                assert await page.inner_text("#start") == "Continue interview"
                session_ids.add(await session_of(page))
        assert statuses == [201, 200, 200, 200, 200]  # more starts than the limit of 3
        assert len(session_ids) == 1
        assert [s["sessionId"] for s in await store.sessions(application["id"])] == list(session_ids)
    finally:
        await store.close()


async def test_two_hundred_messages_queued_in_an_outage_are_all_acked_without_4008(
    browser: Browser, limited_server: ServerProcess
) -> None:
    async with httpx.AsyncClient(base_url=limited_server.base_url, timeout=15) as http:
        application = await create_application(http, question_count=3, mode="text")
    store = Store(limited_server)
    try:
        async with browser_context(browser) as context:
            page = await started_page(context, limited_server, application)
            await page.evaluate(
                """() => {
                    window.__closes = []; window.__errors = [];
                    const client = window.interview.client;
                    client.live.channel.addEventListener('close', (e) => window.__closes.push(e.detail.code));
                    client.addEventListener('error', (e) => window.__errors.push(e.detail.code));
                    client.addEventListener('notApplied', (e) => window.__errors.push(e.detail.code));
                    window.__pending = null;
                    for (const type of ['saved', 'acked']) {
                      client.addEventListener(type, (e) => { window.__pending = e.detail.pending; });
                    }
                }"""
            )
            await context.set_offline(True)
            await page.wait_for_selector("#connection[data-state='offline']")
            ids = await page.evaluate(
                """async (count) => {
                    const ids = [];
                    for (let i = 0; i < count; i += 1) {
                      ids.push(await window.interview.client.reportEvent('outage.note', { i }));
                    }
                    return ids;
                }""",
                QUEUED,
            )
            assert len(await outbox(page)) >= QUEUED

            await context.set_offline(False)
            await page.wait_for_selector("#connection[data-state='online']")
            # About 13 s of pacing at 15 messages a second; the wait is a hang guard.
            await page.wait_for_function("() => window.__pending === 0", timeout=WAIT_MS * 3)
            assert await outbox(page) == []
            log: dict[str, Any] = await page.evaluate("() => ({closes: window.__closes, errors: window.__errors})")
            assert 4008 not in log["closes"]
            assert "RATE_LIMITED" not in log["errors"]
            assert await page.inner_text("#connection-text") == "Online"

        [session] = await store.sessions(application["id"])
        events = await store.events(session["sessionId"], source="client")
        notes = [e for e in events if e["type"] == "event" and e["payload"]["name"] == "outage.note"]
        assert sorted(e["payload"]["payload"]["i"] for e in notes) == list(range(QUEUED))
        assert {e["clientEventId"] for e in notes} == set(ids)
    finally:
        await store.close()
