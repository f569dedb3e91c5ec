"""A task's stored state, the events that move it, and the one table of moves.

What is stored is where the task stands with its schedule and its latest slot. Two
things are not stored but derived when a task is read, so no run has to write the
task row to say them: `paused` (the `enabled` flag) and `running` (the task has a
running execution). `task_status` combines the three into what the API shows.
"""

from __future__ import annotations

import enum


class TaskState(enum.StrEnum):
    ACTIVE = "active"  # has slots to come, or a run to finish
    COMPLETED = "completed"  # nothing left to run: a one-time task done, or past end_at/max_runs
    FAILED = "failed"  # the latest slot used up its retries (a recurring task keeps its schedule)
    RETRY_SCHEDULED = "retry-scheduled"  # the latest slot failed and has a retry waiting


class TaskStatus(enum.StrEnum):
    """What the API shows for a task: the stored state, or what overrides it."""

    ACTIVE = "active"
    PAUSED = "paused"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    RETRY_SCHEDULED = "retry-scheduled"


class TaskEvent(enum.StrEnum):
    RAN_OUT = "ran-out"  # re-armed with no slot left, after running before
    SCHEDULE_ENDED = "schedule-ended"  # a recurring task's last slot was taken, nothing runs
    REARMED = "rearmed"  # edited or resumed, and has a next slot
    ONLY_SLOT_SKIPPED = "only-slot-skipped"  # a one-time task's slot was skipped
    SCHEDULE_BROKEN = "schedule-broken"  # the stored schedule no longer parses
    SUCCEEDED = "succeeded"  # a run succeeded and slots remain
    SUCCEEDED_LAST = "succeeded-last"  # a run succeeded and no slot remains
    RETRY_SCHEDULED = "retry-scheduled"  # a run failed and its slot has a retry left
    RETRIES_EXHAUSTED = "retries-exhausted"  # a run failed for the last time
    RETRIES_RESET = "retries-reset"  # an admin forgave the failure streak


ANY = None  # a table key: from whatever state the task is in
_S = TaskState

# event -> {from state (ANY: any state not listed) -> to state}. A state with no entry
# for an event stays as it is.
_TRANSITIONS: dict[TaskEvent, dict[TaskState | None, TaskState]] = {
    TaskEvent.RAN_OUT: {_S.ACTIVE: _S.COMPLETED},
    TaskEvent.SCHEDULE_ENDED: {ANY: _S.COMPLETED},
    TaskEvent.REARMED: {_S.COMPLETED: _S.ACTIVE},
    TaskEvent.ONLY_SLOT_SKIPPED: {ANY: _S.FAILED},
    TaskEvent.SCHEDULE_BROKEN: {ANY: _S.FAILED},
    TaskEvent.SUCCEEDED: {ANY: _S.ACTIVE},
    TaskEvent.SUCCEEDED_LAST: {ANY: _S.COMPLETED},
    TaskEvent.RETRY_SCHEDULED: {ANY: _S.RETRY_SCHEDULED},
    TaskEvent.RETRIES_EXHAUSTED: {ANY: _S.FAILED},
    TaskEvent.RETRIES_RESET: {_S.FAILED: _S.ACTIVE, _S.RETRY_SCHEDULED: _S.ACTIVE},
}


def next_state(state: TaskState, event: TaskEvent) -> TaskState:
    """The state a task in `state` moves to when `event` happens."""
    moves = _TRANSITIONS[event]
    return moves.get(state, moves.get(ANY, state))


def state_after(event: TaskEvent) -> TaskState:
    """The state `event` leads to from any state: for writes that do not read the row
    first (the worker's one-statement outcome). Only for events that ignore the state."""
    moves = _TRANSITIONS[event]
    if set(moves) != {ANY}:
        raise ValueError(f"{event} depends on the current state")
    return moves[ANY]


def task_status(state: TaskState, *, enabled: bool, running: bool) -> TaskStatus:
    """What the API shows: paused over running over the stored state."""
    if not enabled:
        return TaskStatus.PAUSED
    if running:
        return TaskStatus.RUNNING
    return TaskStatus(state.value)
