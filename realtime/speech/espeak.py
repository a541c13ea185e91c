"""espeak-ng (robotic, tiny, GPL-3.0) as a fallback voice: one short-lived process per text."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

from realtime.speech.audio import to_playback_pcm
from realtime.speech.engine import SpeechUnavailable

WORDS_PER_MINUTE = 160


class EspeakEngine:
    def __init__(self, executable: str | None = None) -> None:
        self._executable = executable or shutil.which("espeak-ng") or "espeak-ng"

    @property
    def voice(self) -> str:
        return "espeak-ng:en"

    async def start(self) -> None:
        return

    async def synthesize(self, text: str) -> bytes:
        argv = [self._executable, "--stdout", "-s", str(WORDS_PER_MINUTE), "--", text]
        try:
            done = await asyncio.to_thread(subprocess.run, argv, capture_output=True, timeout=30, check=True)
        except (OSError, subprocess.SubprocessError) as error:
            raise SpeechUnavailable(f"espeak-ng failed: {type(error).__name__}") from error
        return await asyncio.to_thread(to_playback_pcm, done.stdout)

    async def close(self) -> None:
        return
