"""The scorer: correctness, clarity and depth per question, a final score per question and per session. Pure.

Same input, same output: no clock (the caller passes `scored_at`), no randomness,
values rounded before they are compared or stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from server.sessions.scoring.clarity import clarity
from server.sessions.scoring.correctness import correctness
from server.sessions.scoring.depth import depth
from server.sessions.scoring.matching import PointMatcher
from server.sessions.scoring.material import AnswerMaterial
from server.sessions.scoring.text import tokens
from storage import (
    DimensionScore,
    QuestionScore,
    QuestionSnapshot,
    ScoreBreakdown,
    ScoreReason,
    SessionDoc,
    SessionScores,
)

# Bump when a change would give a stored session different scores.
SCORER_VERSION = "1.0"
NOTICE = (
    "Computed automatically from what the candidate said and typed, to assist a human reviewer, who decides. "
    "It reads words and their timing only: no voice tone, emotion or face analysis."
)
WEIGHTS = {"correctness": 0.5, "depth": 0.3, "clarity": 0.2}
# Correctness at which an answer counts as fully on topic; below it depth, and clarity's part of the
# final score, shrink towards MIN_RELEVANCE: fluent words about something else are not a good answer.
RELEVANT_AT = 50.0
MIN_RELEVANCE = 0.2
# Fewer content words than this, or little more than an "I don't know", is no answer to score.
SUBSTANTIVE_WORDS = 3
_NON_ANSWER = re.compile(
    r"\b(?:don'?t know|do not know|not sure|no idea|skip this|can we skip|can'?t answer|cannot answer"
    r"|can'?t think of|never had to|rather not|nothing comes to mind)\b"
)
# Content words besides the "I don't know" that make it an answer after all ("not sure, but ...").
BESIDES_REFUSAL_WORDS = 4


def no_substance(answer: AnswerMaterial) -> str | None:
    """Why the answer has nothing to score, or None when it has."""
    if answer.word_count == 0:
        return "Not answered: no typed text and no transcript"
    content = len(tokens(answer.text))
    if content < SUBSTANTIVE_WORDS:
        return f"No substantive answer: {content} content word{'' if content == 1 else 's'}"
    said = " ".join(answer.text.lower().replace("\u2019", "'").split())
    if _NON_ANSWER.search(said) and len(tokens(_NON_ANSWER.sub(" ", said))) < BESIDES_REFUSAL_WORDS:
        return "No substantive answer: the candidate said they could not answer"
    return None


def relevance_of(correctness_score: float) -> float:
    return MIN_RELEVANCE + (1 - MIN_RELEVANCE) * min(1.0, correctness_score / RELEVANT_AT)


def _unanswered(question: QuestionSnapshot, answer: AnswerMaterial, why: str) -> QuestionScore:
    nothing = DimensionScore(score=0.0, reasons=[ScoreReason(text=why)])
    return QuestionScore(
        question_id=question.id,
        number=question.number,
        answered=False,
        reasons=[ScoreReason(text=why, evidence=[answer.text[:200]] if answer.text else [])],
        source=answer.source,
        words=answer.word_count,
        final_score=0.0,
        correctness=nothing,
        clarity=nothing,
        depth=nothing,
    )


def _final(parts: dict[str, float], relevance: float) -> tuple[float, list[ScoreReason]]:
    """The weighted mean of the dimensions, clarity counting in proportion to relevance."""
    effective = {**parts, "clarity": parts["clarity"] * relevance}
    total = sum(WEIGHTS[name] for name in parts)
    final = round(sum(WEIGHTS[name] * value for name, value in effective.items()) / total, 1)
    terms = " + ".join(f"{WEIGHTS[name] / total:.2f} x {value:.1f}" for name, value in effective.items())
    reasons = [ScoreReason(text=f"Final {final}: {terms} ({', '.join(parts)})")]
    if relevance < 1.0:
        reasons.append(
            ScoreReason(text=f"Relevance {relevance:.2f} (from correctness) scales depth and clarity's share")
        )
    return final, reasons


@dataclass(frozen=True)
class Scorer:
    """Scores answers with one correctness method (embedding or lexical)."""

    matcher: PointMatcher

    @property
    def method(self) -> str:
        return self.matcher.method

    def score_question(self, question: QuestionSnapshot, answer: AnswerMaterial) -> QuestionScore:
        why_not = no_substance(answer)
        if why_not is not None:
            return _unanswered(question, answer, why_not)
        points = question.expected_answer_points
        matches = self.matcher.compare(question.text, points, answer)
        correct, found = correctness(points, matches, self.matcher.coverage)
        relevance = relevance_of(correct.score) if points else 1.0
        clear = clarity(answer)
        deep = depth(question, answer, relevance)
        for note in answer.notes:
            clear.reasons.append(ScoreReason(text=note))
        parts = {"correctness": correct.score, "depth": deep.score, "clarity": clear.score}
        if not points:
            del parts["correctness"]
        final, reasons = _final(parts, relevance)
        return QuestionScore(
            question_id=question.id,
            number=question.number,
            answered=True,
            source=answer.source,
            words=answer.word_count,
            final_score=final,
            correctness=correct,
            clarity=clear,
            depth=deep,
            points=found,
            reasons=reasons,
        )

    def score_session(
        self, session: SessionDoc, answers: dict[str, AnswerMaterial], *, based_on_seq: int, scored_at: datetime
    ) -> SessionScores:
        """Every question of the session (an unanswered one scores 0), and their means."""
        questions = [self.score_question(q, answers.get(q.id, AnswerMaterial())) for q in session.questions]
        count = max(1, len(questions))

        def mean(values: list[float]) -> float:
            return round(sum(values) / count, 1)

        breakdown = ScoreBreakdown(
            correctness=mean([q.correctness.score for q in questions]),
            clarity=mean([q.clarity.score for q in questions]),
            depth=mean([q.depth.score for q in questions]),
        )
        unanswered = [q.number for q in questions if not q.answered]
        reasons = [
            ScoreReason(
                text=f"Mean of {len(questions)} questions, each weighted "
                + ", ".join(f"{name} {weight:.0%}" for name, weight in WEIGHTS.items())
            )
        ]
        if unanswered:
            reasons.append(
                ScoreReason(
                    text=f"{len(unanswered)} questions not answered count as 0",
                    evidence=[f"question {n}" for n in unanswered],
                )
            )
        return SessionScores(
            scorer_version=SCORER_VERSION,
            method=self.matcher.method,
            model=self.matcher.model,
            scored_at=scored_at,
            based_on_seq=based_on_seq,
            final_score=mean([q.final_score for q in questions]),
            breakdown=breakdown,
            questions=questions,
            reasons=reasons,
            notice=NOTICE,
        )
