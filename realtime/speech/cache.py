"""Synthesised questions kept per (question, voice): in memory, on disk across restarts, computed once."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
from collections import OrderedDict
from pathlib import Path

from realtime.speech.engine import SpeechEngine

logger = logging.getLogger(__name__)

MEMORY_ITEMS = 64  # ~0.5 MB of 48 kHz PCM per question


class SpeechCache:
    """`get` returns the PCM for (key, text) in the engine's voice; concurrent callers share one synthesis."""

    def __init__(self, engine: SpeechEngine, directory: Path | None) -> None:
        self.engine = engine
        self._directory = directory
        self._memory: OrderedDict[str, bytes] = OrderedDict()
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self.synthesised = 0  # engine calls made, for tests and benchmarks

    def _name(self, key: str, text: str) -> str:
        digest = hashlib.sha256(f"{self.engine.voice}\0{key}\0{text}".encode()).hexdigest()
        return digest[:40]

    async def get(self, key: str, text: str) -> bytes:
        name = self._name(key, text)
        cached = self._memory.get(name)
        if cached is not None:
            self._memory.move_to_end(name)
            return cached
        pending = self._pending.get(name)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[name] = future
        try:
            pcm = await self._load_or_synthesise(name, text)
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: callers that waited get it, nobody else must
            raise
        finally:
            del self._pending[name]
        future.set_result(pcm)
        self._remember(name, pcm)
        return pcm

    async def _load_or_synthesise(self, name: str, text: str) -> bytes:
        path = self._directory / f"{name}.pcm" if self._directory is not None else None
        if path is not None:
            stored = await asyncio.to_thread(_read, path)
            if stored is not None:
                return stored
        pcm = await self.engine.synthesize(text)
        self.synthesised += 1
        if path is not None:
            try:
                await asyncio.to_thread(_write_atomically, path, pcm)
            except OSError as error:
                logger.warning("speech cache not written: %s", error)
        return pcm

    def _remember(self, name: str, pcm: bytes) -> None:
        self._memory[name] = pcm
        while len(self._memory) > MEMORY_ITEMS:
            self._memory.popitem(last=False)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
