"""Handlers for demos and tests: noop, echo, sleep, fail-n-times."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from taskbeat.handler import HandlerContext, RetryableError, handler


@handler("noop", description="Do nothing and succeed: for wiring checks and benchmarks.")
def noop(params: dict[str, Any], context: HandlerContext) -> None:
    return None


@handler("echo", description="Return the params it was given, with the run's context.")
def echo(params: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
    context.logger.info("echo for %s attempt %d", context.task_name, context.attempt)
    return {
        "params": params,
        "scheduled_at": context.scheduled_at.isoformat(),
        "attempt": context.attempt,
        "execution_count": context.execution_count,
        "test_mode": context.test_mode,
    }


class SleepParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(default=1.0, ge=0, le=86_400, description="How long to sleep")


@handler("sleep", description="Sleep for `seconds`, then succeed.", params=SleepParams)
def sleep(params: SleepParams, context: HandlerContext) -> dict[str, float]:
    context.logger.info("sleeping %.3fs", params.seconds)
    time.sleep(params.seconds)
    return {"slept": params.seconds}


class FailParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    failures: int = Field(
        default=1, ge=0, description="Attempts of a slot that fail before one succeeds"
    )
    message: str = Field(default="planned failure", max_length=1000)


@handler(
    "fail-n-times",
    description="Fail the first `failures` attempts of each slot, then succeed.",
    params=FailParams,
)
def fail_n_times(params: FailParams, context: HandlerContext) -> dict[str, int]:
    if context.attempt <= params.failures:
        context.logger.warning(
            "attempt %d of %d planned failures", context.attempt, params.failures
        )
        raise RetryableError(f"{params.message} (attempt {context.attempt})")
    return {"succeeded_on_attempt": context.attempt}
