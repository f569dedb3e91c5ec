"""A task's state moves by one table; here it is, written out in full."""

from __future__ import annotations

import pytest

from taskbeat.tasks.state import (
    TaskEvent,
    TaskState,
    TaskStatus,
    next_state,
    state_after,
    task_status,
)

A, C, F, R = TaskState.ACTIVE, TaskState.COMPLETED, TaskState.FAILED, TaskState.RETRY_SCHEDULED
E = TaskEvent

# event: the state each of (active, completed, failed, retry-scheduled) moves to.
EXPECTED = {
    E.RAN_OUT: (C, C, F, R),
    E.SCHEDULE_ENDED: (C, C, C, C),
    E.REARMED: (A, A, F, R),
    E.ONLY_SLOT_SKIPPED: (F, F, F, F),
    E.SCHEDULE_BROKEN: (F, F, F, F),
    E.SUCCEEDED: (A, A, A, A),
    E.SUCCEEDED_LAST: (C, C, C, C),
    E.RETRY_SCHEDULED: (R, R, R, R),
    E.RETRIES_EXHAUSTED: (F, F, F, F),
    E.RETRIES_RESET: (A, C, A, A),
}


@pytest.mark.parametrize("event", list(TaskEvent))
def test_each_event_moves_each_state_as_the_table_says(event):
    assert tuple(next_state(state, event) for state in (A, C, F, R)) == EXPECTED[event]


@pytest.mark.parametrize("event", [E.SUCCEEDED, E.SUCCEEDED_LAST, E.RETRIES_EXHAUSTED])
def test_an_event_that_ignores_the_state_has_one_target_for_one_statement_writes(event):
    assert {next_state(state, event) for state in TaskState} == {state_after(event)}


def test_an_event_whose_target_depends_on_the_state_has_no_single_target():
    with pytest.raises(ValueError, match="depends on the current state"):
        state_after(E.RETRIES_RESET)


@pytest.mark.parametrize(
    ("state", "enabled", "running", "shown"),
    [
        (F, False, True, TaskStatus.PAUSED),  # paused over everything
        (F, True, True, TaskStatus.RUNNING),  # a run in progress over the stored state
        (R, True, False, TaskStatus.RETRY_SCHEDULED),
        (C, True, False, TaskStatus.COMPLETED),
        (A, True, False, TaskStatus.ACTIVE),
    ],
)
def test_the_status_shown_is_paused_over_running_over_the_state(state, enabled, running, shown):
    assert task_status(state, enabled=enabled, running=running) is shown
