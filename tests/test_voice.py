"""The voice interview over a real peer connection: the interviewer speaks, the candidate answers by speaking.

An aiortc peer plays the candidate (a scripted microphone fed with espeak-ng speech)
against a server that speaks with Piper and transcribes with Whisper, as `scripts/run`
configures it. Waits are hang guards on a shared 2-core machine, never timing claims;
the one latency the issue bounds (barge-in) is measured by the server itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import aioice.ice
import httpx
import pytest

from tests.media_client import Caller, pcm48k
from tests.session_support import RECRUITER, new_session
from tests.support import ServerProcess, speech_wav_file, tuned_server
from tests.ws_client import InterviewClient

ANSWER = "I would profile the query first and then add an index on the slow columns."
KEY_WORDS = ("profile", "query", "index")
BARGE_IN_BOUND_MS = 300  # the bound, from the voice detector's event to the first silent frame
WAIT = 180.0  # model loading and transcription on a busy machine: a hang guard only


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@pytest.fixture(scope="module")
def voice_server(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # TRANSCRIBER and VOICE at their defaults (auto): what scripts/run gives a newcomer.
    with tuned_server(
        mongodb_url,
        tmp_path_factory.mktemp("voice"),
        transcriber="auto",
        voice="auto",
        transcribe_workers="1",
        media_host_addresses="127.0.0.1",
    ) as process:
        yield process


@pytest.fixture
async def http(voice_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=voice_server.base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def answer_samples(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return pcm48k(str(speech_wav_file(tmp_path_factory.mktemp("answer"), ANSWER, silence_seconds=0)))


async def wait_ready(http: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        ready = (await http.get("/readyz")).json()
        if ready.get("voice") and ready.get("transcriber") == "whisper":
            return
        await asyncio.sleep(0.5)
    raise AssertionError("the server did not report its voice and transcriber")


async def test_the_defaults_speak_and_transcribe(http: httpx.AsyncClient) -> None:
    await wait_ready(http)
    health = (await http.get("/healthz")).json()
    assert health["voice"] == "piper:en_US-joe-medium" and health["transcriber"] == "whisper"


async def test_a_spoken_answer_with_an_empty_box_is_the_answer(
    http: httpx.AsyncClient, voice_server: ServerProcess, answer_samples
) -> None:  # type: ignore[no-untyped-def]
    started = await new_session(http, question_count=2, mode="voice")
    client = InterviewClient(voice_server.ws_url, started.token)
    welcome = await client.connect()
    assert welcome["media"] == {"transcription": True, "voice": "piper:en_US-joe-medium"}
    caller = await Caller.dial(client)
    try:
        first = started.question
        assert first is not None
        playing = await client.wait_type("question.audio", within=WAIT, questionId=first["id"], state="playing")
        assert playing["durationMs"] > 1000
        done = await client.wait_type("question.audio", within=WAIT, questionId=first["id"], state="done")
        assert done is not None
        heard_at = time.monotonic()
        assert caller.ear.voiced_between(heard_at - playing["durationMs"] / 1000 - 5, heard_at) > 20

        caller.microphone.say(answer_samples)  # the candidate speaks...
        while caller.microphone.saying:
            await client.wait_until(lambda: not caller.microphone.saying, within=WAIT)
        submit = await client.send("answer.submit", questionId=first["id"])  # ...and clicks "I'm done" at once
        recorded = await client.wait_type("answer.recorded", within=WAIT, answerId=submit)
        assert all(word in recorded["text"].lower() for word in KEY_WORDS), recorded
        assert recorded["spokenText"] and recorded["transcriptSeqs"]

        second = await client.wait_type("question", within=WAIT, number=2)
        await client.wait_type("question.audio", within=WAIT, questionId=second["id"], state="playing")
    finally:
        await caller.hang_up()
        await client.close()

    details = (await http.get(started.url("/details"), headers=RECRUITER)).json()
    answer = details["questions"][0]["answers"][0]
    assert answer["recorded"] is True and not answer["text"]
    assert all(word in answer["spokenText"].lower() for word in KEY_WORDS), answer


async def test_speaking_over_the_question_stops_the_interviewer(
    http: httpx.AsyncClient, voice_server: ServerProcess, answer_samples
) -> None:  # type: ignore[no-untyped-def]
    started = await new_session(http, question_count=1, mode="voice")
    assert started.question is not None
    client = InterviewClient(voice_server.ws_url, started.token)
    await client.connect()
    caller = await Caller.dial(client)
    try:
        question_id = started.question["id"]
        await client.wait_type("question.audio", within=WAIT, questionId=question_id, state="playing")
        caller.microphone.say(answer_samples)  # barge in
        stopped = await client.wait_type("question.audio", within=WAIT, questionId=question_id, state="stopped")
        assert stopped["reason"] == "barge_in"
        assert 0 <= stopped["silentAfterMs"] <= BARGE_IN_BOUND_MS, stopped
        await client.wait_type("user.speaking.start", within=WAIT)  # the voice detector's event behind the stop
        assert not client.of_type("question.audio") or all(
            m["state"] != "done" for m in client.of_type("question.audio") if m["questionId"] == question_id
        )
    finally:
        await caller.hang_up()
        await client.close()
