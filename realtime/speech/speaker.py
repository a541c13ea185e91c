"""What the interviewer is saying right now: one utterance at a time, 20 ms frames, stoppable at once.

Pure and synchronous: the outbound track pulls `next_frame()` every 20 ms on the
event loop; `stop()` (barge-in) makes the very next frame silent, and
`on_stopped(key, ms)` reports, from that silent frame, how long after the stop
the track went quiet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from realtime.speech.audio import FRAME_BYTES, duration_ms


@dataclass
class SpeakerStats:
    utterances: int = 0
    stopped: int = 0
    last_stop_to_silence_ms: float | None = None


Callback = Callable[[str, int], None]


def _noop(key: str, value: int) -> None:
    return


class Speaker:
    """Plays one utterance (keyed, e.g. by question id); silence otherwise."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        on_started: Callback = _noop,
        on_finished: Callback = _noop,
        on_stopped: Callback = _noop,
    ) -> None:
        self._clock = clock
        self._on_started = on_started
        self._on_finished = on_finished
        self._on_stopped = on_stopped
        self._key: str | None = None
        self._pcm = b""
        self._position = 0
        self._started = False
        self._stopped: tuple[str, float] | None = None  # (key, when) of a stop not yet heard as silence
        self.stats = SpeakerStats()

    @property
    def playing(self) -> str | None:
        """The key of the utterance being played, if any."""
        return self._key

    def play(self, key: str, pcm: bytes) -> None:
        """Start `pcm` at the next frame (whatever was playing is dropped)."""
        self._key, self._pcm, self._position, self._started = key, pcm, 0, False
        self.stats.utterances += 1

    def stop(self, at: float | None = None) -> str | None:
        """Silence from the next frame on; returns the key that was playing, if any.

        `at` is when the reason to stop happened (e.g. the voice detector's event), for the report.
        """
        key, self._key = self._key, None
        if key is not None:
            self._pcm = b""
            self._stopped = (key, self._clock() if at is None else at)
            self.stats.stopped += 1
        return key

    def next_frame(self) -> bytes | None:
        """The next 20 ms of the utterance, or None for silence."""
        if self._key is None:
            if self._stopped is not None:
                key, at = self._stopped
                self._stopped = None
                elapsed_ms = (self._clock() - at) * 1000
                self.stats.last_stop_to_silence_ms = elapsed_ms
                self._on_stopped(key, round(elapsed_ms))
            return None
        key = self._key
        if not self._started:
            self._started = True
            self._on_started(key, duration_ms(self._pcm))
        frame = self._pcm[self._position : self._position + FRAME_BYTES]
        self._position += FRAME_BYTES
        if self._position >= len(self._pcm):
            self._key, self._pcm = None, b""
            self._on_finished(key, duration_ms(frame))
        if len(frame) < FRAME_BYTES:
            frame += bytes(FRAME_BYTES - len(frame))
        return frame
