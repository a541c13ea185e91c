"""The WebSocket is cut mid-interview (server killed, network dropped): nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
from playwright.async_api import Browser, Page

from tests.browser import (
    Store,
    answer_current_question,
    browser_context,
    open_interview,
    outbox,
    record_saved_ids,
    restarted,
    wait_offline_ready,
    wait_question_changes,
)
from tests.support import ServerProcess, create_application


async def started_interview(page: Page) -> None:
    await record_saved_ids(page)
    await page.click("#start")
    await page.wait_for_selector("#connection[data-state='online']")


async def answer_online(page: Page, text: str) -> str:
    """Answer while the server is there: wait until it recorded the answer (the page moves on before)."""
    await page.wait_for_selector("#submit-answer:enabled")
    question_id = await answer_current_question(page, text)
    await wait_question_changes(page, question_id)
    await page.wait_for_function("(id) => window.__recorded.includes(id)", arg=question_id)
    return question_id


async def check_stored_exactly_once(store: Store, application: dict[str, Any], page_log: dict[str, Any]) -> list[str]:
    """Every saved item stored once, every server seq seen once; returns the answer texts."""
    session = (await store.sessions(application["id"]))[0]
    session = await store.wait_for_status(session["sessionId"], "completed")
    events = await store.events(session["sessionId"])
    client_ids = Counter(e["clientEventId"] for e in events if e["source"] == "client")
    assert set(client_ids) == {item["id"] for item in page_log["saved"]}
    assert set(client_ids.values()) == {1}
    delivered = page_log["delivered"]
    assert delivered == sorted(set(delivered))
    assert delivered == [e["seq"] for e in events if e["source"] == "server"]
    return [e["payload"]["text"] for e in events if e["type"] == "answer.submit"]


async def held_answers(page: Page) -> dict[str, str]:
    """Texts of the answers the page still holds for the server (text -> id)."""
    items = await outbox(page)
    return {item["payload"]["text"]: item["id"] for item in items if item["type"] == "answer.submit"}


async def page_log(page: Page) -> dict[str, Any]:
    return await page.evaluate("() => ({saved: window.__saved, delivered: window.__delivered})")  # type: ignore[no-any-return]


async def test_server_killed_mid_interview(browser: Browser, own_server: list[ServerProcess]) -> None:
    server = own_server[0]
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        application = await create_application(http, question_count=3)
    store = Store(server)
    try:
        async with browser_context(browser) as context:
            page = await open_interview(context, server, application)
            await started_interview(page)
            await answer_online(page, "Before the crash.")

            await asyncio.to_thread(server.kill)
            await page.wait_for_selector("#connection[data-state='reconnecting']")
            await page.wait_for_selector("#submit-answer:enabled")
            await answer_current_question(page, "While the server is down.")
            held = await held_answers(page)
            # The first answer may still wait for an ack the crash swallowed: it is resent, stored once.
            assert "While the server is down." in held
            assert set(held) <= {"Before the crash.", "While the server is down."}

            own_server.append(await asyncio.to_thread(restarted(server).start))
            await page.wait_for_selector("#question-number:has-text('Question 3 of 3')")
            await page.wait_for_selector("#connection[data-state='online']")
            await answer_online(page, "After the restart.")
            await page.wait_for_selector("#done-text:has-text('Your interview has been submitted')")
            log = await page_log(page)
        texts = await check_stored_exactly_once(store, application, log)
        assert texts == ["Before the crash.", "While the server is down.", "After the restart."]
    finally:
        await store.close()


async def test_network_drop_mid_interview(browser: Browser, own_server: list[ServerProcess]) -> None:
    server = own_server[0]
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        application = await create_application(http, question_count=3)
    store = Store(server)
    try:
        async with browser_context(browser) as context:
            page = await open_interview(context, server, application)
            await started_interview(page)
            await answer_online(page, "Before the drop.")

            await context.set_offline(True)
            await page.wait_for_selector("#connection[data-state='offline']")
            await page.wait_for_selector("#submit-answer:enabled")
            await answer_current_question(page, "During the drop.")
            held = await held_answers(page)
            assert "During the drop." in held
            assert set(held) <= {"Before the drop.", "During the drop."}
            session_id = (await store.sessions(application["id"]))[0]["sessionId"]
            stored = [e["payload"].get("text") for e in await store.events(session_id) if e["type"] == "answer.submit"]
            assert stored == ["Before the drop."]

            await context.set_offline(False)
            await page.wait_for_selector("#question-number:has-text('Question 3 of 3')")
            await answer_online(page, "After the drop.")
            await page.wait_for_selector("#done-text:has-text('Your interview has been submitted')")
            log = await page_log(page)
        texts = await check_stored_exactly_once(store, application, log)
        assert texts == ["Before the drop.", "During the drop.", "After the drop."]
    finally:
        await store.close()


async def test_long_outage_mid_interview_carries_on_offline(browser: Browser, own_server: list[ServerProcess]) -> None:
    server = own_server[0]
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        application = await create_application(http, question_count=3)
    store = Store(server)
    try:
        async with browser_context(browser) as context:
            page = await open_interview(context, server, application)
            await started_interview(page)
            await answer_online(page, "Online before the outage.")
            # The library option that decides when a lost server means offline mode (default 30 s).
            await page.evaluate("() => { window.interview.client.offlineAfterMs = 1500; }")

            await asyncio.to_thread(server.kill)
            await page.wait_for_selector("#offline-banner", state="visible")
            assert await page.inner_text("#question-number") == "Question 2 of 3"
            await answer_current_question(page, "Offline during the outage.")
            await page.wait_for_selector("#question-number:has-text('Question 3 of 3')")
            await answer_current_question(page, "Offline, the last one.")
            await page.wait_for_selector("#done-heading:has-text('All done')")

            own_server.append(await asyncio.to_thread(restarted(server).start))
            await page.wait_for_selector("#done-text:has-text('Your interview has been submitted')")
            saved = (await page_log(page))["saved"]

        [session] = await store.sessions(application["id"])
        assert session["status"] == "completed"
        events = await store.events(session["sessionId"])
        client_ids = Counter(e["clientEventId"] for e in events if e["source"] == "client")
        assert set(client_ids) == {item["id"] for item in saved}
        assert set(client_ids.values()) == {1}
        assert [e["payload"]["text"] for e in events if e["type"] == "answer.submit"] == [
            "Online before the outage.",
            "Offline during the outage.",
            "Offline, the last one.",
        ]
        assert [e["payload"]["questionId"] for e in events if e["type"] == "answer.recorded"] == [
            q["id"] for q in session["questions"]
        ]
        offline_events = [e["payload"] for e in events if e["type"] == "event"]
        assert [p["name"] for p in offline_events].count("interview.session.offline_mode") == 1
        [failed] = [p for p in offline_events if p["name"] == "interview.session.api_failed"]
        assert failed["payload"]["during"] == "interview"
    finally:
        await store.close()


async def test_answer_in_the_reconnect_window_then_reload_and_restart(
    browser: Browser, own_server: list[ServerProcess]
) -> None:
    server = own_server[0]
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        application = await create_application(http, question_count=3)
    store = Store(server)
    try:
        async with browser_context(browser) as context:
            page = await open_interview(context, server, application)
            await wait_offline_ready(page)
            await started_interview(page)
            first = await answer_online(page, "One, before the kill.")

            await asyncio.to_thread(server.kill)
            await page.wait_for_selector("#connection[data-state='reconnecting']")
            # Within the reconnect window: the answer is saved here and the page moves on at once.
            second = await answer_current_question(page, "Two, in the reconnect window.")
            await page.wait_for_selector("#question-number:has-text('Question 3 of 3')")
            assert await page.is_enabled("#skip") and await page.is_enabled("#submit-answer")
            assert await page.inner_text("#save-status") == (
                "Answer saved on this device. It will be sent to the server when the connection is back."
            )
            assert await page.input_value("#answer") == ""
            third = str(await page.evaluate("() => window.interview.client.currentQuestion.id"))
            assert len({first, second, third}) == 3
            await page.fill("#answer", "Three, drafted before the reload")
            await page.wait_for_function(
                "() => window.interview.client.flow.draftOf(window.interview.client.flow.currentId).text !== ''"
            )
            await page.evaluate("() => window.interview.client.saveFlow()")

            # A reload with the server still down (the service worker serves the page)...
            await page.reload()
            await page.wait_for_selector("html[data-ready='true']")
            await page.wait_for_selector("#question-number:has-text('Question 3 of 3')")
            assert await page.input_value("#answer") == "Three, drafted before the reload"
            # ...then the outage outlasts the window: offline mode carries on from the same question.
            await page.evaluate("() => { window.interview.client.offlineAfterMs = 1500; }")
            await page.wait_for_selector("#offline-banner", state="visible")
            assert await page.inner_text("#question-number") == "Question 3 of 3"
            assert await page.input_value("#answer") == "Three, drafted before the reload"
            held = await held_answers(page)
            assert "Two, in the reconnect window." in held

            own_server.append(await asyncio.to_thread(restarted(server).start))
            await page.wait_for_selector("#connection[data-state='online']")
            assert await page.inner_text("#question-number") == "Question 3 of 3"
            await page.fill("#answer", "Three, after the restart.")
            await page.click("#submit-answer")
            await page.wait_for_selector("#done-text:has-text('Your interview has been submitted')")

        [session] = await store.sessions(application["id"])
        session = await store.wait_for_status(session["sessionId"], "completed")
        events = await store.events(session["sessionId"])
        assert [q["id"] for q in session["questions"]] == [first, second, third]
        submits = [e for e in events if e["type"] == "answer.submit"]
        assert [(e["payload"]["questionId"], e["payload"]["text"]) for e in submits] == [
            (first, "One, before the kill."),
            (second, "Two, in the reconnect window."),
            (third, "Three, after the restart."),
        ]
        recorded = [e["payload"] for e in events if e["type"] == "answer.recorded"]
        assert [(p["questionId"], p["answerId"]) for p in recorded] == [
            (e["payload"]["questionId"], e["clientEventId"]) for e in submits
        ]
        assert not [e for e in events if e.get("notApplied")]
        client_ids = Counter(e["clientEventId"] for e in events if e["source"] == "client")
        assert set(client_ids.values()) == {1}
    finally:
        await store.close()
