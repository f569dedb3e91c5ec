"""The scheduler's sweep for lost runs: a `running` execution whose worker is gone is
settled as lost (or timed out, past its time limit) and retried by its task's policy.
Republishing queued runs is the outbox relay's step 6.

A run still alive must never be declared lost, whatever was down meanwhile, so a run is
settled only when all of these hold:
1. its database heartbeat is older than `lost_after`;
2. this scheduler has reached the database without a break for `lost_after` (a worker
   whose stamps failed during an outage has stamped again by then), counted from the
   scheduler's start;
3. Redis answered, and the run's alive key is gone (`taskbeat.executions.liveness`);
   Redis that cannot be asked settles nothing this sweep;
4. Redis has kept its data (its epoch key unchanged) for `lost_after`: keys lost with
   it have been set again by every live worker.
A worker that can show its run alive in neither place ends itself after `fence_after`,
before `lost_after` (`workers.heartbeat`), so a run settled here is not running.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import redis
from sqlalchemy.orm import Session, sessionmaker

from taskbeat import store
from taskbeat.clock import Clock
from taskbeat.executions import liveness
from taskbeat.executions.lifecycle import ErrorInfo, Outcome, record_failure
from taskbeat.logs import run_context
from taskbeat.settings import Settings
from taskbeat.status import ExecutionStatus
from taskbeat.store.sweeps import QuietRun

log = logging.getLogger(__name__)


class LostRunSweeper:
    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        client: redis.Redis,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._sessions = session_factory
        self._redis = client
        self._clock = clock
        started = clock()
        self._database_since: datetime | None = started
        self._epoch: bytes | None = None
        self._epoch_since = started

    def database_failed(self) -> None:
        """The database could not be reached: its outage may have kept workers from
        stamping their heartbeats."""
        self._database_since = None

    def database_answered(self) -> None:
        if self._database_since is None:
            self._database_since = self._clock()

    def sweep(self) -> int:
        """Settle the runs known to be dead, each in its own transaction; how many."""
        now = self._clock()
        quiet = self._stale_runs(now) if self._trusted(self._database_since, now) else []
        # Redis is asked on every sweep, stale runs or none: its epoch is watched all
        # along, so a loss of its data is seen when it happens, not at the next stale run.
        alive = self._shown_alive([run.execution.id for run in quiet], now)
        if alive is None:
            return 0
        return sum(self._settle(run, now) for run in quiet if run.execution.id not in alive)

    def _stale_runs(self, now: datetime) -> list[QuietRun]:
        with self._sessions() as session:
            return store.sweeps.stale_running(
                session, self._cutoff(now), self._settings.scheduler_batch_size
            )

    def _cutoff(self, now: datetime) -> datetime:
        """A heartbeat older than this is stale."""
        return now - timedelta(seconds=self._settings.lost_after)

    def _shown_alive(self, execution_ids: list[int], now: datetime) -> frozenset[int] | None:
        """The runs Redis shows alive; None when Redis cannot be trusted to say."""
        try:
            evidence = liveness.read(self._redis, self._settings.namespace, execution_ids)
        except (redis.RedisError, OSError) as exc:
            log.warning("Redis cannot say which runs are alive (%s); none settled", exc)
            return None
        if evidence.epoch is None or evidence.epoch != self._epoch:
            if self._epoch is not None or evidence.epoch is None:
                self._epoch_since = now  # Redis lost its data, alive keys with it
            self._epoch = evidence.epoch
        return evidence.alive if self._trusted(self._epoch_since, now) else None

    def _trusted(self, since: datetime | None, now: datetime) -> bool:
        return since is not None and (now - since).total_seconds() >= self._settings.lost_after

    def _settle(self, run: QuietRun, now: datetime) -> bool:
        with self._sessions.begin() as session:
            # Read again, locked: a stamp that landed since the sweep read the run means
            # its worker is alive. (A stamp after this waits for the settle, then finds
            # the run settled, and its worker fences itself at once.)
            if not store.sweeps.still_quiet(session, run.execution.id, self._cutoff(now)):
                return False
            recorded = record_failure(session, run.execution, settlement(run, now), now)
        if recorded is None:
            return False
        with run_context(run.execution.task_name, run.execution.id, run.execution.attempt):
            log.warning(
                "execution %s (task %s, attempt %s) %s; retry: %s",
                run.execution.id,
                run.execution.task_name,
                run.execution.attempt,
                recorded.status,
                recorded.retry_execution_id,
            )
        return True


def settlement(run: QuietRun, now: datetime) -> Outcome:
    """Past its task's timeout, the hard time limit killed it: timed out. Else: lost."""
    started = run.execution.started_at
    if run.timeout is not None and (now - started).total_seconds() > run.timeout:
        message = f"ran past its {run.timeout:g}s time limit; its worker process was stopped"
        return Outcome(ExecutionStatus.TIMED_OUT, error=ErrorInfo("TimeLimitExceeded", message))
    since = run.heartbeat_at.isoformat() if run.heartbeat_at else "its start"
    message = f"no heartbeat from worker {run.execution.worker} since {since}"
    return Outcome(ExecutionStatus.LOST, error=ErrorInfo("WorkerLost", message))
