"""One Whisper decode of a short utterance, straight through CTranslate2 (blocking; runs in a pool thread).

faster-whisper's `transcribe` pads every input to Whisper's 30 s window, so the
encoder costs the same (~0.5 s on one core for tiny.en) whatever the utterance
length. CTranslate2's encoder takes shorter inputs: feeding the utterance plus a
second of padding makes a final several times cheaper and, measured on synthetic
answers cut by the voice detector, slightly more accurate (docs/benchmarks.md). Prompting with the
question being asked was measured too and left out: it helped some answers and cost
others their key words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .audio import SAMPLE_RATE, pcm16_to_float32

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

FRAMES_PER_SECOND = 100  # Whisper's mel frames
MAX_FRAMES = 3000  # the model's 30 s window
PADDING_FRAMES = 100  # after the utterance (whose own tail of silence the segmenter keeps): measured best
MAX_NEW_TOKENS = 220
# Speech carries at most ~4 tokens a second; a decode far longer than that is a hallucination loop.
TOKENS_PER_SECOND = 8
MIN_NEW_TOKENS = 12


def max_new_tokens(samples: int) -> int:
    return min(MAX_NEW_TOKENS, MIN_NEW_TOKENS + TOKENS_PER_SECOND * samples // SAMPLE_RATE)


def without_loops(text: str) -> str:
    """Cut a phrase that repeats three or more times in a row (Whisper's failure mode on short audio)."""
    words = text.split()
    for size in range(1, 9):
        for start in range(len(words) - 3 * size + 1):
            phrase = words[start : start + size]
            if (
                words[start + size : start + 2 * size] == phrase
                and words[start + 2 * size : start + 3 * size] == phrase
            ):
                return " ".join(words[: start + size])
    return text


def encoder_frames(samples: int) -> int:
    """The window the encoder runs on for an utterance of `samples` 16 kHz samples."""
    frames = samples * FRAMES_PER_SECOND // SAMPLE_RATE
    return min(MAX_FRAMES, frames + PADDING_FRAMES)


class Decoder:
    """Decodes with one loaded model; safe to call from several threads (CTranslate2 is)."""

    def __init__(self, model: WhisperModel, language: str, beam_size: int) -> None:
        from faster_whisper.tokenizer import Tokenizer

        self._model = model
        self._beam_size = beam_size
        self._tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
        )
        self._prefix = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]

    def decode(self, pcm16k: bytes, *, greedy: bool = False) -> str:
        """The text of one utterance; `greedy` (beam 1) for partials, which are redone anyway."""
        import ctranslate2

        audio = pcm16_to_float32(pcm16k)
        if audio.size == 0:
            return ""
        frames = encoder_frames(audio.size)
        features: Any = self._model.feature_extractor(audio)[:, :frames]
        if features.shape[1] < frames:
            features = np.pad(features, ((0, 0), (0, frames - features.shape[1])))
        encoded = self._model.model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None], dtype=np.float32)), to_cpu=False
        )
        result = self._model.model.generate(
            encoded, [self._prefix], beam_size=1 if greedy else self._beam_size, max_length=max_new_tokens(audio.size)
        )
        end = self._tokenizer.eot
        tokens = [token for token in result[0].sequences_ids[0] if token < end]
        return without_loops(str(self._tokenizer.decode(tokens)).strip())
