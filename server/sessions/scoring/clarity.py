"""Clarity: delivery, from the transcript's words and times (or the typed text). Pure.

Speaking rate from each line's startMs/endMs, filler words, long pauses between
lines, fragments and repeated words; for typed text, fragments and run-on
sentences. It judges how the answer was delivered, never the person: no voice
tone, emotion or face analysis.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter

from server.sessions.scoring.material import AnswerMaterial, SpokenLine
from server.sessions.scoring.text import sentences, words
from storage import DimensionScore, ScoreReason

FILLER_WORDS = frozenset({"um", "umm", "uh", "uhh", "uhm", "erm", "er", "hmm", "ah"})
# Phrases that are fillers wherever they appear; "like" only between commas or before one.
_FILLER_PHRASES = re.compile(r"\b(you know|i mean|sort of|kind of|basically)\b|(?:^|,\s*)like\s*,", re.MULTILINE)
_REPEATED = re.compile(r"\b(\w+)(?:,?\s+\1\b)+")
COMFORTABLE_WPM = (100.0, 180.0)
LONG_PAUSE_MS = 3000
FRAGMENT_WORDS = 3  # a sentence or line of at most this many words (fillers aside)
RUN_ON_WORDS = 45
JUDGEABLE_WORDS = 25  # fewer words than this scale clarity down: too little to judge


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _fillers(text: str) -> Counter[str]:
    lowered = text.lower()
    found = Counter(w for w in words(lowered) if w in FILLER_WORDS)
    for match in _FILLER_PHRASES.finditer(lowered):
        found[(match.group(1) or "like").strip()] += 1
    return found


def _duration_ms(line: SpokenLine) -> int | None:
    """How long the line took, when its times are usable."""
    if line.start_ms is None or line.end_ms is None or line.end_ms <= line.start_ms:
        return None
    return line.end_ms - line.start_ms


def _rate(lines: list[SpokenLine]) -> tuple[float, int] | None:
    """Words per minute over the lines that carry usable times, and how many words that covers."""
    timed = [(len(words(s.text)), d) for s in lines if (d := _duration_ms(s)) is not None]
    spoken, duration_ms = sum(n for n, _ in timed), sum(d for _, d in timed)
    if spoken < 5 or duration_ms <= 0:
        return None
    return spoken / (duration_ms / 60000), spoken


def _pauses(lines: list[SpokenLine]) -> list[tuple[float, str]]:
    """Silences longer than LONG_PAUSE_MS between consecutive timed lines, with the line that followed."""
    found = []
    for before, after in itertools.pairwise(lines):
        if _duration_ms(before) is not None and _duration_ms(after) is not None:
            gap = (after.start_ms or 0) - (before.end_ms or 0)
            if gap > LONG_PAUSE_MS:
                found.append((gap / 1000, after.text.strip()))
    return found


def _content_words(text: str) -> int:
    return sum(1 for w in words(text) if w not in FILLER_WORDS)


def clarity(answer: AnswerMaterial) -> DimensionScore:
    """100 minus penalties for what made the answer hard to follow, scaled down for very short answers."""
    total = answer.word_count
    if total == 0:
        return DimensionScore(score=0.0, reasons=[ScoreReason(text="No answer to assess")])
    reasons: list[ScoreReason] = []
    penalty = 0.0

    def penalise(points: float, text: str, evidence: list[str] | None = None) -> None:
        nonlocal penalty
        penalty += points
        reasons.append(ScoreReason(text=f"-{points:.0f}: {text}", evidence=evidence or []))

    fillers = _fillers(answer.text)
    filler_count = sum(fillers.values())
    if filler_count:
        rate = 100 * filler_count / total
        listed = [f"{word} x{count}" for word, count in sorted(fillers.items(), key=lambda kv: (-kv[1], kv[0]))]
        penalise(min(30.0, 3 * rate), f"{_count(filler_count, 'filler word')} ({rate:.0f} per 100 words)", listed)
    repeats = [m.group(0) for m in _REPEATED.finditer(answer.text.lower()) if m.group(1) not in FILLER_WORDS]
    if repeats:
        penalise(min(10.0, 3.0 * len(repeats)), f"{_count(len(repeats), 'repeated word')}", repeats[:5])

    speaking = _rate(answer.spoken)
    if speaking is not None:
        wpm, covered = speaking
        low, high = COMFORTABLE_WPM
        if wpm < low or wpm > high:
            distance = low - wpm if wpm < low else wpm - high
            penalise(min(20.0, distance / 2), f"Speaking rate {wpm:.0f} words/min (comfortable: {low:.0f}-{high:.0f})")
        else:
            reasons.append(ScoreReason(text=f"Speaking rate {wpm:.0f} words/min over {covered} timed words"))
    pauses = _pauses(answer.spoken)
    if pauses:
        evidence = [f"{seconds:.1f} s before '{line[:60]}'" for seconds, line in pauses]
        penalise(
            min(16.0, 4.0 * len(pauses)), f"{_count(len(pauses), 'pause')} over {LONG_PAUSE_MS / 1000:.0f} s", evidence
        )

    pieces = [*sentences(answer.typed), *(s.text for s in answer.spoken)]
    fragments = [p.strip() for p in pieces if _content_words(p) <= FRAGMENT_WORDS]
    if fragments and len(pieces) > 0:
        share = len(fragments) / len(pieces)
        penalise(round(25 * share), f"{len(fragments)} of {len(pieces)} sentences/lines are fragments", fragments[:5])
    run_ons = [p for p in sentences(answer.typed) if len(words(p)) > RUN_ON_WORDS]
    if run_ons:
        penalise(min(15.0, 5.0 * len(run_ons)), f"{_count(len(run_ons), 'sentence')} over {RUN_ON_WORDS} words")

    score = max(0.0, 100.0 - penalty)
    if total < JUDGEABLE_WORDS:
        score *= total / JUDGEABLE_WORDS
        reasons.append(ScoreReason(text=f"Only {total} words: too little to judge delivery, scaled down"))
    if not reasons:
        reasons.append(ScoreReason(text="No filler words, long pauses or fragments found"))
    return DimensionScore(score=round(score, 1), reasons=reasons)
