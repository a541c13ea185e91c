"""Real-browser helpers: Debian's Chromium driven by Playwright (no browser is ever downloaded)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from pymongo import AsyncMongoClient

from tests.support import ROOT, ServerProcess, user_token

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
OUTPUT_DIR = ROOT / "test-output"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1100, "height": 800}
# Generous: the 2-core CI machine runs a browser, a server and the store at once.
WAIT_MS = 30_000


@contextlib.asynccontextmanager
async def launched_browser() -> AsyncIterator[Browser]:
    """Headless Chromium from /usr/bin/chromium, closed (with its processes) on exit."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def browser_context(browser: Browser, viewport: dict[str, int] | None = None) -> AsyncIterator[BrowserContext]:
    """A fresh profile (own IndexedDB, caches, service workers) with mic and camera allowed."""
    context = await browser.new_context(viewport=viewport or DESKTOP)  # type: ignore[arg-type]
    context.set_default_timeout(WAIT_MS)
    try:
        yield context
    finally:
        await context.close()


def interview_url(server: ServerProcess, application: dict[str, Any], token: str | None = None) -> str:
    """The link the hiring platform gives the candidate: the user token rides in the fragment."""
    token = token or user_token(application["candidateId"])
    return f"{server.base_url}/interview/{application['id']}#token={token}"


async def open_interview(context: BrowserContext, server: ServerProcess, application: dict[str, Any]) -> Page:
    """Open the candidate page and wait until it is ready (offline copy cached, pack stored)."""
    page = await context.new_page()
    await page.goto(interview_url(server, application))
    await page.wait_for_selector("html[data-ready='true']")
    return page


async def started_page(context: BrowserContext, server: ServerProcess, application: dict[str, Any]) -> Page:
    """Open the candidate page, press Start (or Continue) and wait until the interview is online."""
    page = await open_interview(context, server, application)
    await page.click("#start")
    await page.wait_for_selector("#connection[data-state='online']")
    return page


async def wait_offline_ready(page: Page) -> None:
    """Wait until the page could be reloaded without the server (service worker + offline pack)."""
    await page.wait_for_selector("html[data-offline-ready='true']", state="attached")


async def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG under test-output/ (kept by CI as an artifact)."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUTPUT_DIR / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def answer_current_question(page: Page, text: str) -> str:
    """Type `text` into the answer box and submit it; returns the question id that was answered."""
    question_id = await page.evaluate("() => window.interview.client.currentQuestion?.id ?? null")
    assert question_id, "no question on screen"
    await page.fill("#answer", text)
    await page.click("#submit-answer")
    return str(question_id)


async def wait_question_changes(page: Page, previous_id: str) -> None:
    """Wait until the page shows another question (or the end): the step is saved on this device by then."""
    await page.wait_for_function(
        "(previous) => { const client = window.interview.client; "
        "return client.phase !== 'online' && client.phase !== 'offline' || client.flow.finished "
        "|| document.documentElement.dataset.questionId !== previous; }",
        arg=previous_id,
    )


async def outbox(page: Page) -> list[dict[str, Any]]:
    """What the page still holds in IndexedDB, waiting for the server's acknowledgement."""
    items = await page.evaluate("() => window.interview.client.store.listOutbox(window.interview.client.applicationId)")
    return list(items)


async def wait_outbox_empty(page: Page, within: float = 30.0) -> None:
    """Wait until the server has acknowledged everything the page recorded."""
    async with asyncio.timeout(within):
        while await outbox(page):  # noqa: ASYNC110 (polled: the page has no event for it)
            await asyncio.sleep(0.1)


async def record_saved_ids(page: Page) -> None:
    """Collect the ids of every item the page saves, every server seq it delivers, every answer recorded."""
    await page.evaluate(
        """() => {
            window.__saved = []; window.__delivered = []; window.__recorded = [];
            const client = window.interview.client;
            client.addEventListener('saved', (e) => window.__saved.push(e.detail));
            client.addEventListener('delivered', (e) => window.__delivered.push(e.detail.seq));
            client.addEventListener('answer', (e) => window.__recorded.push(e.detail.questionId));
        }"""
    )


class Store:
    """Direct reads of the test database, to check what the server really stored."""

    def __init__(self, server: ServerProcess) -> None:
        self._client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(server.mongodb_url, tz_aware=True)
        self._db = self._client[server.env["MONGODB_DB"]]

    async def close(self) -> None:
        await self._client.close()

    async def sessions(self, application_id: str) -> list[dict[str, Any]]:
        return await self._db.interviewSessions.find({"applicationId": application_id}).to_list()

    async def events(self, session_id: str, source: str | None = None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"sessionId": session_id}
        if source:
            query["source"] = source
        return await self._db.sessionEvents.find(query).sort("seq", 1).to_list()

    async def application(self, application_id: str) -> dict[str, Any] | None:
        return await self._db.applications.find_one({"_id": application_id})

    async def abandon(self, session_id: str) -> None:
        """End a session as the abandon sweeper would (test set-up, in the real store)."""
        await self._db.interviewSessions.update_one({"sessionId": session_id}, {"$set": {"status": "abandoned"}})

    async def wait_for_status(self, session_id: str, status: str, within: float = 30.0) -> dict[str, Any]:
        """Poll until the session reaches `status` (the browser finishes asynchronously)."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            session = await self._db.interviewSessions.find_one({"sessionId": session_id})
            if session is not None and session["status"] == status:
                return session
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"session {session_id} is {session and session['status']}, not {status}")
            await asyncio.sleep(0.2)


def restarted(server: ServerProcess) -> ServerProcess:
    """A new server process on the same port and database (start it with `.start()`)."""
    return ServerProcess(server.mongodb_url, server.data_dir, dict(server.env), port=server.port)
