"""Speech for tests and benchmarks: espeak-ng sentences as 16 kHz mono PCM, decoded like live audio."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import av

from realtime.media.audio import PcmConverter


def wav_to_pcm16k(path: Path) -> bytes:
    """Decode an audio file and resample it with the server's own converter (PyAV, as for WebRTC frames)."""
    converter = PcmConverter()
    chunks: list[bytes] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            chunks.append(converter.convert(frame))
    return b"".join(chunks)


def espeak_pcm16k(text: str, folder: Path, name: str = "speech") -> bytes:
    """`text` spoken by espeak-ng, as 16 kHz mono 16-bit PCM."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is not installed (scripts/test installs it)")
    path = folder / f"{name}.wav"
    subprocess.run([espeak, "-w", str(path), text], check=True, capture_output=True)
    return wav_to_pcm16k(path)
