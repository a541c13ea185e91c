"""What a candidate gave for one question, taken from the review's grouping of the event log. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.sessions.review import QuestionReview
from server.sessions.scoring.text import sentences, words


@dataclass(frozen=True)
class SpokenLine:
    """One final transcript line; times in ms on its recogniser's clock (None when not sent)."""

    text: str
    start_ms: int | None = None
    end_ms: int | None = None


@dataclass(frozen=True)
class AnswerMaterial:
    """An answer's typed text and spoken lines, in the order they were given."""

    typed: str = ""
    spoken: list[SpokenLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """Everything the candidate gave: the typed text, then the spoken lines."""
        return "\n".join(part for part in [self.typed.strip(), *(line.text.strip() for line in self.spoken)] if part)

    @property
    def segments(self) -> list[str]:
        """Sentences of the typed text and the spoken lines: the units excerpts are taken from."""
        return [*sentences(self.typed), *(line.text.strip() for line in self.spoken if line.text.strip())]

    @property
    def word_count(self) -> int:
        return len(words(self.text))

    @property
    def spoken_words(self) -> int:
        return sum(len(words(line.text)) for line in self.spoken)

    @property
    def source(self) -> str:
        typed = bool(words(self.typed))
        spoken = self.spoken_words > 0
        return {(True, True): "typed+spoken", (True, False): "typed", (False, True): "spoken"}.get(
            (typed, spoken), "none"
        )


def material_of(review: QuestionReview) -> AnswerMaterial:
    """The answer to one reviewed question: its submitted text(s) and final transcript lines.

    The answers the server recorded come first (all submitted ones if none was
    recorded); a repeated text counts once. When both the browser's recogniser and
    the server's transcribed the same speech, only the one that heard more words is
    kept, so the answer is not counted twice.
    """
    answers = [a for a in review.answers if a.recorded] or review.answers
    typed = list(dict.fromkeys(a.text.strip() for a in answers if a.text and a.text.strip()))
    finals = [t for t in review.transcripts if t.final and t.text.strip()]
    by_source: dict[str, list[SpokenLine]] = {}
    for line in finals:
        by_source.setdefault(line.source, []).append(SpokenLine(line.text, line.start_ms, line.end_ms))
    notes: list[str] = []
    spoken: list[SpokenLine] = []
    if by_source:
        # Most words wins; on a tie the server's recogniser (sorted first) does.
        ranked = sorted(by_source.items(), key=lambda kv: (-sum(len(words(s.text)) for s in kv[1]), kv[0] != "server"))
        chosen, spoken = ranked[0]
        if len(ranked) > 1:
            notes.append(f"Transcript from the {chosen} recogniser; the other one heard the same speech")
    return AnswerMaterial(typed="\n".join(typed), spoken=spoken, notes=notes)
