"""client/interview-flow.js, the page's interview state machine, unit-tested in real Chromium.

The module is pure (no I/O, no clock), so each test imports it into a page of the test
server and drives it with page.evaluate, passing the times itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from tests.browser import browser_context
from tests.support import ServerProcess

SETUP = """
async () => {
  const { InterviewFlow, TRANSITIONS, WARNING_SECONDS } = await import('/client/interview-flow.js');
  const question = (number, total = 3, limit = 60) => ({
    number, total, id: `q${number}`, text: `Question ${number}?`, category: 'technical',
    difficulty: 'mid', timeLimitSeconds: limit,
  });
  const pack = (total = 3, limit = 60) => Array.from({ length: total }, (_, i) => question(i + 1, total, limit));
  const running = (questions = pack()) => {
    const flow = new InterviewFlow();
    flow.go('starting');
    flow.useQuestions(questions, 'pack', 0);
    flow.go('online');
    return flow;
  };
  window.t = { InterviewFlow, TRANSITIONS, WARNING_SECONDS, question, pack, running };
}
"""


@pytest.fixture
async def page(browser: Browser, server: ServerProcess) -> AsyncIterator[Page]:
    async with browser_context(browser) as context:
        tab = await context.new_page()
        await tab.goto(f"{server.base_url}/healthz")  # any page of the server's origin
        await tab.evaluate(SETUP)
        yield tab


async def run(page: Page, body: str) -> Any:
    """Evaluate `body` (statements ending in a return) with the helpers of SETUP in scope."""
    return await page.evaluate(
        f"() => {{ const {{ InterviewFlow, TRANSITIONS, question, pack, running }} = window.t; {body} }}"
    )


async def test_every_transition_keeps_the_question_its_draft_and_the_answers(page: Page) -> None:
    seen = await run(
        page,
        """
        const flow = running();
        flow.answer(1000, { text: 'first answer' });
        flow.setDraft('half of the second', 2000);
        const keep = () => JSON.stringify([flow.currentId, flow.draftOf('q2').text, flow.given, flow.deadline]);
        const before = keep();
        const path = ['reconnecting', 'online', 'reconnecting', 'offline', 'syncing', 'offline', 'syncing', 'online'];
        const same = path.map((state) => { flow.go(state); return keep() === before; });
        return { same, state: flow.state, current: flow.currentId, draft: flow.draftOf('q2').text,
                 given: flow.given };
        """,
    )
    assert seen["same"] == [True] * 8
    assert seen["state"] == "online" and seen["current"] == "q2" and seen["draft"] == "half of the second"
    assert seen["given"] == {"q1": {"kind": "answer", "timedOut": False}}


async def test_only_the_moves_of_the_table_are_allowed(page: Page) -> None:
    seen = await run(
        page,
        """
        const refused = [];
        for (const [from, targets] of Object.entries(TRANSITIONS)) {
          for (const to of Object.keys(TRANSITIONS)) {
            const flow = new InterviewFlow({ state: from });
            try { flow.go(to); } catch { refused.push(`${from}->${to}`); continue; }
            if (from !== to && !targets.includes(to)) return 'allowed ' + from + '->' + to;
          }
        }
        return refused;
        """,
    )
    assert "ended->online" in seen and "offline->online" in seen and "idle->online" in seen
    assert "online->reconnecting" not in seen and "syncing->online" not in seen


async def test_an_answer_moves_on_and_an_answered_question_is_never_asked_again(page: Page) -> None:
    seen = await run(
        page,
        """
        const flow = running();
        const first = flow.answer(1000, { text: 'one' });
        const skipped = flow.skip(2000);
        // A reload: the flow comes back from its snapshot, then the pack is offered again.
        const restored = new InterviewFlow(JSON.parse(JSON.stringify(flow.snapshot())));
        restored.go('reconnecting'); restored.go('offline');
        restored.useQuestions(pack(), 'pack', 3000);
        const current = restored.currentId;
        const last = restored.answer(4000, { text: 'three' });
        return { first, skipped, current, last, finished: restored.finished, next: restored.current };
        """,
    )
    assert seen["first"]["type"] == "answer.submit"
    assert seen["first"]["payload"]["questionId"] == "q1" and seen["first"]["payload"]["text"] == "one"
    assert seen["skipped"] == {"type": "question.next", "payload": {"questionId": "q2"}}
    assert seen["current"] == "q3"
    assert seen["last"]["payload"]["questionId"] == "q3"
    assert seen["finished"] is True and seen["next"] is None


async def test_at_the_time_limit_the_draft_is_the_timed_out_answer(page: Page) -> None:
    seen = await run(
        page,
        """
        const flow = running(pack(2, 20));
        flow.setDraft('what I had so far', 5000);
        const early = flow.timeUp(19999);
        const due = flow.timeUp(20000);
        const empty = flow.timeUp(40000);
        return { early, due, empty, finished: flow.finished };
        """,
    )
    assert seen["early"] is None
    assert seen["due"]["type"] == "answer.submit"
    payload = seen["due"]["payload"]
    assert payload["questionId"] == "q1" and payload["text"] == "what I had so far" and payload["timedOut"] is True
    assert payload["startedAt"] == "1970-01-01T00:00:05.000Z"
    # Nothing drafted on the last one: it is passed, and the server told so.
    assert seen["empty"] == {"type": "question.next", "payload": {"questionId": "q2", "timedOut": True}}
    assert seen["finished"] is True


async def test_spoken_lines_are_a_draft_too(page: Page) -> None:
    seen = await run(
        page,
        """
        const flow = running(pack(2, 20));
        flow.addSpoken('q1', 'I would profile first');
        const spoken = flow.timeUp(20000);
        flow.heardSpeech();  // words on their way to the server, no line yet
        const heard = flow.timeUp(40000);
        return { spoken, heard };
        """,
    )
    assert seen["spoken"]["type"] == "answer.submit" and seen["spoken"]["payload"]["timedOut"] is True
    assert seen["heard"]["type"] == "answer.submit" and seen["heard"]["payload"]["questionId"] == "q2"


async def test_warnings_come_at_30_and_10_seconds_once_each(page: Page) -> None:
    seen = await run(
        page,
        """
        const flow = running(pack(2, 60));
        const at = (t) => flow.dueWarning(t);
        const long = [at(20000), flow.nextWarningAt(), at(30000), at(31000), flow.nextWarningAt()];
        long.push(at(50000), at(55000));
        flow.answer(60000, { text: 'x' });
        const short = new InterviewFlow(); short.go('starting');
        short.useQuestions(pack(1, 12), 'pack', 0);  // starts under 30 s: only the 10 s warning
        const shortWarnings = [short.dueWarning(1000), short.nextWarningAt(), short.dueWarning(2000)];
        return { long, shortWarnings };
        """,
    )
    assert seen["long"] == [None, 30000, 30, None, 50000, 10, None]
    assert seen["shortWarnings"] == [None, 2000, 10]


async def test_the_server_moving_past_a_question_keeps_its_draft_as_its_answer(page: Page) -> None:
    seen = await run(
        page,
        """
        const flow = running();
        flow.setDraft('draft of one', 1000);
        // The server timed q1 out while the page was away, and asks q2 with 42 s left.
        const actions = flow.serverAsks(question(2), 50000, 42);
        const behind = flow.serverAsks(question(1), 51000);   // a replay of an older question
        flow.answer(52000, { text: 'two' });
        const ahead = flow.serverAsks(question(2), 53000, 10); // our answer to q2 is on its way
        return { actions, behind, ahead, current: flow.currentId, deadline: flow.deadline };
        """,
    )
    [action] = seen["actions"]
    assert action["type"] == "answer.submit"
    assert action["payload"]["questionId"] == "q1" and action["payload"]["text"] == "draft of one"
    assert action["payload"]["timedOut"] is True
    assert seen["behind"] == [] and seen["ahead"] == []
    assert seen["current"] == "q3" and seen["deadline"] == 52000 + 60000


async def test_a_server_timeout_submits_the_draft_and_moves_on(page: Page) -> None:
    seen = await run(
        page,
        """
        const flow = running();
        flow.setDraft('almost done', 1000);
        const withDraft = flow.serverTimedOut('q1', 60000);
        const without = flow.serverTimedOut('q2', 120000);
        const again = flow.serverTimedOut('q2', 120001);
        return { withDraft, without, again, current: flow.currentId, given: flow.given };
        """,
    )
    assert [a["payload"]["text"] for a in seen["withDraft"]] == ["almost done"]
    assert seen["without"] == [] and seen["again"] == []
    assert seen["current"] == "q3"
    assert seen["given"]["q2"] == {"kind": "passed", "timedOut": True}


async def test_without_the_pack_the_page_waits_for_the_servers_next_question(page: Page) -> None:
    seen = await run(
        page,
        """
        const flow = new InterviewFlow(); flow.go('starting');
        flow.useQuestions([question(1)], 'session', 0); flow.go('online');
        flow.answer(1000, { text: 'one' });
        const waiting = flow.waiting;
        flow.go('reconnecting'); flow.go('online');
        const stillWaiting = flow.waiting;
        flow.serverAsks(question(2), 2000, 55);
        return { waiting, stillWaiting, current: flow.currentId, deadline: flow.deadline, after: flow.waiting };
        """,
    )
    assert seen == {"waiting": True, "stillWaiting": True, "current": "q2", "deadline": 57000, "after": False}


async def test_ending_submits_the_draft_on_screen(page: Page) -> None:
    seen = await run(
        page,
        """
        const flow = running();
        flow.setDraft('last words', 1000);
        return { actions: flow.end(2000), finished: flow.finished, current: flow.current };
        """,
    )
    [action] = seen["actions"]
    assert action["payload"]["text"] == "last words" and "timedOut" not in action["payload"]
    assert seen["finished"] is True and seen["current"] is None
