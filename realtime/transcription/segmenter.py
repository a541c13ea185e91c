"""Voice-activity segmentation of 16 kHz mono PCM into utterances (WebRTC VAD).

This is a pure, synchronous state machine: push fixed-size frames in, get
events out. It does no I/O and knows nothing about asyncio or ASR.
"""

from __future__ import annotations

import collections
import enum
from dataclasses import dataclass
from typing import Protocol

from .audio import SAMPLE_RATE

__all__ = [
    "EndReason",
    "SegmenterConfig",
    "SegmenterEvent",
    "SpeechStarted",
    "SpeechStopped",
    "Utterance",
    "VoiceSegmenter",
]


class EndReason(enum.StrEnum):
    """Why an utterance was closed."""

    SILENCE = "silence"
    MAX_LENGTH = "max_length"
    FLUSH = "flush"


@dataclass(frozen=True, slots=True)
class SegmenterConfig:
    """Tuning for :class:`VoiceSegmenter`; all durations are in milliseconds."""

    frame_ms: int = 20
    """VAD frame length: WebRTC VAD accepts 10, 20 or 30 ms."""
    aggressiveness: int = 2
    """WebRTC VAD mode, 0 (keeps most audio) to 3 (most eager to call it non-speech)."""
    onset_ms: int = 120
    """Voiced audio needed within ``onset_window_ms`` to start an utterance.
    WebRTC VAD flags ~80 ms as speech whenever a new noise floor appears."""
    onset_window_ms: int = 200
    hangover_ms: int = 600
    """Continuous non-speech that ends an utterance."""
    preroll_ms: int = 300
    """Audio kept from before the onset so the first syllable is not clipped."""
    tail_ms: int = 200
    """Non-speech kept after the last voiced frame (at most ``hangover_ms``)."""
    max_utterance_ms: int = 20_000
    """An utterance this long is closed (a final is forced) even mid-speech."""

    def __post_init__(self) -> None:
        if self.frame_ms not in (10, 20, 30):
            raise ValueError("frame_ms must be 10, 20 or 30")
        if not 0 <= self.aggressiveness <= 3:
            raise ValueError("aggressiveness must be 0..3")
        if not 0 < self.onset_ms <= self.onset_window_ms:
            raise ValueError("need 0 < onset_ms <= onset_window_ms")
        if self.hangover_ms < self.frame_ms or self.max_utterance_ms < 10 * self.frame_ms:
            raise ValueError("hangover_ms or max_utterance_ms too short")

    @property
    def frame_samples(self) -> int:
        """Samples in one VAD frame."""
        return SAMPLE_RATE * self.frame_ms // 1000

    @property
    def frame_bytes(self) -> int:
        """Bytes in one VAD frame of 16-bit PCM."""
        return 2 * self.frame_samples

    def frames(self, ms: int) -> int:
        """Whole frames covering ``ms`` milliseconds (at least one)."""
        return max(1, -(-ms // self.frame_ms))


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Speech began; ``sample`` is where the utterance (with pre-roll) starts."""

    sample: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    """Speech ended after the hangover (or a flush); ``sample`` is the last voiced sample."""

    sample: int


@dataclass(frozen=True, slots=True)
class Utterance:
    """A closed stretch of speech, ready for a final transcription."""

    start_sample: int
    end_sample: int
    pcm: bytes
    voiced_ms: int
    reason: EndReason

    @property
    def start_ms(self) -> int:
        """Start in ms since the stream's first sample."""
        return self.start_sample * 1000 // SAMPLE_RATE

    @property
    def end_ms(self) -> int:
        """End in ms since the stream's first sample."""
        return self.end_sample * 1000 // SAMPLE_RATE


SegmenterEvent = SpeechStarted | SpeechStopped | Utterance


class VoiceDetector(Protocol):
    """What the segmenter needs from a VAD (``webrtcvad.Vad`` fits)."""

    def is_speech(self, buf: bytes, sample_rate: int) -> bool:
        """Whether one frame of 16-bit mono PCM is speech."""
        ...


class VoiceSegmenter:
    """Turns a stream of VAD frames into speech start/stop events and utterances.

    Speech starts when ``onset_ms`` of the last ``onset_window_ms`` are voiced;
    the utterance then begins ``preroll_ms`` earlier. It ends after
    ``hangover_ms`` of continuous non-speech, or is cut at ``max_utterance_ms``
    (speech then continues in a new utterance without a stop event).
    """

    def __init__(self, config: SegmenterConfig | None = None, vad: VoiceDetector | None = None) -> None:
        self.config = config or SegmenterConfig()
        if vad is None:
            import webrtcvad

            vad = webrtcvad.Vad(self.config.aggressiveness)
        self._vad = vad
        cfg = self.config
        self._onset_frames = cfg.frames(cfg.onset_ms)
        self._hangover_frames = cfg.frames(cfg.hangover_ms)
        self._tail_frames = min(cfg.frames(cfg.tail_ms), self._hangover_frames)
        self._max_frames = cfg.frames(cfg.max_utterance_ms)
        preroll = max(cfg.frames(cfg.preroll_ms), cfg.frames(cfg.onset_window_ms))
        self._recent: collections.deque[tuple[bytes, bool]] = collections.deque(maxlen=preroll)
        self._window: collections.deque[bool] = collections.deque(maxlen=cfg.frames(cfg.onset_window_ms))
        self._frames_seen = 0
        self._in_speech = False
        self._utterance = bytearray()
        self._utt_start_frame = 0
        self._utt_voiced_frames = 0
        self._last_voiced_frame = -1  # absolute index of the last voiced frame
        self._silent_run = 0

    @property
    def in_speech(self) -> bool:
        """Whether an utterance is open."""
        return self._in_speech

    @property
    def samples_seen(self) -> int:
        """Samples pushed so far (the stream clock)."""
        return self._frames_seen * self.config.frame_samples

    @property
    def utterance_start_sample(self) -> int:
        """Start of the open utterance (meaningful only while ``in_speech``)."""
        return self._utt_start_frame * self.config.frame_samples

    @property
    def last_voiced_sample(self) -> int:
        """End of the most recent voiced frame (0 before any speech)."""
        return self._voiced_end_sample()

    @property
    def silence_ms(self) -> int:
        """Length of the current run of non-speech inside an open utterance."""
        return self._silent_run * self.config.frame_ms if self._in_speech else 0

    def utterance_audio(self) -> bytes:
        """A copy of the open utterance's PCM so far (empty when silent)."""
        return bytes(self._utterance) if self._in_speech else b""

    def push(self, frame: bytes) -> list[SegmenterEvent]:
        """Classify one frame of exactly ``config.frame_bytes`` bytes and advance.

        Raises:
            ValueError: if the frame has the wrong size.
        """
        if len(frame) != self.config.frame_bytes:
            raise ValueError(f"frame must be {self.config.frame_bytes} bytes, got {len(frame)}")
        voiced = bool(self._vad.is_speech(frame, SAMPLE_RATE))
        index = self._frames_seen
        self._frames_seen += 1
        events: list[SegmenterEvent] = []
        if not self._in_speech:
            self._recent.append((frame, voiced))
            self._window.append(voiced)
            if voiced and sum(self._window) >= self._onset_frames:
                self._open(index + 1 - len(self._recent))
                for past, past_voiced in self._recent:
                    self._utterance += past
                    self._utt_voiced_frames += past_voiced
                self._last_voiced_frame = index
                self._silent_run = 0
                self._recent.clear()
                self._window.clear()
                events.append(SpeechStarted(self.utterance_start_sample))
            return events

        self._utterance += frame
        if voiced:
            self._utt_voiced_frames += 1
            self._last_voiced_frame = index
            self._silent_run = 0
        else:
            self._silent_run += 1
        if self._silent_run >= self._hangover_frames:
            events.append(self._close(EndReason.SILENCE))
            events.append(SpeechStopped(self._voiced_end_sample()))
            self._in_speech = False
        elif index + 1 - self._utt_start_frame >= self._max_frames:
            events.append(self._close(EndReason.MAX_LENGTH, keep_tail=False))
            self._open(index + 1)
        return events

    def flush(self) -> list[SegmenterEvent]:
        """Close the open utterance now (e.g. the question changed); no-op when silent."""
        if not self._in_speech:
            return []
        events: list[SegmenterEvent] = [
            self._close(EndReason.FLUSH),
            SpeechStopped(self._voiced_end_sample()),
        ]
        self._in_speech = False
        self._recent.clear()
        self._window.clear()
        return events

    def _open(self, start_frame: int) -> None:
        self._in_speech = True
        self._utterance = bytearray()
        self._utt_start_frame = max(0, start_frame)
        self._utt_voiced_frames = 0

    def _voiced_end_sample(self) -> int:
        return (self._last_voiced_frame + 1) * self.config.frame_samples

    def _close(self, reason: EndReason, keep_tail: bool = True) -> Utterance:
        fs = self.config.frame_samples
        if keep_tail and self._last_voiced_frame >= self._utt_start_frame:
            end_frame = min(self._frames_seen, self._last_voiced_frame + 1 + self._tail_frames)
            end_sample = self._voiced_end_sample()
        else:
            end_frame = self._frames_seen
            end_sample = end_frame * fs
        pcm = bytes(self._utterance[: 2 * fs * (end_frame - self._utt_start_frame)])
        utterance = Utterance(
            start_sample=self._utt_start_frame * fs,
            end_sample=end_sample,
            pcm=pcm,
            voiced_ms=self._utt_voiced_frames * self.config.frame_ms,
            reason=reason,
        )
        self._utterance = bytearray()
        return utterance
