"""The lexical method: how many of an expected point's key terms (and term pairs) an answer uses. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.sessions.scoring.matching import CoverageRule, PointSimilarity
from server.sessions.scoring.material import AnswerMaterial
from server.sessions.scoring.text import Token, bigrams, terms, tokens

# A term the question itself uses proves less (repeating the question is not answering it), and so
# does an everyday word.
QUESTION_TERM_WEIGHT = 0.5
COMMON_TERM_WEIGHT = 0.5
# Shares of the lexical similarity: key terms, term pairs (phrases), character trigrams (near spellings).
TERM_SHARE = 0.6
PAIR_SHARE = 0.2
TRIGRAM_SHARE = 0.2
MAX_EXCERPT_CHARS = 220
# Points often list alternatives ("locks/mutexes, atomic operations or transactions"): naming one well
# counts too. A clause needs this much term weight to count alone, and gives this share of the term part.
_CLAUSE_BREAK = re.compile(r"[;,/()]|\bor\b|\be\.g\.")
MIN_CLAUSE_WEIGHT = 1.5
CLAUSE_SHARE = 0.5


@dataclass(frozen=True)
class AnswerIndex:
    """An answer's terms, term pairs and segments, computed once for all points of a question."""

    terms: frozenset[str]
    pairs: frozenset[tuple[str, str]]
    trigrams: frozenset[str]
    segments: tuple[tuple[str, frozenset[str]], ...]

    @classmethod
    def of(cls, answer: AnswerMaterial) -> AnswerIndex:
        segments = tuple((s, frozenset(terms(s))) for s in answer.segments)
        pairs: set[tuple[str, str]] = set()
        for segment, _ in segments:
            pairs |= bigrams(terms(segment))
        all_terms = frozenset(t for _, ts in segments for t in ts)
        return cls(all_terms, frozenset(pairs), trigrams([t.surface for t in tokens(answer.text)]), segments)


def trigrams(surfaces: list[str]) -> frozenset[str]:
    """Character trigrams of words (padded), so `interleaving` and `interleaved` share most of theirs."""
    found: set[str] = set()
    for word in surfaces:
        padded = f" {word} "
        found.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return frozenset(found)


def _excerpt(text: str) -> str:
    return text if len(text) <= MAX_EXCERPT_CHARS else text[: MAX_EXCERPT_CHARS - 1].rstrip() + "\u2026"


def _weights(point_tokens: list[Token], question_terms: set[str]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for token in point_tokens:
        weight = QUESTION_TERM_WEIGHT if token.term in question_terms else 1.0
        weights.setdefault(token.term, weight * (COMMON_TERM_WEIGHT if token.common else 1.0))
    return weights


def _coverage(weights: dict[str, float], answer: AnswerIndex) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in answer.terms) / total if total else 0.0


def _best_clause(point: str, question_terms: set[str], answer: AnswerIndex) -> float:
    clauses = [_weights(tokens(c), question_terms) for c in _CLAUSE_BREAK.split(point)]
    return max((_coverage(w, answer) for w in clauses if sum(w.values()) >= MIN_CLAUSE_WEIGHT), default=0.0)


def lexical_similarity(point: str, question_terms: set[str], answer: AnswerIndex) -> PointSimilarity:
    """Weighted share of the point's terms (or of its best clause) found in the answer, its term pairs
    found together, and its character trigrams."""
    point_tokens = tokens(point)
    weights = _weights(point_tokens, question_terms)
    surfaces: dict[str, str] = {}
    for token in point_tokens:
        surfaces.setdefault(token.term, token.surface)
    if not weights:
        return PointSimilarity(0.0, 0.0, (), None)
    found = [term for term in weights if term in answer.terms]
    overall = _coverage(weights, answer)
    single = max(overall, CLAUSE_SHARE * _best_clause(point, question_terms, answer) + (1 - CLAUSE_SHARE) * overall)
    pairs = bigrams([t.term for t in point_tokens])
    found_pairs = sorted(pairs & answer.pairs)
    point_trigrams = trigrams([t.surface for t in point_tokens])
    near = len(point_trigrams & answer.trigrams) / len(point_trigrams)
    paired = len(found_pairs) / len(pairs) if pairs else single
    score = TERM_SHARE * single + PAIR_SHARE * paired + TRIGRAM_SHARE * near
    evidence = [surfaces[t] for t in found]
    evidence += [f"{surfaces[a]} {surfaces[b]}" for a, b in found_pairs]
    best = max(answer.segments, key=lambda s: sum(weights.get(t, 0.0) for t in s[1]), default=None)
    excerpt = _excerpt(best[0]) if best is not None and found else None
    return PointSimilarity(round(score, 4), round(score, 4), tuple(evidence), excerpt)


class LexicalMatcher:
    """The fallback method: term overlap per point, no model."""

    method = "lexical"
    model = None
    coverage = CoverageRule(covered=0.5, floor=0.0)

    def compare(self, question: str, points: list[str], answer: AnswerMaterial) -> list[PointSimilarity]:
        index = AnswerIndex.of(answer)
        question_terms = set(terms(question))
        return [lexical_similarity(point, question_terms, index) for point in points]
