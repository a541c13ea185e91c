"""What the store can hold, checked in the core before anything is stored (pure, no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.sessions import (
    INT64_MAX,
    MAX_DEPTH,
    MAX_PAYLOAD_CHARS,
    MAX_TEXT_CHARS,
    DomainError,
    client_event_time,
    json_depth,
    nests_deeper_than,
    unstorable,
    validate_client_payload,
)


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"n": INT64_MAX + 1}, "n"),
        ({"n": -(2**63) - 1}, "n"),
        ({"list": [1, 2, float("nan")]}, "list.2"),
        ({"x": float("inf")}, "x"),
        ({"x": float("-inf")}, "x"),
        ({"a\x00b": 1}, "a\x00b"),
        ({"inner": {"$gt": ""}}, "inner.$gt"),
        ({"a.b": 1}, "a.b"),
        ({"k" * 300: 1}, "k" * 256),
        ({"text": "broken \ud800 pair"}, "text"),
        ({"\udfff": 1}, "\\udfff"),
        ({"a": [{"b": [1, float("nan")]}]}, "a.0.b.1"),
        ({"a": [{"ok": 1}, {"b": {"c$": 1, "$d": 2}}]}, "a.1.b.$d"),
    ],
)
def test_values_the_store_cannot_keep_are_named_by_their_path(value: dict[str, Any], field: str) -> None:
    problem = unstorable(value)
    assert problem is not None and problem.field == field


def test_nesting_is_bounded_without_recursing() -> None:
    assert unstorable(nested(MAX_DEPTH)) is None
    too_deep = unstorable(nested(MAX_DEPTH + 1))
    assert too_deep is not None and "nested deeper" in too_deep.message
    assert unstorable(nested(100_000)) is not None  # no RecursionError, however deep


def test_ordinary_json_is_storable() -> None:
    value = {"n": INT64_MAX, "f": 1.5, "s": "Привет 😀", "b": True, "z": None, "l": [{"k": [1, "2"]}], "": 0}
    assert unstorable(value) is None


def test_json_depth_counts_brackets_outside_strings() -> None:
    assert json_depth('{"a": [1, {"b": "[[[{{{"}]}') == 3
    assert json_depth('"just a string with [ and \\" and {"') == 0
    assert json_depth("[" * 100_000) == 100_000  # counted, not parsed


def test_nesting_past_a_limit_is_told_whatever_the_brackets_inside_strings() -> None:
    assert not nests_deeper_than('{"a": "' + "[" * 100 + '"}', 3)  # many brackets, all in a string
    assert not nests_deeper_than("[[[]]]", 3)
    assert nests_deeper_than("[[[[]]]]", 3)
    assert nests_deeper_than("[" * 100_000, 64)


@pytest.mark.parametrize("text", ["a" * MAX_TEXT_CHARS, "Ж" * MAX_TEXT_CHARS, "😀" * MAX_TEXT_CHARS])
def test_a_full_length_answer_fits_in_any_script(text: str) -> None:
    stored = validate_client_payload("answer.submit", {"questionId": "q-1", "text": text})
    assert stored["text"] == text


def test_text_longer_than_the_limit_is_refused() -> None:
    with pytest.raises(DomainError) as refused:
        validate_client_payload("transcript", {"text": "я" * (MAX_TEXT_CHARS + 1), "startMs": 0, "endMs": 1})
    assert refused.value.code == "VALIDATION_ERROR"


def test_the_rest_of_a_payload_is_counted_in_characters() -> None:
    fits = "Ж" * (MAX_PAYLOAD_CHARS - 100)  # 2 bytes each in UTF-8, 6 escaped: characters are what count
    assert validate_client_payload("event", {"name": "notes", "payload": {"blob": fits}})
    with pytest.raises(DomainError) as refused:
        validate_client_payload("event", {"name": "notes", "payload": {"blob": fits + "Ж" * 200}})
    assert refused.value.code == "PAYLOAD_TOO_LARGE" and refused.value.details == {"maxChars": MAX_PAYLOAD_CHARS}


def test_payload_problems_name_the_field() -> None:
    with pytest.raises(DomainError) as refused:
        validate_client_payload("event", {"name": "x", "payload": {"deep": {"bad\x00key": 1}}})
    assert refused.value.details == [{"field": "payload.deep.bad\x00key", "message": "keys must not contain NUL"}]
    with pytest.raises(DomainError) as big:
        validate_client_payload("transcript", {"text": "x", "startMs": 10**19, "endMs": 10**19})
    assert big.value.details[0]["field"] in ("startMs", "endMs")


def test_client_time_is_never_after_receipt_nor_older_than_the_window() -> None:
    received = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    far_future = datetime.fromisoformat("9999-12-31T23:59:59-12:00")  # past datetime's range once in UTC
    assert client_event_time(far_future, received) == received
    assert client_event_time(None, received) == received
    earlier = received - timedelta(days=3)
    assert client_event_time(earlier, received) == earlier
    for ancient in (received - timedelta(days=31), datetime.fromisoformat("0001-01-01T00:00:00+05:00")):
        with pytest.raises(DomainError) as refused:
            client_event_time(ancient, received)
        assert refused.value.details[0]["field"] == "ts"
