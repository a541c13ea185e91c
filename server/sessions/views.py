"""How the core shows a session's question to the candidate: one model for HTTP, WebSocket and the log."""

from __future__ import annotations

from typing import Any, Self

from storage import CamelModel, Difficulty, QuestionCategory, QuestionSnapshot


class QuestionView(CamelModel):
    """A question as the candidate sees it (never with its expected answer points)."""

    number: int
    total: int
    id: str
    text: str
    category: QuestionCategory
    difficulty: Difficulty
    time_limit_seconds: int

    @classmethod
    def of(cls, question: QuestionSnapshot, total: int) -> Self:
        return cls(
            number=question.number,
            total=total,
            id=question.id,
            text=question.text,
            category=question.category,
            difficulty=question.difficulty,
            time_limit_seconds=question.time_limit_seconds,
        )

    def payload(self) -> dict[str, Any]:
        """The body of the stored `question` event."""
        return self.to_wire()
