"""What a correctness method returns, and the interface every method offers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from server.sessions.scoring.material import AnswerMaterial


@dataclass(frozen=True)
class PointSimilarity:
    """How close an answer is to one expected point, and the evidence."""

    lexical: float
    similarity: float
    matched_terms: tuple[str, ...]
    excerpt: str | None
    cosine: float | None = None


@dataclass(frozen=True)
class CoverageRule:
    """A point counts as covered at `covered` similarity; below it, credit falls off linearly to `floor`."""

    covered: float
    floor: float


class PointMatcher(Protocol):
    """Compares an answer with a question's expected points; `method` names how."""

    @property
    def method(self) -> str: ...

    @property
    def model(self) -> str | None: ...

    @property
    def coverage(self) -> CoverageRule: ...

    def compare(self, question: str, points: list[str], answer: AnswerMaterial) -> list[PointSimilarity]: ...
