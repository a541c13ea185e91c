"""The labelled calibration set shipped with the scorer, and how well a scorer orders it.

Answers written for the tests (calibration.json beside this module), graded good,
partial, off-topic or empty. Tests, `bench/score.py` and anyone refitting the
thresholds read it; the service never does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from itertools import combinations
from typing import Literal

from pydantic import Field

from server.sessions.scoring.material import AnswerMaterial, SpokenLine
from server.sessions.scoring.scorer import Scorer
from storage import CamelModel, QuestionDoc, QuestionScore, QuestionSnapshot

Grade = Literal["good", "partial", "off-topic", "empty"]
GRADE_RANK: dict[str, int] = {"good": 3, "partial": 2, "off-topic": 1, "empty": 0}


class CalibrationLine(CamelModel):
    text: str
    start_ms: int | None = None
    end_ms: int | None = None


class CalibrationAnswer(CamelModel):
    question_id: str
    grade: Grade
    split: Literal["fit", "holdout"] = "fit"
    text: str = ""
    transcript: list[CalibrationLine] = Field(default_factory=list)

    def material(self) -> AnswerMaterial:
        spoken = [SpokenLine(line.text, line.start_ms, line.end_ms) for line in self.transcript]
        return AnswerMaterial(typed=self.text, spoken=spoken)


class CalibrationSet(CamelModel):
    description: str
    answers: list[CalibrationAnswer]


def read_calibration() -> CalibrationSet:
    """The set packaged with the server."""
    text = resources.files("server.sessions.scoring").joinpath("calibration.json").read_text("utf-8")
    return CalibrationSet.model_validate(json.loads(text))


def snapshot(question: QuestionDoc) -> QuestionSnapshot:
    return QuestionSnapshot(**question.model_dump(exclude={"tags"}), number=1)


@dataclass(frozen=True)
class Scored:
    answer: CalibrationAnswer
    score: QuestionScore


@dataclass(frozen=True)
class Ordering:
    """Pairs of answers to the same question with different grades, and how many the scorer ordered right."""

    pairs: int
    by_correctness: int
    by_final: int
    wrong: list[str]

    @property
    def correctness_accuracy(self) -> float:
        return self.by_correctness / self.pairs if self.pairs else 1.0

    @property
    def final_accuracy(self) -> float:
        return self.by_final / self.pairs if self.pairs else 1.0


def score_all(scorer: Scorer, answers: list[CalibrationAnswer], bank: list[QuestionDoc]) -> list[Scored]:
    questions = {q.id: snapshot(q) for q in bank}
    return [Scored(a, scorer.score_question(questions[a.question_id], a.material())) for a in answers]


def ordering(scored: list[Scored]) -> Ordering:
    """A pair counts as ordered when the better grade scores strictly higher."""
    pairs = by_correctness = by_final = 0
    wrong: list[str] = []
    for first, second in combinations(scored, 2):
        if first.answer.question_id != second.answer.question_id or first.answer.grade == second.answer.grade:
            continue
        better, worse = sorted((first, second), key=lambda s: -GRADE_RANK[s.answer.grade])
        pairs += 1
        ok_correct = better.score.correctness.score > worse.score.correctness.score
        ok_final = better.score.final_score > worse.score.final_score
        by_correctness += ok_correct
        by_final += ok_final
        if not (ok_correct and ok_final):
            wrong.append(
                f"{better.answer.question_id}: {better.answer.grade} "
                f"{better.score.correctness.score}/{better.score.final_score} vs {worse.answer.grade} "
                f"{worse.score.correctness.score}/{worse.score.final_score}"
            )
    return Ordering(pairs, by_correctness, by_final, wrong)
