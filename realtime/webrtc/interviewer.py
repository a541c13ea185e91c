"""The interviewer's voice in one session: speaks each question once, waits its turn, stops when interrupted.

Turn-taking: a question is spoken when it is asked and the peer is connected, but
never over the candidate (it waits until they stop speaking). Barge-in: when the
candidate starts speaking during a question, `candidate_speaking(True)` stops the
voice at once (the next 20 ms frame is silence). The page hears about it through
`question.audio` messages; `unavailable` lets it speak the text itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from realtime.messages import QuestionAudioMessage, ServerMessage
from realtime.speech import Speaker, SpeechCache, SpeechUnavailable
from server.sessions import QuestionView

logger = logging.getLogger(__name__)

Send = Callable[[ServerMessage], None]


class Interviewer:
    """Owns a Speaker (the outbound track's source) and the speaking tasks of one session."""

    def __init__(self, cache: SpeechCache | None, send: Send, clock: Callable[[], float], session_id: str) -> None:
        self._cache = cache
        self._send = send
        self._log = logging.LoggerAdapter(logger, {"session_id": session_id})
        self._clock = clock
        self.speaker = Speaker(clock, on_started=self._started, on_finished=self._finished, on_stopped=self._stopped)
        self._stop_reason = "flow"
        self._question: QuestionView | None = None
        self._spoken: set[str] = set()
        self._connected = False
        self._candidate_speaking = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._speaking_task: asyncio.Task[None] | None = None

    @property
    def has_voice(self) -> bool:
        return self._cache is not None

    # ----- what the media session tells it ------------------------------------------

    def question_asked(self, question: QuestionView, upcoming: QuestionView | None) -> None:
        if self._question is not None and self._question.id != question.id and self.speaker.playing:
            self._stop_reason = "moved_on"  # the flow moved on (time limit): the old question is not finished aloud
            self.speaker.stop()
        self._question = question
        self._maybe_speak()
        if upcoming is not None:
            self._prepare(upcoming)

    def peer_connected(self, connected: bool) -> None:
        self._connected = connected
        if connected:
            self._maybe_speak()

    def candidate_speaking(self, speaking: bool) -> None:
        """From the voice detector, synchronously: barge-in and turn-taking."""
        self._candidate_speaking = speaking
        if speaking:
            self._stop_reason = "barge_in"
            self.speaker.stop(at=self._clock())  # the very next outbound frame is silent
        else:
            self._maybe_speak()

    def repeat(self, question_id: str | None) -> None:
        """The candidate asked to hear the current question again."""
        question = self._question
        if question is None or (question_id is not None and question_id != question.id):
            return
        if not self.has_voice:
            self._send(QuestionAudioMessage(question_id=question.id, state="unavailable"))
            return
        self._spoken.discard(question.id)
        self._maybe_speak()

    # ----- speaking -----------------------------------------------------------------

    def _maybe_speak(self) -> None:
        question = self._question
        if question is None or question.id in self._spoken or not self._connected or self._candidate_speaking:
            return
        if self._speaking_task is not None and not self._speaking_task.done():
            return
        if self._cache is None:
            self._spoken.add(question.id)
            self._send(QuestionAudioMessage(question_id=question.id, state="unavailable"))
            return
        self._speaking_task = self._spawn(self._speak(question), f"speak-{question.id}")

    async def _speak(self, question: QuestionView) -> None:
        assert self._cache is not None
        try:
            pcm = await self._cache.get(question.id, question.text)
        except SpeechUnavailable as error:
            self._log.warning("question %s not spoken: %s", question.id, error)
            self._spoken.add(question.id)
            self._send(QuestionAudioMessage(question_id=question.id, state="unavailable"))
            return
        # Still the question, still connected, and the candidate is not talking meanwhile?
        if self._question is None or self._question.id != question.id:
            return
        if self._candidate_speaking or not self._connected:
            self._spawn(self._retry_later(), "speak-later")
            return
        self._spoken.add(question.id)
        self.speaker.play(question.id, pcm)

    async def _retry_later(self) -> None:
        await asyncio.sleep(0)
        self._maybe_speak()

    def _prepare(self, question: QuestionView) -> None:
        """Synthesise the next question while the candidate answers this one, so it plays at once."""
        cache = self._cache
        if cache is None:
            return

        async def prepare() -> None:
            with contextlib.suppress(SpeechUnavailable):
                await cache.get(question.id, question.text)

        self._spawn(prepare(), f"prepare-{question.id}")

    def _started(self, key: str, duration_ms: int) -> None:
        self._send(QuestionAudioMessage(question_id=key, state="playing", duration_ms=duration_ms))

    def _finished(self, key: str, _last_ms: int) -> None:
        self._send(QuestionAudioMessage(question_id=key, state="done"))

    def _stopped(self, key: str, silent_after_ms: int) -> None:
        """Sent from the first silent frame after the stop: the candidate hears the voice end now."""
        self._send(
            QuestionAudioMessage(
                question_id=key, state="stopped", reason=self._stop_reason, silent_after_ms=silent_after_ms
            )
        )

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        self._stop_reason = "closed"
        self.speaker.stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
