"""The fault suite's ledger: which slots a window should have, and what became of each.

1. `expected_slots` reads the tasks' fire times in the window from the schedules code
   (each scenario's tasks end at the window's end, so the list is finite).
2. The scenario runs its fault.
3. `audit` checks every slot against the database (its executions) and against the
   probe's journal (what really ran, whatever the database says):
   - exactly one final outcome: succeeded; failed, lost or timed_out after
     max_retries + 1 attempts; or skipped with a reason; nothing left scheduled, queued
     or running;
   - a handler that finished (`done` in the journal) is recorded succeeded, at most once;
   - no two attempts of one slot alive at the same time (from the journal's times).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from taskbeat.models import Execution, Task
from taskbeat.status import ExecutionStatus, Trigger
from taskbeat.tasks.slots import upcoming_slots

Slot = tuple[int, datetime]  # (task id, scheduled_for)
UNFINISHED = {ExecutionStatus.SCHEDULED, ExecutionStatus.QUEUED, ExecutionStatus.RUNNING}
GAVE_UP = {ExecutionStatus.FAILED, ExecutionStatus.LOST, ExecutionStatus.TIMED_OUT}
MAX_SLOTS_PER_TASK = 100_000


def expected_slots(session: Session, task_ids: list[int]) -> set[Slot]:
    tasks = session.scalars(select(Task).where(Task.id.in_(task_ids)))
    return {(task.id, at) for task in tasks for at in upcoming_slots(task, MAX_SLOTS_PER_TASK)}


@dataclass
class Attempt:
    """One attempt as the probe saw it: when it was first and last alive."""

    execution: int
    pid: int
    first: float
    last: float
    done: bool = False


def read_journal(path: Path) -> dict[Slot, dict[int, Attempt]]:
    """The probe's attempts by slot, then by execution id."""
    attempts: dict[Slot, dict[int, Attempt]] = defaultdict(dict)
    if not path.exists():
        return attempts
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        slot = (int(entry["task"]), datetime.fromisoformat(entry["slot"]))
        seen = attempts[slot].setdefault(
            entry["execution"], Attempt(entry["execution"], entry["pid"], entry["t"], entry["t"])
        )
        seen.first, seen.last = min(seen.first, entry["t"]), max(seen.last, entry["t"])
        seen.done = seen.done or entry["event"] == "done"
    return attempts


def starts_after(path: Path, moment: float) -> list[float]:
    """When attempts began after `moment` (epoch seconds), earliest first."""
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    return sorted(e["t"] for e in entries if e["event"] == "start" and e["t"] >= moment)


@dataclass
class Verdict:
    expected: int
    executed: int = 0
    lost: set[Slot] = field(default_factory=set)
    doubled: set[Slot] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def fault(self, slot: Slot, kind: set[Slot] | None, message: str) -> None:
        if kind is not None:
            kind.add(slot)
        self.problems.append(f"task {slot[0]} slot {slot[1].isoformat()}: {message}")

    def summary(self, name: str, recovery: float | None) -> str:
        recovered = "none" if recovery is None else f"{recovery:.1f}s"
        return (
            f"scenario {name}: slots expected {self.expected}, executed {self.executed}, "
            f"lost {len(self.lost)}, doubled {len(self.doubled)}, recovery {recovered}"
        )


def audit(session: Session, task_ids: list[int], expected: set[Slot], journal: Path) -> Verdict:
    rows = session.scalars(
        select(Execution).where(
            Execution.task_id.in_(task_ids), Execution.trigger != Trigger.MANUAL
        )
    ).all()
    limits = session.execute(select(Task.id, Task.max_retries).where(Task.id.in_(task_ids)))
    retries = {task_id: max_retries for task_id, max_retries in limits}
    by_slot: dict[Slot, list[Execution]] = defaultdict(list)
    for row in rows:
        by_slot[(row.task_id, row.scheduled_for)].append(row)
    ran = read_journal(journal)
    verdict = Verdict(expected=len(expected))
    verdict.executed = sum(1 for slot in expected if ran.get(slot))
    for slot in sorted(expected | set(by_slot) | set(ran)):
        _check_slot(verdict, slot, slot in expected, by_slot.get(slot, []), ran.get(slot, {}),
                    retries[slot[0]])  # fmt: skip
    return verdict


def _check_slot(
    verdict: Verdict,
    slot: Slot,
    is_expected: bool,
    rows: list[Execution],
    attempts: dict[int, Attempt],
    max_retries: int,
) -> None:
    if not is_expected:
        verdict.fault(slot, None, f"not a slot of the window, yet {len(rows)} rows ran")
    if not rows:
        verdict.fault(slot, verdict.lost, "no execution row")
        return
    _check_outcome(verdict, slot, rows, max_retries)
    _check_journal(verdict, slot, rows, attempts)


def _check_outcome(verdict: Verdict, slot: Slot, rows: list[Execution], max_retries: int) -> None:
    left = [row for row in rows if row.status in UNFINISHED]
    if left:
        verdict.fault(slot, verdict.lost, f"left {', '.join(r.status for r in left)}")
        return
    succeeded = [row for row in rows if row.status == ExecutionStatus.SUCCEEDED]
    if len(succeeded) > 1:
        verdict.fault(slot, verdict.doubled, f"{len(succeeded)} succeeded rows")
    final = max(rows, key=lambda row: row.attempt)
    if final.status == ExecutionStatus.SKIPPED and not final.error_message:
        verdict.fault(slot, verdict.lost, "skipped without a reason")
    elif final.status in GAVE_UP and final.attempt != max_retries + 1:
        verdict.fault(
            slot, verdict.lost, f"ended {final.status} after {final.attempt} of "
            f"{max_retries + 1} attempts",
        )  # fmt: skip
    elif final.status == ExecutionStatus.CANCELLED:
        verdict.fault(slot, verdict.lost, "cancelled")


def _check_journal(
    verdict: Verdict, slot: Slot, rows: list[Execution], attempts: dict[int, Attempt]
) -> None:
    status = {row.id: row.status for row in rows}
    done = [a for a in attempts.values() if a.done]
    if len(done) > 1:
        verdict.fault(slot, verdict.doubled, f"the handler finished {len(done)} times")
    for attempt in done:
        if status.get(attempt.execution) != ExecutionStatus.SUCCEEDED:
            verdict.fault(
                slot, verdict.lost, f"execution {attempt.execution} finished its handler "
                f"but is recorded {status.get(attempt.execution)}",
            )  # fmt: skip
    alive = sorted(attempts.values(), key=lambda a: a.first)
    for number, later in enumerate(alive[1:], start=1):
        earlier = max(alive[:number], key=lambda a: a.last)
        if later.first < earlier.last:
            verdict.fault(
                slot, verdict.doubled, f"executions {earlier.execution} and {later.execution} "
                f"ran side by side for {earlier.last - later.first:.1f}s",
            )  # fmt: skip


def recovery(path: Path, fault_end: float) -> float | None:
    """Seconds from the fault's end until work came back: until the last of the runs the
    fault interrupted was started again (retried, redelivered), or, if it interrupted
    none that came back, until the first run that started after it."""
    ran = read_journal(path)
    comebacks: list[float] = []
    for attempts in ran.values():
        interrupted = any(a.first < fault_end and not a.done for a in attempts.values())
        later = [a.first for a in attempts.values() if a.first >= fault_end]
        if interrupted and later:
            comebacks.append(min(later))
    if comebacks:
        return max(comebacks) - fault_end
    starts = starts_after(path, fault_end)
    return starts[0] - fault_end if starts else None
