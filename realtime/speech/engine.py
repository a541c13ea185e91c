"""Text-to-speech engines: what the interviewer's voice needs from one, and the errors it raises."""

from __future__ import annotations

from typing import Protocol


class SpeechUnavailable(Exception):
    """The engine could not speak this text now (not started, crashed, restarting); the interview goes on in text."""


class SpeechEngine(Protocol):
    """Turns text into 48 kHz mono s16 PCM, off the event loop; a separate process does the synthesis."""

    @property
    def voice(self) -> str:
        """A stable name of the voice (part of the cache key), e.g. `piper:en_US-joe-medium`."""
        ...

    async def start(self) -> None:
        """Start the engine (idempotent); failures are logged, `synthesize` then raises SpeechUnavailable."""
        ...

    async def synthesize(self, text: str) -> bytes:
        """The spoken text as 48 kHz mono s16 PCM; raises SpeechUnavailable."""
        ...

    async def close(self) -> None:
        """Stop the engine and whatever process it runs."""
        ...
