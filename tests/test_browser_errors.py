"""The candidate page in Chromium: unknown applications, finished interviews and the token paste field."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from playwright.async_api import Browser

from tests.browser import Store, browser_context, interview_url, open_interview, screenshot
from tests.support import (
    ServerProcess,
    auth,
    create_application,
    running_server,
    start_session,
    unique,
    user_token,
)


async def test_unknown_application_shows_not_found_and_creates_nothing(browser: Browser, server: ServerProcess) -> None:
    missing = {"id": unique("app_missing"), "candidateId": unique("cand")}
    store = Store(server)
    try:
        async with browser_context(browser) as context:
            page = await open_interview(context, server, missing)
            await page.click("#start")
            await page.wait_for_selector("#message:has-text('Application not found')")
            assert not await page.is_visible("#interview")
            assert await page.evaluate("() => window.interview.client.phase") == "idle"
            await screenshot(page, "errors-not-found")
        assert await store.sessions(missing["id"]) == []
    finally:
        await store.close()


async def test_someone_elses_application_is_not_found_either(
    browser: Browser, server: ServerProcess, client: httpx.AsyncClient
) -> None:
    application = await create_application(client)
    stranger = user_token(unique("cand"))
    store = Store(server)
    try:
        async with browser_context(browser) as context:
            page = await context.new_page()
            await page.goto(interview_url(server, application, token=stranger))
            await page.wait_for_selector("html[data-ready='true']")
            await page.click("#start")
            await page.wait_for_selector("#message:has-text('Application not found')")
        assert await store.sessions(application["id"]) == []
    finally:
        await store.close()


async def test_submitted_interview_shows_already_submitted(
    browser: Browser, server: ServerProcess, client: httpx.AsyncClient
) -> None:
    application = await create_application(client, question_count=1)
    started = (await start_session(client, application)).json()
    completed = await client.post(
        f"/api/interview/sessions/{started['sessionId']}/complete", headers=auth(started["token"])
    )
    assert completed.status_code == 200, completed.text
    store = Store(server)
    try:
        async with browser_context(browser) as context:
            page = await open_interview(context, server, application)
            await page.click("#start")
            await page.wait_for_selector("#message:has-text('Interview already submitted')")
            assert not await page.is_visible("#interview")
            await screenshot(page, "errors-already-submitted")
        sessions = await store.sessions(application["id"])
        assert [(s["sessionId"], s["status"]) for s in sessions] == [(started["sessionId"], "completed")]
    finally:
        await store.close()


async def test_token_leaves_the_address_bar_and_can_be_pasted(
    browser: Browser, server: ServerProcess, client: httpx.AsyncClient
) -> None:
    application = await create_application(client)
    async with browser_context(browser) as context:
        token = user_token(application["candidateId"])
        linked = await context.new_page()
        await linked.goto(interview_url(server, application, token=token))
        await linked.wait_for_selector("html[data-ready='true']")
        assert "#" not in linked.url and "token" not in linked.url
        assert await linked.evaluate("() => sessionStorage.getItem('interview.userToken')") == token

        bare = await context.new_page()
        await bare.goto(f"{server.base_url}/interview/{application['id']}")
        await bare.wait_for_selector("html[data-ready='true']")
        assert await bare.is_visible("#token-input")
        assert not await bare.is_visible("#start")
        await bare.get_by_label("Access token").fill(user_token(application["candidateId"]))
        await bare.keyboard.press("Enter")
        await bare.wait_for_selector("#start", state="visible")
        await bare.wait_for_selector("#job-title:has-text('Backend Engineer')")


async def test_rate_limited_start_waits_and_goes_on(browser: Browser, mongodb_url: str, tmp_path: Path) -> None:
    env = {"mongodb_db": f"test_{uuid.uuid4().hex[:12]}", "start_session_rate_limit": "1"}
    with running_server(mongodb_url, tmp_path, start_session_rate_window_seconds="4", **env) as server:
        store = Store(server)
        try:
            async with (
                httpx.AsyncClient(base_url=server.base_url, timeout=15) as http,
                browser_context(browser) as context,
            ):
                application = await create_application(http, question_count=2)
                page = await open_interview(context, server, application)
                await page.evaluate(
                    "() => { window.__connection = []; window.interview.client.addEventListener("
                    "'connection', (e) => window.__connection.push(e.detail.state)); }"
                )
                first = await start_session(http, application)  # the one start this window allows
                assert first.status_code == 201
                await page.click("#start")
                await page.wait_for_selector("#connection[data-state='online']")
                assert "waiting" in await page.evaluate("() => window.__connection")
                assert await page.evaluate("() => window.interview.client.sessionId") == first.json()["sessionId"]
            assert len(await store.sessions(application["id"])) == 1
        finally:
            await store.close()
