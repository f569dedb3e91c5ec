"""Handlers that exist only for tests: each shows one way a run can end."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from pydantic import BaseModel, Field
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from taskbeat.handler import HandlerContext, PermanentError, RetryableError, handler


@handler("async-echo", description="An async handler.")
async def async_echo(params: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"async": True, "params": params}


@handler("report-failure", description="Returns success: false.")
def report_failure(params: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
    return {"success": False, "error": "the remote said no"}


@handler("fail-permanently", description="Raises PermanentError.")
def fail_permanently(params: dict[str, Any], context: HandlerContext) -> None:
    raise PermanentError("bad configuration")


@handler("retry-later", description="Raises RetryableError with its own delay.")
def retry_later(params: dict[str, Any], context: HandlerContext) -> None:
    raise RetryableError("busy", retry_after=float(params.get("after", 7)))


@handler("odd-values", description="Returns or raises values JSON or PostgreSQL cannot hold.")
def odd_values(params: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
    context.logger.info("a NUL \x00 in a log line")
    if params.get("return"):
        return {"ratio": float("nan"), "big": float("inf"), "text": "a\x00b"}
    raise PermanentError("bad \x00 byte")


@handler("chatty", description="Logs many lines and returns a big result.")
def chatty(params: dict[str, Any], context: HandlerContext) -> str:
    for number in range(int(params.get("lines", 10))):
        context.logger.info("line %d", number)
    return "x" * int(params.get("size", 10))


@handler("hit-time-limit", description="Behaves as if Celery's soft time limit fired.")
def hit_time_limit(params: dict[str, Any], context: HandlerContext) -> None:
    raise SoftTimeLimitExceeded()


class CountParams(BaseModel):
    count: int = Field(ge=1, le=10)


@handler("needs-count", description="Has a params model.", params=CountParams)
def needs_count(params: CountParams, context: HandlerContext) -> dict[str, Any]:
    return {
        "count": params.count,
        "execution_count": context.execution_count,
        "last_execution": context.last_execution,
        "scheduled_at": context.scheduled_at.isoformat(),
        "periodicity": context.periodicity,
    }


# Runs of "count-runs" in this process, by execution id: shows a duplicate message ran nothing.
RUNS: dict[int, int] = {}


@handler("count-runs", description="Counts its runs in this process.")
def count_runs(params: dict[str, Any], context: HandlerContext) -> int:
    RUNS[context.execution_id] = RUNS.get(context.execution_id, 0) + 1
    return RUNS[context.execution_id]


@handler("cut-worker-connections", description="Ends every worker session of its database.")
def cut_worker_connections(params: dict[str, Any], context: HandlerContext) -> int:
    """As PostgreSQL does when it restarts or an operator terminates backends: the worker
    finds its connection dead when it next writes (here: the outcome)."""
    engine = create_engine(str(params["database_url"]), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            cut = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = 'taskbeat-worker'"
                    " AND datname = current_database()"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return int(cut)


@handler("end-process", description="Kills its worker process, as the OOM killer would.")
def end_process(params: dict[str, Any], context: HandlerContext) -> None:
    os.kill(os.getpid(), signal.SIGKILL)
