"""A small taskbeat cluster for one fault scenario: real processes on private servers.

A `Cluster` has its own database (on the session's private PostgreSQL, or on a server of
its own when the scenario stops PostgreSQL), its own Redis server, and the `taskbeat
scheduler` and `taskbeat worker` processes the scenario starts, with short intervals
(`FAST_SETTINGS`). Its tasks run the probe handler (`tests.faults.probe`) and end with
the window, so the ledger knows every slot they should have. `close()` kills what is left.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import func, select

from bench.servers import RedisServer
from taskbeat.clock import utcnow
from taskbeat.db import make_engine, make_session_factory
from taskbeat.handler import HandlerRegistry
from taskbeat.models import Execution, Task
from taskbeat.names import wakeup_channel
from taskbeat.tasks.fields import TaskDefinition
from taskbeat.tasks.operations import create_task
from tests.e2e.harness import BIN, ROOT, Service, wait_until
from tests.faults import ledger, probe

# Intervals shortened so that a fault is detected and recovered from in seconds; what
# the ledger checks is the same as with the defaults.
FAST_SETTINGS = {
    "TASKBEAT_HEARTBEAT_INTERVAL": "0.5",
    "TASKBEAT_LOST_AFTER": "3",
    "TASKBEAT_SWEEP_INTERVAL": "0.5",
    "TASKBEAT_SCHEDULER_MAX_SLEEP": "0.5",
    "TASKBEAT_SCHEDULER_ERROR_PAUSE": "0.3",
    "TASKBEAT_PUBLISH_LEASE": "2",
    "TASKBEAT_PUBLISH_RETRY_AFTER": "0.5",
    "TASKBEAT_REQUEUE_AFTER": "5",
    "TASKBEAT_HARD_TIMEOUT_GRACE": "1",
    "TASKBEAT_VISIBILITY_TIMEOUT": "30",
    "TASKBEAT_WORKER_REQUEUE_PAUSE": "0.3",
    "TASKBEAT_SCHEDULER_ALIVE_AFTER": "5",
    "TASKBEAT_LOG_LEVEL": "INFO",
    # A frozen process's transaction is ended this soon (the default is 10 s).
    "TASKBEAT_DB_IDLE_IN_TRANSACTION_TIMEOUT": "3",
}
LOST_AFTER = float(FAST_SETTINGS["TASKBEAT_LOST_AFTER"])
IDLE_IN_TRANSACTION = float(FAST_SETTINGS["TASKBEAT_DB_IDLE_IN_TRANSACTION_TIMEOUT"])
QUEUE = "faults"


class Cluster:
    def __init__(self, name: str, database_url: str, redis_server: RedisServer, work_dir: Path):
        self.name, self.database_url, self.redis = name, database_url, redis_server
        self.work_dir, self.journal = work_dir, work_dir / "journal.jsonl"
        # Pre-ping: the scenario may have cut or restarted the server under the pool.
        self.engine = make_engine(database_url, pool_size=2, pool_pre_ping=True)
        self.sessions = make_session_factory(self.engine)
        self.namespace = f"faults-{uuid.uuid4().hex[:8]}"
        self.services: list[Service] = []
        self.task_ids: list[int] = []
        self.expected: set[ledger.Slot] = set()
        self.window_end = utcnow()

    def environ(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("TASKBEAT_")}
        return {
            **base,
            **FAST_SETTINGS,
            "PYTHONPATH": str(ROOT),
            "TASKBEAT_DATABASE_URL": self.database_url,
            "TASKBEAT_REDIS_URL": self.redis.url,
            "TASKBEAT_NAMESPACE": self.namespace,
            "TASKBEAT_DEFAULT_QUEUE": QUEUE,
            "TASKBEAT_HANDLER_MODULES": probe.__name__,
        }

    def start(self, kind: str, *args: str) -> Service:
        name = f"{kind}-{len(self.services)}"
        service = Service(name, [str(BIN / "taskbeat"), kind, *args], self.environ(), self.work_dir)
        self.services.append(service)
        return service

    def scheduler(self) -> Service:
        return self.start("scheduler")

    def worker(self, concurrency: int = 2) -> Service:
        """A prefork worker, once it says it is ready to take messages."""
        number = len(self.services)
        service = self.start("worker", f"-c{concurrency}", f"--hostname=w{number}@%h")
        wait_until(lambda: "ready." in service.log(), 60, f"{service.name} to be ready")
        return service

    def add_tasks(
        self, count: int, schedule: str, *, lead: float, window: float, **settings: Any
    ) -> list[int]:
        """`count` probe tasks whose slots begin `lead` s from now and end `window` s
        later. Settings: task fields, and the probe's `sleep` and `mode`."""
        params = {"journal": str(self.journal)}
        params.update({k: settings.pop(k) for k in ("sleep", "mode") if k in settings})
        registry = HandlerRegistry.from_modules([probe])
        now = utcnow()
        start, end = now + timedelta(seconds=lead), now + timedelta(seconds=lead + window)
        with self.sessions.begin() as session:
            ids = [
                create_task(
                    session,
                    TaskDefinition.model_validate({
                        "name": f"{self.name}-{len(self.task_ids) + n}", "handler": "probe",
                        "schedule": schedule, "params": params, "start_at": start,
                        "end_at": end, **settings,
                    }),
                    registry, now=now, default_queue=QUEUE,
                ).id
                for n in range(count)
            ]  # fmt: skip
        with self.sessions() as session:
            self.expected |= ledger.expected_slots(session, ids)
        self.task_ids += ids
        self.window_end = max(self.window_end, end)
        self.wake()
        return ids

    def wake(self) -> None:
        with suppress(redis.RedisError):
            client = redis.Redis.from_url(self.redis.url, socket_timeout=1)
            client.publish(wakeup_channel(self.namespace), "wake")
            client.close()

    def settle(self, timeout: float) -> None:
        """Wait (at most `timeout` s past the window) until every slot of the window has
        been taken and no execution is unfinished. The ledger reports what is not."""
        deadline = time.monotonic() + max(0.0, (self.window_end - utcnow()).total_seconds())
        deadline += timeout
        while time.monotonic() < deadline and not self._quiet():
            time.sleep(0.2)

    def _quiet(self) -> bool:
        if utcnow() <= self.window_end:
            return False
        with self.sessions() as session:
            waiting = session.scalar(
                select(func.count()).where(
                    Task.id.in_(self.task_ids), Task.next_run_at.is_not(None)
                )
            )
            unfinished = session.scalar(
                select(func.count()).where(
                    Execution.task_id.in_(self.task_ids), Execution.status.in_(ledger.UNFINISHED)
                )
            )
        return waiting == 0 and unfinished == 0

    def audit(self, fault_end: float) -> ledger.Verdict:
        """Check every slot; print the scenario's summary line."""
        self.engine.dispose()  # its connections may have been cut by the fault
        with self.sessions() as session:
            verdict = ledger.audit(session, self.task_ids, self.expected, self.journal)
        print(verdict.summary(self.name, ledger.recovery(self.journal, fault_end)))
        return verdict

    def running_probe(self, task_ids: list[int], timeout: float = 20) -> int:
        """The pid of a probe attempt of one of these tasks that is running now."""
        return self.running_attempt(task_ids, timeout).pid

    def running_attempt(self, task_ids: list[int], timeout: float = 20) -> ledger.Attempt:
        """A probe attempt of one of these tasks that is running now."""

        def alive() -> ledger.Attempt | None:
            attempts = ledger.read_journal(self.journal)
            now = time.time()
            for (task, _), by_execution in attempts.items():
                for attempt in by_execution.values():
                    if task in task_ids and not attempt.done and now - attempt.last < 0.3:
                        return attempt
            return None

        return wait_until(alive, timeout, "a probe attempt to be running")

    def attempt(self, execution_id: int) -> ledger.Attempt:
        """The probe's attempt of this execution, as the journal has it now."""
        for by_execution in ledger.read_journal(self.journal).values():
            if execution_id in by_execution:
                return by_execution[execution_id]
        raise LookupError(f"the probe never ran execution {execution_id}")

    def finals(self, task_ids: list[int]) -> list[Execution]:
        """The last attempt of each slot of these tasks that has a row."""
        with self.sessions() as session:
            rows = session.scalars(
                select(Execution).where(Execution.task_id.in_(task_ids)).order_by(Execution.attempt)
            ).all()
        return list({(row.task_id, row.scheduled_for): row for row in rows}.values())

    def count(self, *conditions: Any) -> int:
        """Executions of this cluster's tasks that meet the conditions."""
        with self.sessions() as session:
            found = session.scalar(
                select(func.count()).where(Execution.task_id.in_(self.task_ids), *conditions)
            )
        return int(found or 0)

    def close(self) -> None:
        for service in self.services:
            with suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGKILL)
            service.wait(timeout=10)
        self.engine.dispose()
