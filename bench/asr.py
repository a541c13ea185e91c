"""Benchmark: live transcription end to end, through real WebRTC peer connections.

Against a real server at its defaults (TRANSCRIBER=auto: faster-whisper tiny.en,
int8, 2 workers), with aiortc peers playing synthetic interview answers into
their own interview sessions, prints:

* baseline of the same run, in-process on the same audio: one final decoded the
  way faster-whisper's `transcribe` does it (30 s window) against the server's
  decoder (utterance-length window, beam 3): ms per final
  and the ratio;
* latency from the end of speech to the `transcript.final` message, P50/P95, for
  1, 4 and 8 simultaneous speakers who all stop at the same moment (the worst
  case): received(final) - (received(first audio.level) + endMs), where the first
  `audio.level` marks the server's first audio frame of the stream;
* key-word recall over ANSWERS (20 answers, 3 key words each) spoken by espeak-ng
  and by the Piper voice, through real peer connections: the share of key words
  found in the session's transcript lines (lightly stemmed on both sides, so
  "shared" matches "share"; homophones such as "cashing" do not count).

Run: .venv/bin/python bench/asr.py [--speakers 1,4,8] [--workers 2] [--recall-parallel 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
import wave
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aioice.ice
import av
import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer

from bench.asr_answers import ANSWERS
from bench.common import percentile, store_and_server
from realtime.speech import PiperEngine
from realtime.speech.piper import bundled_voice
from realtime.transcription import WhisperOptions, WhisperTranscriber
from realtime.transcription.audio import pcm16_to_float32
from tests.audio_files import espeak_pcm16k
from tests.support import create_application, start_session
from tests.ws_client import InterviewClient

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # loopback only
LATENCY_SENTENCE = "I have five years of experience with Python and databases."


def write_wav(path: Path, pcm16k: bytes, lead: float = 0.5, silence: float = 2.0) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes(b"\x00" * int(32000 * lead) + pcm16k + b"\x00" * int(32000 * silence))
    return path


def to_pcm16k(pcm48k: bytes) -> bytes:
    resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
    frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm48k) // 2)
    frame.sample_rate = 48000
    frame.planes[0].update(pcm48k)
    out = [bytes(f.planes[0])[: f.samples * 2] for f in resampler.resample(frame)]
    out += [bytes(f.planes[0])[: f.samples * 2] for f in resampler.resample(None)]
    return b"".join(out)


def stem(word: str) -> str:
    """Light stemming, so a key word counts when heard inflected ("shared" / "share", "reads" / "reading")."""
    for suffix in ("ing", "ed", "es", "s", "e"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def words(text: str) -> set[str]:
    return {stem(w) for w in re.findall(r"[a-z]+", text.lower())}


async def speak(server_ws: str, http: httpx.AsyncClient, wav: Path, delay: float = 0.0) -> tuple[float | None, str]:
    """One session: play `wav` through a peer; (end-of-speech -> final latency, all final text)."""
    await asyncio.sleep(delay)
    application = await create_application(http, question_count=1)
    started = (await start_session(http, application)).json()
    client = InterviewClient(server_ws, started["token"])
    await client.connect()
    peer, player = RTCPeerConnection(), MediaPlayer(str(wav))
    peer.addTrack(player.audio)
    latency: float | None = None
    try:
        await peer.setLocalDescription(await peer.createOffer())
        await client.send_raw({"type": "webrtc.offer", "sdp": peer.localDescription.sdp})
        answer = await client.wait_type("webrtc.answer", within=60)
        await peer.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        await client.wait_type("audio.level", within=60)
        first_audio = time.monotonic()
        final = await client.wait_type("transcript.final", within=120)
        latency = time.monotonic() - (first_audio + final["endMs"] / 1000)
        await asyncio.sleep(2.5)  # any later line of the same answer
    except TimeoutError:
        pass
    finally:
        await peer.close()
        if player.audio:
            player.audio.stop()
        await client.close()
    return latency, " ".join(m["text"] for m in client.of_type("transcript.final"))


async def decode_baseline(audio16k: bytes, rounds: int) -> tuple[float, float]:
    """ms per final: faster-whisper's transcribe (30 s window) vs the server's decoder, same audio."""
    transcriber = WhisperTranscriber(WhisperOptions(workers=1))
    await transcriber.warm_up()
    decoder = await asyncio.to_thread(transcriber._load)
    model = decoder._model  # the loaded faster-whisper model both use
    audio = pcm16_to_float32(audio16k)

    def full_window() -> None:
        segments, _ = model.transcribe(audio, language="en", beam_size=1, without_timestamps=True, vad_filter=False)
        list(segments)

    def short_window() -> None:
        decoder.decode(audio16k)

    timings = []
    for work in (full_window, short_window):
        started = time.perf_counter()
        for _ in range(rounds):
            await asyncio.to_thread(work)
        timings.append((time.perf_counter() - started) / rounds * 1000)
    await transcriber.close()
    return timings[0], timings[1]


async def recall(
    server: object, http: httpx.AsyncClient, wavs: list[tuple[Path, tuple[str, ...]]], parallel: int
) -> float:
    found = total = 0
    misses: list[str] = []
    for start in range(0, len(wavs), parallel):
        batch = wavs[start : start + parallel]
        results = await asyncio.gather(*(speak(server.ws_url, http, wav) for wav, _ in batch))  # type: ignore[attr-defined]
        for (_wav, keys), (_latency, text) in zip(batch, results, strict=True):
            heard = words(text)
            found += sum(1 for k in keys if stem(k) in heard)
            total += len(keys)
            misses += [f"{k} (heard: {text!r})" for k in keys if stem(k) not in heard]
    for miss in misses[:10]:
        print(f"    missed {miss}")
    return found / total if total else float("nan")


async def piper_wavs(folder: Path) -> list[tuple[Path, tuple[str, ...]]]:
    model = bundled_voice()
    if model is None:
        return []
    engine = PiperEngine(model)
    await engine.start()
    await engine.wait_ready(120)
    out = []
    try:
        for index, (text, keys) in enumerate(ANSWERS):
            pcm = to_pcm16k(await engine.synthesize(text))
            out.append((write_wav(folder / f"piper-{index}.wav", pcm), keys))
    finally:
        await engine.close()
    return out


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sentence = espeak_pcm16k(LATENCY_SENTENCE, folder, "latency")
        full_ms, short_ms = await decode_baseline(sentence, rounds=5)
        print(
            f"baseline (same audio, in-process): 30 s window {full_ms:.0f} ms per final, "
            f"server decoder {short_ms:.0f} ms: {full_ms / short_ms:.1f}x faster"
        )
        espeak = [
            (write_wav(folder / f"espeak-{i}.wav", espeak_pcm16k(text, folder, f"e{i}")), keys)
            for i, (text, keys) in enumerate(ANSWERS)
        ]
        piper = await piper_wavs(folder)
        latency_wav = write_wav(folder / "latency.wav", sentence)
        env = {
            "TRANSCRIBER": "auto",
            "VOICE": "none",  # the voice would speak each question over the measurement
            "TRANSCRIBE_WORKERS": str(args.workers),
            "MEDIA_HOST_ADDRESSES": "127.0.0.1",
            "START_SESSION_RATE_LIMIT": "100000",
        }
        with store_and_server(**env) as (_url, server):
            async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
                await speak(server.ws_url, http, latency_wav)  # warm-up: loads the model
                for speakers in args.speakers:
                    results = await asyncio.gather(*(speak(server.ws_url, http, latency_wav) for _ in range(speakers)))
                    measured = [latency for latency, _ in results if latency is not None]
                    print(
                        f"{speakers} speaker(s), stopping together: end-of-speech -> transcript.final "
                        f"p50={percentile(measured, 50):.2f}s p95={percentile(measured, 95):.2f}s "
                        f"({len(measured)}/{speakers} finals)"
                    )
                for name, wavs in (("espeak-ng", espeak), ("piper joe", piper)):
                    if wavs:
                        share = await recall(server, http, wavs, args.recall_parallel)
                        print(f"key-word recall, {len(wavs)} answers spoken by {name}: {share:.1%}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speakers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 8])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--recall-parallel", type=int, default=2, help="answers spoken at once in the recall run")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(run(parse_args()))
