"""Execution statuses, triggers and policies, and the one table of allowed execution moves.

A task's own state and its table live in `taskbeat.tasks.state`.
"""

from __future__ import annotations

import enum


class ExecutionStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # row written, not yet published (or due later: a retry)
    QUEUED = "queued"  # published to Redis
    RUNNING = "running"  # claimed by a worker
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"  # the slot was not run (overlap or misfire policy)
    LOST = "lost"  # the worker stopped heartbeating
    CANCELLED = "cancelled"

    @property
    def is_failure(self) -> bool:
        return self in FAILURE_STATUSES


class Trigger(enum.StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    RETRY = "retry"
    CATCH_UP = "catch-up"


class OverlapPolicy(enum.StrEnum):
    SKIP = "skip"  # a slot due while the previous run is active is recorded as skipped
    ALLOW = "allow"  # runs may overlap
    QUEUE_ONE = "queue_one"  # one slot waits behind the active run; later ones are skipped


class MisfirePolicy(enum.StrEnum):
    RUN_ONCE = "run_once"  # slots missed beyond the grace period collapse into one run
    SKIP = "skip"  # a slot missed beyond the grace period is recorded as skipped
    RUN_ALL = "run_all"  # every missed slot runs, up to a cap


class AlertEvent(enum.StrEnum):
    FAILED = "failed"  # a slot used up its retries
    RECOVERED = "recovered"  # the task succeeded again after such a failure


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # to send (again) at next_attempt_at
    SENT = "sent"
    FAILED = "failed"  # given up: attempts used up, or nowhere it may be sent


class ApiRole(enum.StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"


ACTIVE_STATUSES = frozenset(
    {ExecutionStatus.SCHEDULED, ExecutionStatus.QUEUED, ExecutionStatus.RUNNING}
)
FAILURE_STATUSES = frozenset(
    {ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.LOST}
)
FINAL_STATUSES = frozenset(ExecutionStatus) - ACTIVE_STATUSES

# The only moves an execution may make. Every status change is a compare-and-set whose
# WHERE clause is built from this table, so a stale writer changes nothing.
_TRANSITIONS: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    ExecutionStatus.SCHEDULED: frozenset(
        {ExecutionStatus.QUEUED, ExecutionStatus.RUNNING, ExecutionStatus.CANCELLED}
    ),
    # A worker may claim a row still marked scheduled: the mark after publishing can
    # lose the race with the worker.
    ExecutionStatus.QUEUED: frozenset({ExecutionStatus.RUNNING, ExecutionStatus.CANCELLED}),
    ExecutionStatus.RUNNING: frozenset(
        {
            ExecutionStatus.SUCCEEDED,
            ExecutionStatus.FAILED,
            ExecutionStatus.TIMED_OUT,
            ExecutionStatus.LOST,
            ExecutionStatus.CANCELLED,
        }
    ),
}


def allowed_sources(target: ExecutionStatus) -> frozenset[ExecutionStatus]:
    """The statuses an execution may move to `target` from."""
    return frozenset(source for source, targets in _TRANSITIONS.items() if target in targets)
