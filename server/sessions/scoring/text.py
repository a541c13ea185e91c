"""The words of an answer: tokens, a light stemmer, stop-words, synonyms and sentences. Pure and deterministic."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")

STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been before being below
    between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each etc
    few for from further get gets got had hadn't has hasn't have haven't having he he'd he'll he's her here here's
    hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself just let's like
    me more most mustn't my myself no nor not now of off on once only or other ought our ours ourselves out over own
    really same shan't she she'd she'll she's should shouldn't so some such than that that's the their theirs them
    themselves then there there's these they they'd they'll they're they've this those through thing things to too
    um uh umm uhh erm er hmm ah oh okay ok under until up very was wasn't we we'd we'll we're we've well were weren't
    what what's when when's where where's which while who who's whom why why's will with won't would wouldn't yeah
    yes you you'd you'll you're you've your yours yourself yourselves e g eg ie vs via one usually often generally
    always maybe probably actually basically lot lots kind sort way something someone make makes made go going
    describe describes describing explain explains explaining give gives giving show shows showing mention mentions
    discuss discusses including include includes
    """.split()
)
# Everyday words that prove little when an answer shares them with a point: they weigh half.
COMMON_WORDS = frozenset(
    """
    new old high low good bad great big small large part take takes put keep need needs want work works time times
    day days week weeks year years person thing system systems help start end case point place look find come know
    think see ask try feel become leave call different important able sure right long own first last next much many
    still even back around set run runs change changes better best less least every real make right well done
    """.split()
)

# Words that mean the same thing in an answer, mapped to one spelling before stemming.
SYNONYMS: dict[str, str] = {
    "db": "database",
    "databases": "database",
    "fetch": "retrieve",
    "fetches": "retrieve",
    "fetching": "retrieve",
    "reads": "read",
    "reading": "read",
    "colleague": "teammate",
    "colleagues": "teammate",
    "coworker": "teammate",
    "coworkers": "teammate",
    "peer": "teammate",
    "peers": "teammate",
    "boss": "manager",
    "lead": "manager",
    "customers": "user",
    "customer": "user",
    "clients": "user",
    "users": "user",
    "error": "failure",
    "errors": "failure",
    "fail": "failure",
    "fails": "failure",
    "failing": "failure",
    "failed": "failure",
    "broke": "failure",
    "broken": "failure",
    "toggle": "flag",
    "toggles": "flag",
    "revert": "rollback",
    "reverted": "rollback",
    "mutex": "lock",
    "mutexes": "lock",
    "locking": "lock",
    "quick": "fast",
    "quickly": "fast",
    "faster": "fast",
    "quicker": "fast",
    "speed": "fast",
    "latency": "slow",
    "slower": "slow",
    "slowness": "slow",
    "mistakes": "mistake",
    "bugs": "bug",
    "defect": "bug",
    "behaviour": "behavior",
    "optimise": "optimize",
    "analyse": "analyze",
    "estimates": "estimate",
    "estimation": "estimate",
    "deadline": "date",
    "deadlines": "date",
    "docs": "document",
    "documentation": "document",
    "writeup": "document",
    "stakeholders": "stakeholder",
    "inform": "tell",
    "informs": "tell",
    "notify": "tell",
    "told": "tell",
    "telling": "tell",
    "mocked": "stub",
    "mock": "stub",
    "mocks": "stub",
    "faked": "stub",
    "fake": "stub",
    "stubbed": "stub",
    "isolated": "isolation",
    "isolating": "isolation",
    "safely": "safe",
}
# Phrases written in several ways, normalised before tokenising.
_PHRASES = [
    (re.compile(r"\broll(?:ed|ing)?[ -]back\b"), "rollback"),
    (re.compile(r"\bpost[ -]?mortems?\b"), "postmortem"),
    (re.compile(r"\bb[ -]?trees?\b"), "btree"),
    (re.compile(r"\bn ?\+ ?1\b"), "nplusone"),
    (re.compile(r"\btrade[ -]?offs?\b"), "tradeoff"),
    (re.compile(r"\bkey[ -]value\b"), "keyvalue"),
    (re.compile(r"\bone[ -]on[ -]ones?\b"), "oneonone"),
    (re.compile(r"\bquery[ -]strings?\b"), "querystring"),
    (re.compile(r"\bside[ -]projects?\b"), "sideproject"),
]
_IRREGULAR = {
    "indices": "index",
    "indexes": "index",
    "indexing": "index",
    "indexed": "index",
    "analyses": "analysis",
    "people": "person",
    "children": "child",
}
_SUFFIXES = (
    ("ational", "ate"),
    ("ization", "ize"),
    ("isation", "ize"),
    ("ations", "ate"),
    ("ation", "ate"),
    ("ities", "ity"),
    ("ments", ""),
    ("ment", ""),
    ("ness", ""),
    ("ings", ""),
    ("ing", ""),
    ("ied", "y"),
    ("ies", "y"),
    ("ed", ""),
    ("ly", ""),
    ("s", ""),
)
_MIN_STEM = 3
_VOWELS = set("aeiouy")


@dataclass(frozen=True)
class Token:
    """A content word: as written (lower case), the term it is compared by, and whether it is an everyday word."""

    surface: str
    term: str
    common: bool = False


def normalise(text: str) -> str:
    """Lower case, one apostrophe, and the phrases that have several spellings written one way."""
    lowered = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    for pattern, replacement in _PHRASES:
        lowered = pattern.sub(replacement, lowered)
    return lowered


def words(text: str) -> list[str]:
    """Every word, stop-words and fillers included (lower case)."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix stripper: `caching`, `cached`, `caches` and `cache` all give `cach`."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.isdigit() or len(word) <= _MIN_STEM:
        return word
    current = word
    changed = True
    while changed:
        changed = False
        for suffix, replacement in _SUFFIXES:
            if current.endswith(suffix) and len(current) - len(suffix) + len(replacement) >= _MIN_STEM:
                if suffix == "s" and current.endswith(("ss", "us", "is")):
                    continue
                current = current[: len(current) - len(suffix)] + replacement
                changed = True
                break
    if current.endswith("e") and len(current) > _MIN_STEM + 1:
        current = current[:-1]
    if len(current) > _MIN_STEM + 1 and current[-1] == current[-2] and current[-1] not in _VOWELS | set("lsz"):
        current = current[:-1]
    return current


def tokens(text: str) -> list[Token]:
    """The content words of `text` in order, each with its comparison term."""
    found: list[Token] = []
    for word in _WORD.findall(normalise(text)):
        if word in STOP_WORDS:
            continue
        canonical = SYNONYMS.get(word, word)
        found.append(Token(word, stem(canonical), word in COMMON_WORDS))
    return found


def terms(text: str) -> list[str]:
    return [t.term for t in tokens(text)]


def bigrams(sequence: list[str]) -> set[tuple[str, str]]:
    """Adjacent pairs, and pairs one word apart, of a term sequence (order kept)."""
    pairs = set(itertools.pairwise(sequence))
    pairs |= {(a, b) for a, b in zip(sequence, sequence[2:], strict=False)}
    return pairs


def sentences(text: str) -> list[str]:
    """`text` split into sentences (and lines); empty pieces dropped."""
    return [piece.strip() for piece in _SENTENCE_END.split(text) if piece.strip()]
