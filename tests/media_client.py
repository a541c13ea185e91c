"""A browser-like aiortc peer for tests: a microphone the test makes speak, and an ear on the server's voice."""

from __future__ import annotations

import asyncio
import fractions
import time
from dataclasses import dataclass, field

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from tests.ws_client import InterviewClient

RATE = 48_000
FRAME = 960  # 20 ms
SILENT_RMS = 60.0  # Opus-decoded silence stays far below this; speech is in the thousands


def pcm48k(path: str) -> np.ndarray:
    """An audio file as 48 kHz mono int16 samples."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    chunks = []
    with av.open(path) as container:
        for frame in container.decode(audio=0):
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
    return np.concatenate(chunks).astype(np.int16)


class ScriptedMicrophone(MediaStreamTrack):
    """Silence until `say()` queues samples; paced like a real capture device."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue = np.zeros(0, dtype=np.int16)
        self._start: float | None = None
        self._pts = 0

    def say(self, samples: np.ndarray) -> None:
        self._queue = np.concatenate([self._queue, samples])

    @property
    def saying(self) -> bool:
        return self._queue.size > 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += FRAME
            await asyncio.sleep(max(0.0, self._start + self._pts / RATE - time.monotonic()))
        chunk, self._queue = self._queue[:FRAME], self._queue[FRAME:]
        if chunk.size < FRAME:
            chunk = np.concatenate([chunk, np.zeros(FRAME - chunk.size, dtype=np.int16)])
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, self._pts, fractions.Fraction(1, RATE)
        return frame


@dataclass
class Ear:
    """Every frame of the server's audio track: when it arrived and how loud it was."""

    frames: list[tuple[float, float]] = field(default_factory=list)

    async def listen(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            samples = frame.to_ndarray().astype(np.float64)
            self.frames.append((time.monotonic(), float(np.sqrt(np.mean(samples * samples)))))

    def voiced_between(self, start: float, end: float) -> int:
        return sum(1 for at, rms in self.frames if start <= at <= end and rms > SILENT_RMS)


@dataclass
class Caller:
    """The peer connection, its microphone and its ear, negotiated over an interview socket."""

    peer: RTCPeerConnection
    microphone: ScriptedMicrophone
    ear: Ear
    listening: asyncio.Task[None] | None = None

    @classmethod
    async def dial(cls, client: InterviewClient) -> Caller:
        peer, microphone, ear = RTCPeerConnection(), ScriptedMicrophone(), Ear()
        caller = cls(peer, microphone, ear)

        @peer.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                caller.listening = asyncio.create_task(ear.listen(track))

        peer.addTrack(microphone)  # sendrecv: the server answers with its voice
        await peer.setLocalDescription(await peer.createOffer())
        await client.send_raw({"type": "webrtc.offer", "sdp": peer.localDescription.sdp})
        answer = await client.wait_type("webrtc.answer", within=60)
        await peer.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        return caller

    async def hang_up(self) -> None:
        self.microphone.stop()
        await self.peer.close()
        if self.listening is not None:
            self.listening.cancel()
            await asyncio.gather(self.listening, return_exceptions=True)
