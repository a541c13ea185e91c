"""What the store can hold: client values are checked against it before anything is stored.

BSON and MongoDB refuse integers outside the signed 64-bit range, strings that are not
valid UTF-8 (a lone surrogate such as `"\\ud800"`, which JSON allows), keys holding a NUL,
keys that start with `$` or contain a `.`, and documents nested deeper than 100 levels.
NaN and Infinity would be stored but cannot be written back as JSON. A client value that
breaks one of these rules would fail the whole write it belongs to, so each client event
is checked on its own and refused with the path of the offending field: its neighbours
in the same batch are stored.

The checks walk the value with an explicit stack (never recursion) and count nesting
in raw JSON text without parsing it, so no input can exhaust the interpreter's stack.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from server.sessions.validation import printable

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# Nesting levels of objects and arrays inside one payload (MongoDB allows 100 per document).
MAX_DEPTH = 32
MAX_KEY_CHARS = 256
# Nesting of a whole request body or frame before it is parsed (envelope + payload + slack).
MAX_JSON_DEPTH = 64

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


@dataclass(frozen=True)
class Unstorable:
    """Why a value cannot be stored, and where (a dotted path; empty for the value itself)."""

    field: str
    message: str


def json_depth(text: str) -> int:
    """How deeply the JSON `text` nests arrays and objects, counted without parsing it."""
    brackets = _BRACKETS.findall(_STRINGS.sub('""', text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def nests_deeper_than(text: str, limit: int) -> bool:
    """Whether `json_depth(text) > limit`; text with no more opening brackets than `limit` is not read twice."""
    return text.count("[") + text.count("{") > limit and json_depth(text) > limit


def _path(parent: str, part: object) -> str:
    name = printable(str(part)[:MAX_KEY_CHARS])
    return f"{parent}.{name}" if parent else name


def _key_problem(key: object) -> str | None:
    if not isinstance(key, str):
        return "keys must be strings"
    if "\x00" in key:
        return "keys must not contain NUL"
    if key.startswith("$"):
        return "keys must not start with '$'"
    if "." in key:
        return "keys must not contain '.'"
    if len(key) > MAX_KEY_CHARS:
        return f"keys are at most {MAX_KEY_CHARS} characters"
    return _text_problem(key)


def _text_problem(text: str) -> str | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "text must be valid Unicode (no lone surrogates)"
    return None


def _scalar_problem(value: object) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if INT64_MIN <= value <= INT64_MAX else "integers must fit in 64 bits"
    if isinstance(value, float):
        return None if math.isfinite(value) else "numbers must be finite (no NaN or Infinity)"
    if isinstance(value, str):
        return _text_problem(value)
    return "not a JSON value"


# (key, parent's entry); the root's entry has the key None.
_Where = tuple[object, "_Where | None"]


def unstorable(value: Any, root: str = "") -> Unstorable | None:
    """The first rule `value` breaks (see the module docstring), or None when the store can hold it."""
    if not isinstance(value, dict | list):
        problem = _scalar_problem(value)
        return None if problem is None else Unstorable(root, problem)
    # Only containers go on the stack; each keeps its key and its parent's entry, so the dotted
    # path is built only for a problem. Scalars are checked in place, the common types first
    # (this runs on every client message).
    stack: list[tuple[Any, object, _Where | None, int]] = [(value, None, None, 0)]
    while stack:
        item, key, parent, depth = stack.pop()
        if depth >= MAX_DEPTH:
            return Unstorable(_dotted(root, key, parent), f"nested deeper than {MAX_DEPTH} levels")
        where = (key, parent)
        is_dict = isinstance(item, dict)
        for child_key, child in item.items() if is_dict else enumerate(item):
            if is_dict and not _plain_key(child_key) and (problem := _key_problem(child_key)) is not None:
                return Unstorable(_dotted(root, child_key, where), problem)
            kind = type(child)
            if kind is str:
                if child.isascii() or (problem := _text_problem(child)) is None:
                    continue
            elif kind is dict or kind is list or isinstance(child, dict | list):
                stack.append((child, child_key, where, depth + 1))
                continue
            elif (problem := _scalar_problem(child)) is None:
                continue
            return Unstorable(_dotted(root, child_key, where), problem)
    return None


def _plain_key(key: object) -> bool:
    """The common key, decided without `_key_problem`'s chain of checks."""
    return (
        type(key) is str
        and key.isascii()
        and len(key) <= MAX_KEY_CHARS
        and "." not in key
        and "\x00" not in key
        and not key.startswith("$")
    )


def _dotted(root: str, key: object, parent: _Where | None) -> str:
    parts: list[object] = []
    entry: _Where | None = (key, parent)
    while entry is not None and entry[1] is not None:  # the root's own key is not part of the path
        parts.append(entry[0])
        entry = entry[1]
    path = root
    for part in reversed(parts):
        path = _path(path, part)
    return path
