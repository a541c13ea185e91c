"""Benchmark: live transcription end to end, through real WebRTC peer connections.

For 1, 4 and 8 simultaneous speakers (aiortc peers playing an espeak-ng sentence,
each on its own interview session and WebSocket) against a real server with
TRANSCRIBER=whisper, prints:

* the transcriber's real-time factor on this machine (in-process, same audio);
* latency from the end of speech to the `transcript.final` message, P50/P95:
  received(final) - (received(first audio.level) + endMs), where the first
  `audio.level` marks the server's first audio frame of the stream;
* the server process's CPU per session (CPU seconds per second of audio).

Run: .venv/bin/python bench/asr.py [--speakers 1,4,8] [--workers 2] [--stagger 0.0]
(--stagger 0 makes every speaker stop talking at the same moment: the worst case.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import wave
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aioice.ice
import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer

from bench.asr_rtf import measure_rtf, synthesize
from bench.common import percentile, store_and_server
from tests.support import create_application, start_session
from tests.ws_client import InterviewClient

SENTENCE = "I have five years of experience with Python and databases."
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # loopback only


def write_wav(path: Path, pcm16k: bytes, silence_seconds: float = 2.0) -> float:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes(pcm16k + b"\x00" * int(32000 * silence_seconds))
    return len(pcm16k) / 32000


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_speaker(server_ws: str, http: httpx.AsyncClient, wav: Path, delay: float = 0.0) -> float | None:
    await asyncio.sleep(delay)
    application = await create_application(http, question_count=1)
    started = (await start_session(http, application)).json()
    client = InterviewClient(server_ws, started["token"])
    await client.connect()
    peer = RTCPeerConnection()
    player = MediaPlayer(str(wav))
    peer.addTrack(player.audio)
    try:
        await peer.setLocalDescription(await peer.createOffer())
        await client.send_raw({"type": "webrtc.offer", "sdp": peer.localDescription.sdp})
        answer = await client.wait_type("webrtc.answer", within=60)
        await peer.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        await client.wait_type("audio.level", within=60)
        first_audio = time.monotonic()
        final = await client.wait_type("transcript.final", within=120)
        received = time.monotonic()
        return received - (first_audio + final["endMs"] / 1000)
    except TimeoutError:
        return None
    finally:
        await peer.close()
        if player.audio:
            player.audio.stop()
        await client.close()


async def run(args: argparse.Namespace) -> None:
    speech = synthesize(SENTENCE)
    options = argparse.Namespace(workers=args.workers, threads=args.threads, model=None, rounds=3)
    rtf, _elapsed = await measure_rtf(options, speech, 1)
    print(f"transcriber real-time factor (1 stream, in-process): {rtf:.1f}x real time")
    env = {
        "TRANSCRIBER": "whisper",
        "TRANSCRIBE_WORKERS": str(args.workers),
        "TRANSCRIBE_THREADS": str(args.threads),
        "MEDIA_HOST_ADDRESSES": "127.0.0.1",
        "START_SESSION_RATE_LIMIT": "100000",
        "LOG_LEVEL": "WARNING",
    }
    with tempfile.TemporaryDirectory() as tmp, store_and_server(**env) as (_url, server):
        wav = Path(tmp) / "speech.wav"
        audio_seconds = write_wav(wav, speech)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
            await one_speaker(server.ws_url, http, wav)  # warm-up: loads the model
            for speakers in args.speakers:
                assert server.process is not None
                cpu_before = cpu_seconds(server.process.pid)
                starts = [i * args.stagger for i in range(speakers)]
                latencies = await asyncio.gather(*(one_speaker(server.ws_url, http, wav, d) for d in starts))
                cpu = cpu_seconds(server.process.pid) - cpu_before
                measured = [x for x in latencies if x is not None]
                print(
                    f"{speakers} speaker(s), starts {args.stagger:.1f}s apart: end-of-speech -> transcript.final "
                    f"p50={percentile(measured, 50):.2f}s p95={percentile(measured, 95):.2f}s "
                    f"({len(measured)}/{speakers} finals); server CPU {cpu / speakers:.2f}s per session "
                    f"= {cpu / speakers / audio_seconds:.2f} CPU-s per audio second"
                )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speakers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 8])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="CTranslate2 threads per worker")
    parser.add_argument("--stagger", type=float, default=0.0, help="seconds between speakers' starts (0 = all at once)")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(run(parse_args()))
