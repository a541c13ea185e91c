"""Correctness: how many of the question's expected answer points the answer covers, and which. Pure."""

from __future__ import annotations

from server.sessions.scoring.matching import CoverageRule, PointSimilarity
from storage import DimensionScore, PointMatch, ScoreReason

# Below this share of a point's credit the evidence is too weak to name the point as partly covered.
PARTLY_AT = 0.4


def _credit(similarity: float, rule: CoverageRule) -> float:
    if similarity >= rule.covered:
        return 1.0
    return max(0.0, (similarity - rule.floor) / (rule.covered - rule.floor))


def _describe(match: PointSimilarity) -> str:
    parts = [f"similarity {match.similarity:.2f}"]
    if match.cosine is not None:
        parts.append(f"embedding cosine {match.cosine:.3f}")
    if match.matched_terms:
        parts.append("matched " + ", ".join(f"'{t}'" for t in match.matched_terms[:8]))
    return "; ".join(parts)


def correctness(
    points: list[str], matches: list[PointSimilarity], rule: CoverageRule
) -> tuple[DimensionScore, list[PointMatch]]:
    """100 when every point is covered; partial evidence for a point earns part of its share."""
    if not points:
        reason = ScoreReason(text="The question has no expected answer points: correctness is not assessed")
        return DimensionScore(score=0.0, reasons=[reason]), []
    found = [
        PointMatch(
            point=point,
            covered=match.similarity >= rule.covered,
            similarity=match.similarity,
            lexical=match.lexical,
            cosine=match.cosine,
            matched_terms=list(match.matched_terms),
            excerpt=match.excerpt,
        )
        for point, match in zip(points, matches, strict=True)
    ]
    credits = [_credit(m.similarity, rule) for m in matches]
    share = 100 / len(points)
    covered = sum(p.covered for p in found)
    reasons = [
        ScoreReason(
            text=f"Covers {covered} of {len(points)} expected points (each worth {share:.0f}); weaker evidence "
            f"for a point earns part of its share, in proportion to the similarity up to {rule.covered:.2f}"
        )
    ]
    weak: list[str] = []
    for point, match, credit in zip(found, matches, credits, strict=True):
        label = "Covered" if point.covered else "Partly" if credit >= PARTLY_AT else None
        if label is None:
            weak.append(f"{point.point} (similarity {match.similarity:.2f})")
            continue
        text = f"{label}: {point.point} ({_describe(match)}; {credit * share:.0f} of {share:.0f})"
        reasons.append(ScoreReason(text=text, evidence=_evidence(point)))
    if weak:
        reasons.append(ScoreReason(text="Little or no evidence for", evidence=weak))
    score = share * sum(credits)
    return DimensionScore(score=round(score, 1), reasons=reasons), found


def _evidence(point: PointMatch) -> list[str]:
    return [*point.matched_terms[:8], *([point.excerpt] if point.excerpt else [])]
