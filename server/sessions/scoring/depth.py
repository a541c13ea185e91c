"""Depth: specifics and breadth beyond the expected points, reasoning, and length for the time allowed. Pure."""

from __future__ import annotations

import re

from server.sessions.scoring.material import AnswerMaterial
from server.sessions.scoring.text import sentences, terms, tokens
from storage import DimensionScore, QuestionSnapshot, ScoreReason

REASONING_MARKERS = (
    "because",
    "however",
    "but",
    "tradeoff",
    "trade-off",
    "instead",
    "although",
    "whereas",
    "on the other hand",
    "downside",
    "rather than",
    "depends",
    "so that",
    "otherwise",
    "unless",
    "the cost",
    "the risk",
)
EXAMPLE_MARKERS = (
    "for example",
    "for instance",
    "e.g.",
    "such as",
    "last year",
    "in my last",
    "in my previous",
    "at my",
    "on my",
    "we had",
    "i had",
    "recently",
)
_NUMBER = re.compile(
    r"\b\d[\d,.]*\s*(?:%|ms|s|gb|mb|kb|x)?\b|\b(?:two|three|four|five|six|seven|eight|nine|ten|twenty|thirty|"
    r"hundred|thousand|million|billion|trillion|percent|half|dozen)\b"
)
_WORD_AS_WRITTEN = re.compile(r"[A-Za-z][A-Za-z0-9+#.-]*[A-Za-z0-9+#]|[A-Za-z]")
_WITH_DIGIT = re.compile(r"[a-z]\d|\d[a-z]", re.IGNORECASE)
_NOT_NAMES = frozenset({"I", "I'm", "OK", "Okay"})
# Words a minute an answer of this kind runs at, and the share of its time limit a full answer uses.
SPOKEN_WPM = 130.0
TYPED_WPM = 40.0
EXPECTED_SHARE = 0.5
MIN_EXPECTED_WORDS = 30
WEIGHTS = {"length": 35.0, "reasoning": 25.0, "specifics": 25.0, "breadth": 15.0}


def _markers(text: str, markers: tuple[str, ...]) -> list[str]:
    flat = " ".join(text.lower().split())
    return [m.strip() for m in markers if re.search(rf"(?<![a-z]){re.escape(m.strip())}(?![a-z])", flat)]


def _names(text: str) -> list[str]:
    """Named things: capitalised words inside a sentence (Postgres, Kafka) and words with digits (p99, S3)."""
    found: set[str] = set()
    for sentence in sentences(text):
        for position, word in enumerate(_WORD_AS_WRITTEN.findall(sentence)):
            capitalised = position > 0 and word[0].isupper() and word not in _NOT_NAMES
            if capitalised or _WITH_DIGIT.search(word):
                found.add(word)
    return sorted(found)


def expected_words(question: QuestionSnapshot, answer: AnswerMaterial) -> int:
    """How many words a full answer has in this question's time, for speech or typing."""
    wpm = SPOKEN_WPM if answer.spoken_words >= answer.word_count / 2 else TYPED_WPM
    return max(MIN_EXPECTED_WORDS, round(question.time_limit_seconds / 60 * wpm * EXPECTED_SHARE))


def depth(question: QuestionSnapshot, answer: AnswerMaterial, relevance: float) -> DimensionScore:
    """Length, reasoning words, specifics (numbers, examples, names) and new terms, scaled by relevance.

    `relevance` (0-1, from correctness) keeps an answer about something else from
    earning depth: specifics count only on the question's topic.
    """
    count = answer.word_count
    if count == 0:
        return DimensionScore(score=0.0, reasons=[ScoreReason(text="No answer to assess")])
    text = answer.text
    expected = expected_words(question, answer)
    length = min(1.0, count / expected)
    reasoning = _markers(text, REASONING_MARKERS)
    examples = _markers(text, EXAMPLE_MARKERS)
    numbers = sorted({m.group(0).strip() for m in _NUMBER.finditer(text.lower())})
    names = _names(text)
    known = set(terms(question.text)) | {t for p in question.expected_answer_points for t in terms(p)}
    new_terms = sorted({t.term: t.surface for t in tokens(text) if t.term not in known}.values())
    parts = {
        "length": length,
        "reasoning": min(1.0, len(reasoning) / 3),
        "specifics": min(1.0, (len(examples) + len(numbers) + len(names)) / 5),
        "breadth": min(1.0, len(new_terms) / max(10.0, expected * 0.3)),
    }
    reasons = [
        ScoreReason(
            text=f"Length: {count} words for a {question.time_limit_seconds} s question "
            f"(a full answer is about {expected})",
        ),
        ScoreReason(text=f"Reasoning words: {len(reasoning)}", evidence=reasoning),
        ScoreReason(
            text=f"Specifics: {len(examples)} example markers, {len(numbers)} numbers, {len(names)} named things",
            evidence=[*examples, *numbers[:6], *names[:6]],
        ),
        ScoreReason(
            text=f"Breadth: {len(new_terms)} terms beyond the question and its points", evidence=new_terms[:10]
        ),
    ]
    raw = sum(WEIGHTS[name] * value for name, value in parts.items())
    score = raw * relevance
    if relevance < 1.0:
        reasons.append(
            ScoreReason(text=f"Scaled by relevance {relevance:.2f}: depth only counts on the question's topic")
        )
    return DimensionScore(score=round(score, 1), reasons=reasons)
