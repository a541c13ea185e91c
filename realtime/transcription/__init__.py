"""Server-side streaming speech-to-text for live interviews.

Feed 16 kHz mono PCM into a :class:`StreamingTranscription` per session; it
segments speech with WebRTC VAD and reports speaking changes, partial and final
transcripts through async callbacks. Transcription runs on a bounded thread
pool shared by all sessions (:func:`create_transcriber`).
"""

from .audio import SAMPLE_RATE, level_from_dbfs, pcm16_dbfs
from .errors import ModelLoadError, PoolClosedError, TranscriptionError
from .pool import PoolStats, WorkerPool
from .segmenter import (
    EndReason,
    SegmenterConfig,
    SegmenterEvent,
    SpeechStarted,
    SpeechStopped,
    Utterance,
    VoiceSegmenter,
)
from .stream import OnSpeaking, OnText, StreamingTranscription, StreamStats
from .transcriber import TRANSCRIBER_KINDS, NullTranscriber, Transcriber, create_transcriber
from .whisper import WhisperOptions, WhisperTranscriber, default_model_path

__all__ = [
    "SAMPLE_RATE",
    "TRANSCRIBER_KINDS",
    "EndReason",
    "ModelLoadError",
    "NullTranscriber",
    "OnSpeaking",
    "OnText",
    "PoolClosedError",
    "PoolStats",
    "SegmenterConfig",
    "SegmenterEvent",
    "SpeechStarted",
    "SpeechStopped",
    "StreamStats",
    "StreamingTranscription",
    "Transcriber",
    "TranscriptionError",
    "Utterance",
    "VoiceSegmenter",
    "WhisperOptions",
    "WhisperTranscriber",
    "WorkerPool",
    "create_transcriber",
    "default_model_path",
    "level_from_dbfs",
    "pcm16_dbfs",
]
