"""Retry spacing: exponential growth, the cap, seeded jitter, and when retries run out."""

from __future__ import annotations

import math
import random

import pytest

from taskbeat.executions.backoff import RetryPolicy, retry_delay


def policy(**fields: float) -> RetryPolicy:
    return RetryPolicy(**{"max_retries": 3, "delay": 10.0, **fields})


@pytest.mark.parametrize(
    ("attempt", "expected"), [(1, 10.0), (2, 20.0), (3, 40.0), (4, 80.0), (5, 160.0)]
)
def test_the_delay_doubles_with_each_attempt_by_default(attempt, expected):
    assert retry_delay(policy(), attempt) == expected


@pytest.mark.parametrize(
    ("fields", "attempt", "expected"),
    [
        ({"delay": 5.0, "factor": 3.0}, 3, 45.0),
        ({"delay": 7.5, "factor": 1.0}, 9, 7.5),
        ({"delay": 2.0, "factor": 1.5}, 3, 4.5),
        ({"delay": 0.0}, 5, 0.0),
    ],
)
def test_the_delay_is_delay_times_factor_to_the_attempts_before(fields, attempt, expected):
    assert retry_delay(policy(**fields), attempt) == pytest.approx(expected)


@pytest.mark.parametrize(("attempt", "expected"), [(4, 80.0), (5, 100.0), (6, 100.0), (50, 100.0)])
def test_the_delay_stops_growing_at_the_cap(attempt, expected):
    assert retry_delay(policy(cap=100.0), attempt) == expected


def test_a_cap_below_the_first_delay_caps_the_first_delay_too():
    assert retry_delay(policy(delay=30.0, cap=5.0), 1) == 5.0


@pytest.mark.parametrize("attempt", [0, -3])
def test_an_attempt_below_one_waits_the_first_delay(attempt):
    assert retry_delay(policy(), attempt) == 10.0


@pytest.mark.parametrize("attempt", [1_025, 10_000, 10**9])
@pytest.mark.parametrize("factor", [1.5, 2.0, 10.0])
def test_a_huge_attempt_waits_the_cap_without_overflowing(attempt, factor):
    assert retry_delay(policy(factor=factor, cap=600.0), attempt) == 600.0


def test_a_huge_attempt_with_jitter_stays_finite_and_within_the_jittered_cap():
    delay = retry_delay(policy(cap=600.0, jitter=0.5), 10**6, random.Random(1))
    assert math.isfinite(delay)
    assert 600.0 <= delay <= 900.0


@pytest.mark.parametrize("attempt", [1, 2, 1_025, 10**6])
def test_a_zero_delay_stays_zero_at_any_attempt(attempt):
    assert retry_delay(policy(delay=0.0), attempt) == 0.0


@pytest.mark.parametrize("seed", range(50))
@pytest.mark.parametrize(("attempt", "base"), [(1, 10.0), (3, 40.0), (12, 3600.0)])
def test_jitter_adds_between_zero_and_its_fraction_of_the_delay(seed, attempt, base):
    delay = retry_delay(policy(jitter=0.25), attempt, random.Random(seed))
    assert base <= delay <= base * 1.25


def test_jitter_is_the_fraction_times_the_random_draw():
    expected = 40.0 + 40.0 * 0.5 * random.Random(42).random()
    assert retry_delay(policy(jitter=0.5), 3, random.Random(42)) == expected


def test_jitter_from_the_same_seed_is_the_same():
    first = [retry_delay(policy(jitter=1.0), n, random.Random(7)) for n in range(1, 6)]
    again = [retry_delay(policy(jitter=1.0), n, random.Random(7)) for n in range(1, 6)]
    assert first == again


def test_jitter_spreads_the_delays():
    rng = random.Random(3)
    delays = {retry_delay(policy(jitter=0.5), 2, rng) for _ in range(100)}
    assert len(delays) > 90
    assert min(delays) < 22.0
    assert max(delays) > 28.0


def test_without_jitter_the_random_source_is_not_used():
    rng = random.Random(5)
    state = rng.getstate()
    assert retry_delay(policy(), 2, rng) == 20.0
    assert rng.getstate() == state


def test_jitter_without_a_random_source_stays_within_bounds():
    assert all(20.0 <= retry_delay(policy(jitter=0.1), 2) <= 22.0 for _ in range(100))


@pytest.mark.parametrize(
    ("max_retries", "attempt", "expected"),
    [
        (0, 1, False),
        (1, 1, True),
        (1, 2, False),
        (3, 1, True),
        (3, 3, True),
        (3, 4, False),
        (3, 5, False),
    ],
)
def test_a_failed_attempt_gets_another_until_max_retries_are_used(max_retries, attempt, expected):
    assert policy(max_retries=max_retries).has_retry_after(attempt) is expected
