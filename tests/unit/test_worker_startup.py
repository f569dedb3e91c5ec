"""The checks a worker makes before it starts (the Redis refusal runs against a real
Redis in tests/integration/test_liveness.py)."""

from __future__ import annotations

import logging

from workers.startup import warn_if_visibility_timeout_short


def test_a_visibility_timeout_below_the_longest_run_is_warned_about(
    settings, engine, make_task, caplog
):
    make_task(name="short", timeout=60)
    short = settings.model_copy(update={"visibility_timeout": 100.0, "hard_timeout_grace": 10.0})
    with caplog.at_level(logging.WARNING, logger="workers.startup"):
        warn_if_visibility_timeout_short(short, engine)
    assert caplog.records == []
    make_task(name="long", timeout=95)
    with caplog.at_level(logging.WARNING, logger="workers.startup"):
        warn_if_visibility_timeout_short(short, engine)
    [warning] = caplog.records
    assert "below the longest task timeout plus its grace (105s)" in warning.getMessage()
