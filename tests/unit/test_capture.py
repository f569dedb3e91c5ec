"""Nothing a handler returns keeps its run from being recorded."""

from __future__ import annotations

import json

import pytest

from taskbeat.limits import MAX_JSON_DEPTH
from workers.capture import LineCapture, capped_result, run_logger


def nested(depth: int) -> list[object]:
    outer = inner = []  # type: ignore[var-annotated]
    for _ in range(depth - 1):
        inner.append([])
        inner = inner[0]
    return outer


def circular() -> list[object]:
    value: list[object] = []
    value.append(value)
    return value


@pytest.mark.parametrize(
    "value", [nested(MAX_JSON_DEPTH + 1), nested(900), nested(5000), circular()],
    ids=["past the limit", "900 deep", "5000 deep", "circular"],
)  # fmt: skip
def test_a_result_too_deep_or_circular_is_stored_as_a_truncated_note(value):
    result = capped_result(value, 65_536)
    assert result["truncated"] is True
    json.dumps(result)  # storable as it is


def test_a_result_within_the_limits_is_kept_as_it_is():
    assert capped_result(nested(MAX_JSON_DEPTH), 65_536) == nested(MAX_JSON_DEPTH)


def test_a_lone_surrogate_or_a_nul_is_shown_escaped():
    result = capped_result({"text": "a\ud800", "nul": "b\x00"}, 65_536)
    assert result == {"text": "a\\ud800", "nul": "b\\x00"}
    json.dumps(result).encode("utf-8")


@pytest.mark.parametrize("value", [None, True, False, 0, 1.5, "", "text", [], {}])
def test_plain_values_are_kept_as_they_are(value):
    assert capped_result(value, 65_536) == value
    assert type(capped_result(value, 65_536)) is type(value)


def test_each_run_logger_keeps_its_own_lines():
    first, second = LineCapture(10), LineCapture(10)
    run_logger("echo", first).warning("one")
    run_logger("echo", second).warning("two")
    assert [line.endswith("one") for line in first.result_lines()] == [True]
    assert [line.endswith("two") for line in second.result_lines()] == [True]
