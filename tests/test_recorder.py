"""The WAV recorder continues a session's recording across peer connections."""

from __future__ import annotations

import wave
from pathlib import Path

from realtime.media.recorder import WavRecorder


async def _record(path: Path, pcm: bytes) -> None:
    recorder = WavRecorder(path)
    recorder.start()
    recorder.write(pcm)
    await recorder.aclose()
    assert recorder.error is None


async def test_second_recorder_appends_instead_of_overwriting(tmp_path: Path) -> None:
    path = tmp_path / "session.wav"
    first, second = bytes(range(256)) * 40, bytes(reversed(range(256))) * 20
    await _record(path, first)
    await _record(path, second)
    with wave.open(str(path), "rb") as recording:
        assert (recording.getnchannels(), recording.getsampwidth(), recording.getframerate()) == (1, 2, 16000)
        assert recording.getnframes() == (len(first) + len(second)) // 2
        assert recording.readframes(recording.getnframes()) == first + second


async def test_an_unrelated_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "session.wav"
    path.write_bytes(b"not a wav file at all")
    await _record(path, b"\x01\x00" * 100)
    with wave.open(str(path), "rb") as recording:
        assert recording.getnframes() == 100
