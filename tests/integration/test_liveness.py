"""Nothing run twice: a live run is never declared lost, a run that cannot show itself
alive is stopped, a process-killing handler ends failed, and a worker refuses a Redis
that may evict its queues. Real `taskbeat worker` processes, real PostgreSQL and Redis.

A worker is cut off from the database by closing the test's own database to new
connections and ending the worker's sessions (the server keeps running); a Redis the
test stops is one of its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.servers import redis_server
from scheduler.service import Scheduler
from taskbeat import store
from taskbeat.celery_app import make_celery
from taskbeat.clock import utcnow
from taskbeat.db import normalize_url
from taskbeat.models import Execution
from taskbeat.outbox.messages import RunMessage
from taskbeat.outbox.publisher import RedisPublisher
from taskbeat.settings import Settings
from taskbeat.status import ExecutionStatus
from taskbeat.tasks import operations
from taskbeat.tasks.fields import RunRequest, TaskDefinition
from tests.e2e.harness import BIN, ROOT, Service, wait_until
from tests.runs import claimed
from tests.services import POSTGRES_URL
from workers.heartbeat import FENCED_EXIT_CODE

QUICK = {"lost_after": 3.0, "heartbeat_interval": 0.5, "sweep_interval": 0.2}


@pytest.fixture
def quick(settings: Settings) -> Settings:
    return settings.model_copy(update=QUICK)


def worker_env(settings: Settings) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TASKBEAT_")}
    return {
        **base,
        "PYTHONPATH": str(ROOT),
        "TASKBEAT_DATABASE_URL": settings.database_url,
        "TASKBEAT_REDIS_URL": settings.redis_url,
        "TASKBEAT_NAMESPACE": settings.namespace,
        "TASKBEAT_DEFAULT_QUEUE": settings.default_queue,
        "TASKBEAT_HANDLER_MODULES": "tests.sample_handlers",
        "TASKBEAT_LOST_AFTER": str(settings.lost_after),
        "TASKBEAT_HEARTBEAT_INTERVAL": str(settings.heartbeat_interval),
    }


@contextmanager
def worker(settings: Settings, log_dir: Path, *celery_args: str) -> Iterator[Service]:
    service = Service("worker", [str(BIN / "taskbeat"), "worker", *celery_args],
                      worker_env(settings), log_dir)  # fmt: skip
    try:
        yield service
    finally:
        service.stop(timeout=20)


@contextmanager
def worker_cut_off_from_database(database_url: str) -> Iterator[None]:
    """The test's database takes no new connection and the workers' sessions end, until
    the block ends: the worker cannot reach the database, the test's own pool can."""
    name = normalize_url(database_url).database
    admin = create_engine(normalize_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND application_name = 'taskbeat-worker'"
                ),
                {"name": name},
            )
        yield
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()


def manual_run(sessions: sessionmaker[Session], registry, name: str, handler: str, **fields):
    now = utcnow()
    with sessions.begin() as session:
        definition = TaskDefinition(name=name, handler=handler, schedule="@daily", **fields)
        operations.create_task(session, definition, registry, now=now, default_queue="integration")
        execution, _ = operations.create_manual_run(
            session, name, RunRequest(), registry, now=now, lease_until=now
        )
    return execution


def runs_of(sessions: sessionmaker[Session], task_id: int) -> list[Execution]:
    with sessions() as session:
        query = select(Execution).where(Execution.task_id == task_id).order_by(Execution.id)
        return list(session.scalars(query))


def publish(settings: Settings, execution_id: int) -> None:
    publisher = RedisPublisher.from_settings(settings, make_celery(settings))
    try:
        assert publisher.publish([RunMessage(execution_id, settings.default_queue)])
    finally:
        publisher.close()


@contextmanager
def scheduler(settings: Settings, sessions: sessionmaker[Session], clock=utcnow):
    client = redis.Redis.from_url(settings.redis_url)
    publisher = RedisPublisher.from_settings(settings, make_celery(settings), client)
    try:
        yield Scheduler(settings, sessions, publisher, clock, client)
    finally:
        client.close()


def test_an_alive_key_keeps_a_run_cut_off_from_the_database_from_being_declared_lost(
    quick, sessions, registry, tmp_path
):
    live = manual_run(sessions, registry, "live", "sleep", params={"seconds": 8}, max_retries=1)
    dead = manual_run(sessions, registry, "dead", "echo", max_retries=0)
    claimed(sessions, dead.id, utcnow())  # a worker that died at once: no key, no stamps
    publish(quick, live.id)
    with scheduler(quick, sessions) as beat, worker(quick, tmp_path, "--pool=solo") as process:
        wait_until(lambda: runs_of(sessions, live.task_id)[0].status == "running", 30, "claim")
        beat.run_once()  # the scheduler's connection is open before the database closes
        with worker_cut_off_from_database(quick.database_url):
            deadline = time.monotonic() + quick.lost_after + 2.5
            while time.monotonic() < deadline:
                beat.run_once()
                time.sleep(0.1)
            [cut_off] = runs_of(sessions, live.task_id)
            [gone] = runs_of(sessions, dead.task_id)
        stale = (utcnow() - cut_off.heartbeat_at).total_seconds()
        assert stale > quick.lost_after, "the worker stamped its heartbeat after all"
        assert cut_off.status is ExecutionStatus.RUNNING
        assert gone.status is ExecutionStatus.LOST  # the sweep was trusting, and sweeping
        wait_until(lambda: runs_of(sessions, live.task_id)[0].status == "succeeded", 30, "end")
        assert process.process.poll() is None, process.log()
    assert len(runs_of(sessions, live.task_id)) == 1


def test_a_scheduler_that_regains_the_database_waits_lost_after_before_settling(
    quick, sessions, registry, clock
):
    execution = manual_run(sessions, registry, "quiet", "echo")
    with scheduler(quick, sessions, clock) as beat:
        beat.run_once()  # sets Redis's data epoch
        claimed(sessions, execution.id, clock())
        clock.advance(quick.lost_after * 2)
        with worker_cut_off_from_database(quick.database_url):
            admin = create_engine(normalize_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:  # the scheduler's sessions end too
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": normalize_url(quick.database_url).database},
                )
            admin.dispose()
            assert beat.run_once() == quick.scheduler_error_pause
        beat.run_once()
        clock.advance(quick.lost_after - 0.5)
        beat.run_once()
        assert runs_of(sessions, execution.task_id)[0].status is ExecutionStatus.RUNNING
        clock.advance(1)
        beat.run_once()
        assert runs_of(sessions, execution.task_id)[0].status is ExecutionStatus.LOST


def test_a_worker_that_can_show_its_run_alive_nowhere_ends_itself_before_lost_after(
    quick, sessions, registry, tmp_path
):
    with redis_server(tmp_path) as own:
        cut = quick.model_copy(update={"redis_url": own.url})
        execution = manual_run(sessions, registry, "long", "sleep", params={"seconds": 60})
        publish(cut, execution.id)
        with worker(cut, tmp_path, "--pool=solo") as process:
            wait_until(lambda: runs_of(sessions, execution.task_id)[0].status == "running",
                       30, "the claim")  # fmt: skip
            with worker_cut_off_from_database(cut.database_url):
                own.stop()
                cut_at = time.monotonic()
                code = process.process.wait(timeout=cut.lost_after + 10)
                took = time.monotonic() - cut_at
            assert code == FENCED_EXIT_CODE, process.log()
            assert "fenced: execution" in process.log()
            # Shown alive last at most a heartbeat before the cut: the process ended
            # before the sweeper could settle the run (lost_after after that).
            assert took < cut.lost_after - cut.heartbeat_interval, took
    assert runs_of(sessions, execution.task_id)[0].status is ExecutionStatus.RUNNING


def test_a_handler_that_kills_its_process_each_time_ends_failed_after_its_retries(
    quick, sessions, registry, tmp_path
):
    # The main process may notice a dead child seconds late: the sweeper must not win.
    quick = quick.model_copy(update={"lost_after": 20.0})
    execution = manual_run(
        sessions, registry, "poison", "end-process",
        max_retries=2, retry_delay=0.2,
    )  # fmt: skip
    publish(quick, execution.id)
    with scheduler(quick, sessions) as beat, worker(quick, tmp_path, "--pool=prefork", "-c1"):

        def settled() -> bool:
            beat.run_once()  # publishes each retry when it is due
            runs = runs_of(sessions, execution.task_id)
            return len(runs) == 3 and all(run.status == "failed" for run in runs)

        wait_until(settled, 60, "three failed attempts")
        time.sleep(1.0)  # the requeued messages come back, and are dropped
        beat.run_once()
    runs = runs_of(sessions, execution.task_id)
    assert [run.attempt for run in runs] == [1, 2, 3]
    for run in runs:
        assert run.status is ExecutionStatus.FAILED
        assert run.error_type == "WorkerLost"
        assert "its worker process died" in run.error_message
    with sessions() as session:
        assert store.tasks.get_task(session, execution.task_id).state == "failed"


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-random"])
def test_a_worker_refuses_a_redis_that_may_evict_its_queues(quick, tmp_path, policy):
    with redis_server(tmp_path, "--maxmemory", "64mb", "--maxmemory-policy", policy) as own:
        evicting = quick.model_copy(update={"redis_url": own.url})
        service = Service("worker", [str(BIN / "taskbeat"), "worker"], worker_env(evicting),
                          tmp_path)  # fmt: skip
        code = service.wait(timeout=30)
    assert code == 2
    assert f"maxmemory-policy is {policy}" in service.log()


def test_a_queue_list_carries_no_ttl_so_volatile_policies_keep_it(quick):
    # Why `volatile-*` is accepted: it evicts only keys with a TTL.
    execution_id = 10**9  # a message nobody consumes; its list is removed below
    publish(quick, execution_id)
    client = redis.Redis.from_url(quick.redis_url)
    try:
        assert client.ttl(quick.default_queue) == -1
    finally:
        client.delete(quick.default_queue)
        client.close()


RESUMED_HANDLER = """
import os, sys, time
from taskbeat.celery_app import make_celery
from taskbeat.clock import utcnow
from taskbeat.settings import Settings
from handlers import load_registry
from workers.app import RuntimeHolder

settings = Settings.from_env(os.environ)
holder = RuntimeHolder(settings, load_registry(settings), make_celery(settings))
holder.warm_up()  # what Celery has a new pool process do
runtime = holder.get()
with runtime.heartbeats.watching(1, utcnow()):
    for _ in range(20_000):  # a handler that notes each step it takes
        print(time.monotonic(), flush=True)
        time.sleep(0.001)
"""


def test_a_worker_process_woken_from_a_freeze_ends_before_its_handler_takes_a_step(quick):
    # The database is unreachable (its stamps fail), so only the Redis keys show the run
    # alive; frozen past fence_after, the process must end on SIGCONT, before the
    # handler's next step (the keys thread would only get its turn after it).
    env = {
        **worker_env(quick),
        "TASKBEAT_DATABASE_URL": "sqlite:////nonexistent/dir/taskbeat.db",
    }
    handler = subprocess.Popen(
        [sys.executable, "-c", RESUMED_HANDLER], env=env, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert handler.stdout is not None
        for _ in range(200):  # running, and shown alive a few times over
            handler.stdout.readline()
        time.sleep(3 * quick.heartbeat_interval)
        handler.send_signal(signal.SIGSTOP)
        time.sleep(quick.fence_seconds + 1)
        resumed = time.monotonic()
        handler.send_signal(signal.SIGCONT)
        steps, errors = handler.communicate(timeout=30)
    finally:
        handler.kill()
    assert handler.returncode == FENCED_EXIT_CODE, errors[-3000:]
    assert "not shown alive" in errors
    after = [float(line) for line in steps.split() if float(line) > resumed]
    assert after == [], f"the handler took {len(after)} steps after it was woken"
