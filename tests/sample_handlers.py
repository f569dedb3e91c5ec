"""Handlers that exist only for tests: each shows one way a run can end."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field

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
    raise RetryableError("busy", retry_after=7)


@handler("chatty", description="Logs many lines and returns a big result.")
def chatty(params: dict[str, Any], context: HandlerContext) -> str:
    for number in range(int(params.get("lines", 10))):
        context.logger.info("line %d", number)
    return "x" * int(params.get("size", 10))


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
