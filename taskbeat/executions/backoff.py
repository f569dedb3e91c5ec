"""Retry spacing as a pure function."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int
    delay: float  # seconds before the first retry
    factor: float = 2.0
    cap: float = 3600.0
    jitter: float = 0.0  # up to this fraction of the delay is added at random

    def has_retry_after(self, attempt: int) -> bool:
        """Whether a failed `attempt` (1-based) gets another one."""
        return attempt <= self.max_retries


def retry_delay(policy: RetryPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed `attempt` (1-based) before the next one:
    `min(delay * factor**(attempt-1), cap)`, plus up to `jitter` of that at random."""
    exponent = max(attempt - 1, 0)
    try:
        # float(): an int factor would build a huge integer before it overflowed.
        base = policy.delay * float(policy.factor) ** exponent
    except OverflowError:
        base = policy.cap if policy.delay > 0 else 0.0
    base = min(base, policy.cap)
    if policy.jitter > 0:
        base += base * policy.jitter * (rng or random).random()
    return base
