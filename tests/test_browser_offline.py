"""Offline mode in Chromium: the server is down when the candidate starts; nothing is lost.

Each test runs its own server (it is stopped and started again on the same port
and database) and checks the database directly once the page has synced.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
from playwright.async_api import Browser, Page

from tests.browser import (
    PHONE,
    Store,
    answer_current_question,
    browser_context,
    open_interview,
    outbox,
    restarted,
    screenshot,
    wait_offline_ready,
    wait_question_changes,
)
from tests.session_support import RECRUITER
from tests.support import ServerProcess, create_application

WEBM_MAGIC = bytes.fromhex("1a45dfa3")  # the EBML header every WebM file starts with


async def make_application(server: ServerProcess, **interview: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        return await create_application(http, **interview)


async def go_offline_at_start(page: Page, server: ServerProcess) -> None:
    """Stop the server, press Start, and wait for the offline banner."""
    await asyncio.to_thread(server.stop)
    await page.click("#start")
    await page.wait_for_selector("#offline-banner", state="visible")
    await page.wait_for_selector("#question-text:not(:empty)")


async def answer_offline(page: Page, text: str) -> str:
    question_id = await answer_current_question(page, text)
    await wait_question_changes(page, question_id)
    return question_id


def assert_exactly_once(events: list[dict[str, Any]], expected_ids: set[str]) -> None:
    ids = Counter(e["clientEventId"] for e in events if e["source"] == "client")
    assert set(ids) == expected_ids
    assert all(count == 1 for count in ids.values())


async def test_offline_start_reload_and_sync_keeps_everything(
    browser: Browser, own_server: list[ServerProcess]
) -> None:
    server = own_server[0]
    application = await make_application(server, question_count=3)
    store = Store(server)
    try:
        async with browser_context(browser) as context:
            page = await open_interview(context, server, application)
            await wait_offline_ready(page)
            await go_offline_at_start(page, server)
            await screenshot(page, "offline-banner")
            assert await page.inner_text("#connection-text") == "Offline"

            # A client-side recogniser's line is saved like an answer.
            await page.evaluate(
                "() => window.interview.client.sendTranscript("
                "{text: 'I would start with the slow query log', final: true, startMs: 0, endMs: 2300})"
            )
            await page.wait_for_selector("#transcript li:has-text('I would start with the slow query log')")
            first = await answer_offline(page, "Offline answer one: profile before optimising.")
            second = await answer_offline(page, "Offline answer two: ask the user what they saw.")
            assert await page.is_visible("text=Answer saved on this device.")

            await page.reload()  # served by the service worker: the server is still down
            await page.wait_for_selector("html[data-ready='true']")
            await page.wait_for_selector("#offline-banner", state="visible")
            assert await page.inner_text("#question-number") == "Question 3 of 3"
            pending = await outbox(page)
            pending_ids = {item["id"] for item in pending}
            answers = [item for item in pending if item["type"] == "answer.submit"]
            assert [a["payload"]["questionId"] for a in answers] == [first, second]
            [transcript] = [item for item in pending if item["type"] == "transcript"]
            assert transcript["payload"]["questionId"] == first
            names = [item["payload"]["name"] for item in pending if item["type"] == "event"]
            assert names == ["interview.session.api_failed", "interview.session.offline_mode"]

            own_server.append(await asyncio.to_thread(restarted(server).start))
            await page.wait_for_selector("html[data-synced='true']", state="attached")
            await page.wait_for_selector("#offline-banner", state="hidden")
            assert await outbox(page) == []

            sessions = await store.sessions(application["id"])
            assert len(sessions) == 1
            session = sessions[0]
            assert session["clientSessionId"] == await page.evaluate(
                "() => window.interview.client.state.clientSessionId"
            )
            events = await store.events(session["sessionId"])
            assert_exactly_once(events, pending_ids)
            texts = [e["payload"].get("text") for e in events if e["type"] == "answer.submit"]
            assert texts == [
                "Offline answer one: profile before optimising.",
                "Offline answer two: ask the user what they saw.",
            ]
            [stored_line] = [e for e in events if e["type"] == "transcript"]
            assert stored_line["payload"] == {
                "text": "I would start with the slow query log",
                "final": True,
                "startMs": 0,
                "endMs": 2300,
                "questionId": first,
            }
            # The local recording (one segment per page load) went up with the events.
            assert session["recording"]["bytes"] > 0
            # The uploaded answers drove the server's question flow: question 3 is current.
            assert session["currentQuestionNumber"] == 3
            assert session["status"] == "in_progress"

            # Back online over the WebSocket, the candidate finishes the interview.
            await page.wait_for_selector("#connection[data-state='online']")
            assert await page.inner_text("#question-number") == "Question 3 of 3"
            await answer_current_question(page, "Online answer three: ship the smallest useful thing.")
            await page.wait_for_selector("#done-text:has-text('Your interview has been submitted')")
            completed = await store.wait_for_status(session["sessionId"], "completed")
            events = await store.events(session["sessionId"])
            assert [e["payload"]["text"] for e in events if e["type"] == "answer.submit"] == [
                "Offline answer one: profile before optimising.",
                "Offline answer two: ask the user what they saw.",
                "Online answer three: ship the smallest useful thing.",
            ]
            assert [e["payload"]["questionId"] for e in events if e["type"] == "answer.recorded"] == [
                q["id"] for q in completed["questions"]
            ]
            client_ids = Counter(e["clientEventId"] for e in events if e["source"] == "client")
            assert set(client_ids.values()) == {1}
            assert pending_ids <= set(client_ids)
    finally:
        await store.close()


async def test_interview_finished_offline_is_completed_after_sync(
    browser: Browser, own_server: list[ServerProcess]
) -> None:
    server = own_server[0]
    application = await make_application(server, question_count=2)
    store = Store(server)
    try:
        async with browser_context(browser, viewport=PHONE) as context:
            page = await open_interview(context, server, application)
            await wait_offline_ready(page)
            await go_offline_at_start(page, server)
            await screenshot(page, "offline-banner-phone")
            await answer_offline(page, "First offline answer.")
            await answer_offline(page, "Second and last offline answer.")
            await page.wait_for_selector("#done-heading:has-text('All done')")
            pending_ids = {item["id"] for item in await outbox(page)}
            assert len(pending_ids) >= 4  # two answers, api_failed, offline_mode (+ answer.start)

            own_server.append(await asyncio.to_thread(restarted(server).start))
            await page.wait_for_selector("#done-text:has-text('Your interview has been submitted')")
            assert await outbox(page) == []
            assert (
                await page.evaluate(
                    "() => window.interview.client.store.getState(window.interview.client.applicationId)"
                )
                is None
            )

            sessions = await store.sessions(application["id"])
            assert [s["status"] for s in sessions] == ["completed"]
            events = await store.events(sessions[0]["sessionId"])
            assert_exactly_once(events, pending_ids)
            assert [e["payload"]["text"] for e in events if e["type"] == "answer.submit"] == [
                "First offline answer.",
                "Second and last offline answer.",
            ]
            assert (await store.application(application["id"]))["status"] == "completed"  # type: ignore[index]
            # The microphone was recorded locally (voice interview) and uploaded as the session's recording.
            recording = sessions[0]["recording"]
            assert recording["contentType"] == "audio/webm" and recording["bytes"] > 0
            assert recording["kind"] == "upload"  # one GridFS file, served by any process
            async with httpx.AsyncClient(base_url=own_server[-1].base_url, timeout=15) as http:
                download = await http.get(
                    f"/api/interview/sessions/{sessions[0]['sessionId']}/recording", headers=RECRUITER
                )
            assert download.status_code == 200, download.text
            audio = download.content
            assert len(audio) == recording["bytes"]
            assert audio.startswith(WEBM_MAGIC)
            assert (
                await page.evaluate(
                    "() => window.interview.client.store.listRecordingChunks(window.interview.client.applicationId)"
                )
                == []
            )
    finally:
        await store.close()


async def test_without_a_cached_pack_the_built_in_questions_are_used(
    browser: Browser, own_server: list[ServerProcess]
) -> None:
    server = own_server[0]
    application = await make_application(server, question_count=2)
    store = Store(server)
    try:
        async with browser_context(browser) as context:
            page = await open_interview(context, server, application)
            await wait_offline_ready(page)
            # As on a first visit whose offline-pack request failed: nothing cached.
            await page.evaluate(
                "() => { localStorage.clear(); "
                "return window.interview.client.store.clear(window.interview.client.applicationId); }"
            )
            await go_offline_at_start(page, server)
            assert await page.is_visible("#offline-detail:has-text('standard set')")
            assert await page.evaluate("() => window.interview.client.currentQuestion.id") == "fallback-1"
            await answer_offline(page, "Fallback answer.")
            await page.click("#end")
            await page.click("#confirm-end")
            await page.wait_for_selector("#done-heading:has-text('All done')")
            pending_ids = {item["id"] for item in await outbox(page)}

            own_server.append(await asyncio.to_thread(restarted(server).start))
            await page.wait_for_selector("#done-text:has-text('Your interview has been submitted')")

        [session] = await store.sessions(application["id"])
        # The fallback ids are not the session's questions, so the flow did not move:
        # the session was completed by the client's explicit complete call.
        assert session["status"] == "completed"
        assert session["currentQuestionNumber"] == 1
        events = await store.events(session["sessionId"])
        assert_exactly_once(events, pending_ids)
        [answer] = [e for e in events if e["type"] == "answer.submit"]
        assert answer["payload"]["questionId"] == "fallback-1"
        assert answer["payload"]["text"] == "Fallback answer."
    finally:
        await store.close()
