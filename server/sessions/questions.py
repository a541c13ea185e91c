"""Choosing a session's questions from the bank. Pure and deterministic per application."""

from __future__ import annotations

import random
from collections import defaultdict

from storage import Difficulty, InterviewSettings, QuestionDoc, QuestionSnapshot

_LEVELS = [Difficulty.JUNIOR, Difficulty.MID, Difficulty.SENIOR]


def _closeness(question: QuestionDoc, wanted: Difficulty) -> int:
    return abs(_LEVELS.index(question.difficulty) - _LEVELS.index(wanted))


def _role_rank(question: QuestionDoc, role: str | None) -> int:
    if role and role in question.tags:
        return 0
    return 1 if "general" in question.tags else 2


def select_questions(bank: list[QuestionDoc], settings: InterviewSettings, seed: str) -> list[QuestionSnapshot]:
    """Pick `question_count` questions, balanced across the wanted categories.

    The same seed (the application id) always gives the same questions, so the
    offline question pack a page caches matches what the server will ask.
    Within a category, questions at the wanted difficulty come first, then the
    nearest level; questions tagged with the role (or "general") are preferred.
    The application's `time_limit_seconds`, when set, replaces every question's own limit.
    """
    rng = random.Random(seed)
    by_category: dict[str, list[QuestionDoc]] = defaultdict(list)
    for question in sorted(bank, key=lambda q: q.id):
        if question.category in settings.categories:
            by_category[question.category.value].append(question)
    pools: list[list[QuestionDoc]] = []
    for category in settings.categories:
        pool = by_category.get(category.value, [])
        rng.shuffle(pool)
        pool.sort(key=lambda q: (_closeness(q, settings.difficulty), _role_rank(q, settings.role)))
        if pool:
            pools.append(pool)
    chosen: list[QuestionDoc] = []
    while len(chosen) < settings.question_count and any(pools):
        for pool in pools:
            if pool and len(chosen) < settings.question_count:
                chosen.append(pool.pop(0))
    return [
        QuestionSnapshot(
            id=q.id,
            number=i + 1,
            text=q.text,
            category=q.category,
            difficulty=q.difficulty,
            time_limit_seconds=settings.time_limit_seconds or q.time_limit_seconds,
            expected_answer_points=q.expected_answer_points,
        )
        for i, q in enumerate(chosen)
    ]
