"""Benchmark: scoring time per answer and per session, embedding method against the lexical one (same run).

The answers are the scorer's calibration set (72 answers to 18 bank questions, typed
and spoken); a session is five consecutive answers of the set, scored together as
the service does after completion. Each method scores everything once (the first
round, which also embeds each question's expected points: a process does that once per
question) and then `--rounds` more times, in this process, no store: the figures are
the scorer's own time, which the service spends in its worker thread, off the event loop.

Run: ``.venv/bin/python bench/score.py [--rounds 3] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import summary_ms
from server.sessions.scoring import EmbeddingMatcher, LexicalMatcher, Scorer, read_calibration
from server.sessions.scoring.calibration import CalibrationAnswer, snapshot
from server.sessions.scoring.embedding import shared_model
from storage import QuestionSnapshot, SessionDoc, SessionStatus
from storage.questions import _read_bank_file

SESSION_QUESTIONS = 5
NOW = datetime(2026, 11, 24, tzinfo=UTC)


def sessions_of(answers: list[CalibrationAnswer], questions: dict[str, QuestionSnapshot]) -> list[SessionDoc]:
    """Consecutive groups of answers as completed sessions (a question can appear once per session)."""
    found: list[SessionDoc] = []
    for start in range(0, len(answers) - SESSION_QUESTIONS + 1, SESSION_QUESTIONS):
        group = answers[start : start + SESSION_QUESTIONS]
        snapshots = [
            questions[a.question_id].model_copy(update={"id": f"{a.question_id}#{i}", "number": i + 1})
            for i, a in enumerate(group)
        ]
        found.append(
            SessionDoc(
                session_id=f"bench-{start}",
                application_id="bench",
                candidate_id="bench",
                status=SessionStatus.COMPLETED,
                started_at=NOW,
                questions=snapshots,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    return found


def measure(scorer: Scorer, answers: list[CalibrationAnswer], rounds: int) -> tuple[float, list[float], list[float]]:
    """(warm-up seconds, per answer, per session): the warm-up round embeds each question's points once."""
    bank = {q.id: snapshot(q) for q in _read_bank_file()}
    per_answer: list[float] = []
    per_session: list[float] = []
    sessions = sessions_of(answers, bank)
    started = time.perf_counter()
    for answer in answers:
        scorer.score_question(bank[answer.question_id], answer.material())
    warm_up = time.perf_counter() - started
    for _ in range(rounds):
        for answer in answers:
            started = time.perf_counter()
            scorer.score_question(bank[answer.question_id], answer.material())
            per_answer.append(time.perf_counter() - started)
        for index, session in enumerate(sessions):
            group = answers[index * SESSION_QUESTIONS : (index + 1) * SESSION_QUESTIONS]
            materials = {q.id: a.material() for q, a in zip(session.questions, group, strict=True)}
            started = time.perf_counter()
            scorer.score_session(session, materials, based_on_seq=0, scored_at=NOW)
            per_session.append(time.perf_counter() - started)
    return warm_up, per_answer, per_session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="OpenMP threads of the embedding model")
    args = parser.parse_args()
    answers = read_calibration().answers

    started = time.perf_counter()
    shared_model(args.threads)
    print(f"model load (first use, {args.threads} thread): {time.perf_counter() - started:.2f} s")

    results = {}
    for name, scorer in (
        ("embedding", Scorer(EmbeddingMatcher(threads=args.threads))),
        ("lexical", Scorer(LexicalMatcher())),
    ):
        warm_up, per_answer, per_session = measure(scorer, answers, args.rounds)
        results[name] = (per_answer, per_session)
        print(f"{name:9} first round ({len(answers)} answers, points embedded once): {warm_up:.2f} s")
        print(f"{name:9} per answer  ({len(per_answer)}): {summary_ms(per_answer)}")
        print(f"{name:9} per session ({len(per_session)}, {SESSION_QUESTIONS} questions): {summary_ms(per_session)}")

    (emb_answer, emb_session), (lex_answer, lex_session) = results["embedding"], results["lexical"]
    print(
        "ratio embedding / lexical (mean): "
        f"per answer {statistics.fmean(emb_answer) / statistics.fmean(lex_answer):.0f}x, "
        f"per session {statistics.fmean(emb_session) / statistics.fmean(lex_session):.0f}x"
    )


if __name__ == "__main__":
    main()
