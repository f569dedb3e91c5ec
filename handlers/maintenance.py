"""Housekeeping handlers: prune-history."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from taskbeat.handler import HandlerContext, handler


class PruneParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    older_than_days: float = Field(
        default=30, gt=0, description="Delete finished executions older than this many days"
    )


@handler(
    "prune-history",
    description="Delete finished executions older than `older_than_days` days.",
    params=PruneParams,
    schedule="@daily",
)
def prune_history(params: PruneParams, context: HandlerContext) -> dict[str, object]:
    cutoff = context.scheduled_at - timedelta(days=params.older_than_days)
    if context.test_mode:
        context.logger.info("test mode: would delete executions finished before %s", cutoff)
        return {"deleted": 0, "cutoff": cutoff.isoformat(), "test_mode": True}
    deleted = context.history.prune(cutoff)
    context.logger.info("deleted %d executions finished before %s", deleted, cutoff)
    return {"deleted": deleted, "cutoff": cutoff.isoformat()}
