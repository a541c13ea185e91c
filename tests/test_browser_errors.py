"""The candidate page in Chromium: what a link leads to (unknown applications, finished interviews,
invalid or expired tokens, an interview in progress), the token paste field, a rate-limited start."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page

from tests.browser import PHONE, Store, browser_context, interview_url, open_interview, screenshot
from tests.support import (
    ServerProcess,
    auth,
    create_application,
    running_server,
    start_session,
    unique,
    user_token,
)


async def wait_link_state(page: Page, kind: str) -> None:
    """The page answered what the link leads to before any setup screen."""
    await page.wait_for_selector(f"html[data-link='{kind}']", state="attached")
    await page.wait_for_selector("#link-state", state="visible")
    assert not await page.is_visible("#setup")
    assert not await page.is_visible("#start")
    assert not await page.is_visible("#interview")


async def test_unknown_application_shows_not_found_and_creates_nothing(browser: Browser, server: ServerProcess) -> None:
    missing = {"id": unique("app_missing"), "candidateId": unique("cand")}
    store = Store(server)
    try:
        async with browser_context(browser) as context:
            page = await open_interview(context, server, missing)
            await wait_link_state(page, "not_found")
            assert await page.inner_text("#link-heading") == "We could not find this interview"
            assert "ask the recruiter for a new link" in await page.inner_text("#link-next")
            assert await page.evaluate("() => window.interview.client.phase") == "idle"
            await screenshot(page, "link-not-found")
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
            await wait_link_state(page, "not_found")
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
        async with browser_context(browser, viewport=PHONE) as context:
            page = await open_interview(context, server, application)
            await wait_link_state(page, "completed")
            assert await page.inner_text("#link-heading") == "Interview already submitted"
            assert "nothing more to do" in await page.inner_text("#link-next")
            assert await page.inner_text("#connection-text") == "Submitted"
            assert await page.locator("button:visible").count() == 0  # no Start, nothing to press
            await screenshot(page, "link-completed-phone")
        sessions = await store.sessions(application["id"])
        assert [(s["sessionId"], s["status"]) for s in sessions] == [(started["sessionId"], "completed")]
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("kind", "token", "heading"),
    [
        ("expired", lambda candidate: user_token(candidate, ttl=-120), "Your access link has expired"),
        ("invalid", lambda candidate: "eyJhbGciOiJIUzI1NiJ9.garbage.token", "This access link is not valid"),
    ],
)
async def test_an_expired_and_a_garbage_token_say_different_things(
    browser: Browser,
    server: ServerProcess,
    client: httpx.AsyncClient,
    kind: str,
    token: Callable[[str], str],
    heading: str,
) -> None:
    application = await create_application(client)
    store = Store(server)
    try:
        async with browser_context(browser, viewport=PHONE) as context:
            page = await context.new_page()
            await page.goto(interview_url(server, application, token=token(application["candidateId"])))
            await page.wait_for_selector("html[data-ready='true']")
            await wait_link_state(page, kind)
            assert await page.inner_text("#link-heading") == heading
            # The next step is right there: a new token can be pasted.
            assert await page.is_visible("#token-input")
            await screenshot(page, f"link-{kind}-phone")
            await page.get_by_label("Access token").fill(user_token(application["candidateId"]))
            await page.keyboard.press("Enter")
            await page.wait_for_selector("#start", state="visible")
            assert not await page.is_visible("#link-state")
        assert await store.sessions(application["id"]) == []
    finally:
        await store.close()


async def test_an_interview_in_progress_offers_to_continue(
    browser: Browser, server: ServerProcess, client: httpx.AsyncClient
) -> None:
    application = await create_application(client, question_count=2)
    started = (await start_session(client, application)).json()
    async with browser_context(browser) as context:
        page = await open_interview(context, server, application)
        await page.wait_for_selector("#start:has-text('Continue interview')")
        assert "question 1 of 2" in await page.inner_text("#message")
        await page.click("#start")
        await page.wait_for_selector("#question-number:has-text('Question 1 of 2')")
        assert await page.evaluate("() => window.interview.client.sessionId") == started["sessionId"]


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
                first = await start_session(http, application)  # the one new session this window allows
                assert first.status_code == 201
                # It ends (abandoned), so the page's Start creates a new session: that one is limited.
                await store.abandon(first.json()["sessionId"])
                page = await open_interview(context, server, application)
                await page.evaluate(
                    "() => { window.__connection = []; window.interview.client.addEventListener("
                    "'connection', (e) => window.__connection.push(e.detail.state)); }"
                )
                await page.click("#start")
                await page.wait_for_selector("#connection[data-state='online']")
                assert "waiting" in await page.evaluate("() => window.__connection")
                second = await page.evaluate("() => window.interview.client.sessionId")
                assert second != first.json()["sessionId"]
            sessions = {s["sessionId"]: s["status"] for s in await store.sessions(application["id"])}
            assert sessions == {first.json()["sessionId"]: "abandoned", second: "in_progress"}
        finally:
            await store.close()
