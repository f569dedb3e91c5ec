"""Health, metrics and the dashboard's queries on PostgreSQL and a real Redis, with a real
worker and scheduler heartbeat: states forced by stopping the scheduler, then Redis."""

from __future__ import annotations

import time
import warnings
from datetime import timedelta

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.exceptions import CPendingDeprecationWarning
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event, func, select, text

from api.app import create_app
from api.services import EXTENSION
from scheduler.service import Scheduler
from taskbeat import store
from taskbeat.apikeys import create_key
from taskbeat.clock import utcnow
from taskbeat.db import one_statement
from taskbeat.executions.lifecycle import ErrorInfo, Outcome, record_success
from taskbeat.models import AlertDelivery, Execution
from taskbeat.monitoring.beacons import Beacon
from taskbeat.outbox.publisher import RecordingPublisher
from taskbeat.status import AlertEvent, ApiRole, ExecutionStatus
from taskbeat.store.listings import ExecutionFilter
from tests.e2e.harness import wait_until
from tests.runs import claimed, settle
from workers.app import create_worker_app


def test_health_goes_ok_then_degraded_without_a_scheduler_then_down_without_redis(
    settings, sessions, registry, own_redis
):
    url = own_redis.url
    settings = settings.model_copy(update={"redis_url": url})
    app = create_app(settings, registry=registry)
    client = app.test_client()
    beacon_redis = redis.Redis.from_url(url)
    beacon = Beacon(beacon_redis, settings.namespace, settings.scheduler_alive_after, utcnow)
    scheduler = Scheduler(
        settings, sessions, RecordingPublisher(), utcnow, beacon_redis, beacon=beacon
    )
    with sessions.begin() as session:
        _, key = create_key(session, name="ops", role=ApiRole.VIEWER, now=utcnow())
    try:
        worker_app = create_worker_app(settings, registry)
        with start_worker(worker_app, pool="threads", concurrency=1, perform_ping_check=False):
            # Celery's log set-up shows its pending deprecations always (over the suite's
            # filters). The one it gives when Redis stops below is about an option
            # taskbeat turns off on purpose (taskbeat.celery_app).
            warnings.filterwarnings(
                "ignore",
                r"(?s).*worker_cancel_long_running_tasks_on_connection_loss",
                CPendingDeprecationWarning,
            )
            scheduler.run_once()
            health = wait_until(lambda: _health(client, "ok"), 30, "health to be ok")
            assert health["components"]["scheduler"]["alive"] == 1
            assert health["components"]["workers"]["online"] == 1
            metrics = _scrape(client, key)
            assert metrics["taskbeat_schedulers_alive"] == [1.0]
            assert metrics["taskbeat_workers_online"] == [1.0]
            assert metrics["taskbeat_redis_up"] == [1.0]

            scheduler.stop()
            scheduler.run()  # a clean stop takes its heartbeat with it
            response = client.get("/api/v1/health")
            assert response.status_code == 200  # degraded stays in the load balancer
            body = response.get_json()
            assert body["status"] == "degraded"
            assert body["components"]["scheduler"] == {"status": "degraded", "alive": 0, "ids": []}

            own_redis.stop()
            response = client.get("/api/v1/health")
            assert response.status_code == 503
            body = response.get_json()
            assert body["status"] == "down"
            assert body["components"]["redis"]["status"] == "down"
            assert body["components"]["database"]["status"] == "ok"
    finally:
        beacon_redis.close()
        app.extensions[EXTENSION].engine.dispose()


def _health(client, wanted: str) -> dict | None:
    body = client.get("/api/v1/health").get_json()
    return body if body["status"] == wanted else None


def _scrape(client, key: str) -> dict[str, list[float]]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    families = text_string_to_metric_families(response.get_data(as_text=True))
    return {family.name: [sample.value for sample in family.samples] for family in families}


def test_metrics_on_postgresql_count_what_the_database_holds_and_queue_depth(
    settings, sessions, make_task, run_now, redis_url
):
    settings = settings.model_copy(update={"redis_url": redis_url})
    task = make_task(name="stuck", queue="nobody-listens")
    now = utcnow()
    for _ in range(3):  # three runs end: two succeed, one fails
        execution = run_now(task)
        run = claimed(sessions, execution.id, now)
        settle(sessions, run, Outcome(ExecutionStatus.SUCCEEDED), now)
    failing = claimed(sessions, run_now(task).id, now)
    settle(sessions, failing, Outcome(ExecutionStatus.FAILED, error=ErrorInfo("E", "x")), now)
    app = create_app(settings, registry=None)
    try:
        client = app.test_client()
        client.post("/api/v1/tasks/stuck/actions/run")  # refused: no key
        with sessions.begin() as session:
            _, key = create_key(session, name="ops", role=ApiRole.ADMIN, now=utcnow())
        response = client.post(
            "/api/v1/tasks/stuck/actions/run", headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 202  # published to a queue no worker reads
        text_body = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
        families = {
            f.name: f.samples
            for f in text_string_to_metric_families(text_body.get_data(as_text=True))
        }
    finally:
        app.extensions[EXTENSION].engine.dispose()
    finished = {s.labels["status"]: s.value for s in families["taskbeat_executions_finished"]}
    with sessions() as session:
        expected = dict(
            session.execute(
                select(Execution.status, func.count())
                .where(Execution.finished_at.is_not(None))
                .group_by(Execution.status)
            ).all()
        )
    assert finished == {status.value: count for status, count in expected.items()}
    assert finished == {"succeeded": 3, "failed": 1}
    depth = {s.labels["queue"]: s.value for s in families["taskbeat_queue_depth"]}
    assert depth["nobody-listens"] == 1
    last = families["taskbeat_task_last_success_timestamp_seconds"]
    assert last[0].value == pytest.approx(now.timestamp(), abs=5)


def test_the_success_that_ends_a_failure_streak_is_reported_by_its_one_statement(
    sessions, make_task, run_now, engine
):
    task = make_task(name="flaky")
    now = utcnow()
    failing = claimed(sessions, run_now(task).id, now)
    settle(sessions, failing, Outcome(ExecutionStatus.FAILED, error=ErrorInfo("E", "x")), now)
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    for expected_statements in (2, 1):  # ends the streak (and queues its notice); then not
        run = claimed(sessions, run_now(task).id, now)
        event.listen(engine, "before_cursor_execute", count)
        try:
            with one_statement(engine) as connection:
                assert record_success(connection, run, Outcome(ExecutionStatus.SUCCEEDED), now)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(statements) == expected_statements, statements
        statements.clear()
    with sessions() as session:
        events = [
            d.event for d in session.scalars(select(AlertDelivery).order_by(AlertDelivery.id))
        ]
        assert events == [AlertEvent.FAILED, AlertEvent.RECOVERED]
        assert store.tasks.get_task(session, task.id).last_success_at == now


def test_dashboard_and_metrics_queries_read_indexes_not_the_whole_history(
    sessions, make_task, engine
):
    tasks = [make_task(name=f"t{n}") for n in range(20)]
    now = utcnow()
    with engine.begin() as connection:
        # 50,000 finished runs spread over 50 days, and a few due now.
        connection.execute(
            text(
                "INSERT INTO executions (task_id, task_name, trigger, scheduled_for, manual_run,"
                " attempt, due_at, status, test_mode, created_at, started_at, finished_at,"
                " duration) SELECT :first + n % 20, 't' || (n % 20), 'schedule', at, 0, 1, at,"
                " CASE WHEN n % 7 = 0 THEN 'failed' ELSE 'succeeded' END, false, at,"
                " at + interval '1 second', at + interval '2 seconds', 1.0"
                " FROM (SELECT n, CAST(:now AS timestamptz) - n * interval '86 seconds' AS at"
                " FROM generate_series(1, 50000) AS n) AS rows"
            ),
            {"first": tasks[0].id, "now": now},
        )
        connection.execute(text("ANALYZE executions"))
        connection.execute(text("ANALYZE tasks"))
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, *args) -> None:
        if "executions" in statement and not statement.startswith("EXPLAIN"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with sessions() as session:
            hour, day = now - timedelta(hours=1), now - timedelta(days=1)
            store.stats.window_stats(session, hour)
            store.stats.status_counts(session, day)
            store.stats.p95_lag(session, hour)
            store.stats.histogram(session, hour, "duration", (0.5, 1, 5))
            store.stats.outcome_series(session, day, 3600)
            store.stats.backlog(session, now)
            store.listings.recent_outcomes(session, [task.id for task in tasks], 20)
            store.listings.list_executions(session, ExecutionFilter(tasks[3].id), limit=50)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(statements) >= 8
    with engine.connect() as connection:
        for statement, parameters in statements:
            plan = "\n".join(
                row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            )
            assert "Seq Scan on executions" not in plan, f"{statement}\n{plan}"


def test_a_worker_is_inspected_at_most_once_per_cache_period(settings, registry):
    # The second look is served from the snapshot: it costs no broadcast.
    app = create_app(settings, registry=registry)
    try:
        fleet = app.extensions["taskbeat.monitor"].fleet
        worker_app = create_worker_app(settings, registry)
        with start_worker(worker_app, pool="threads", concurrency=1, perform_ping_check=False):
            first = wait_until(lambda: (s := fleet.workers()) and s.workers and s, 30, "a worker")
            started = time.monotonic()
            assert fleet.workers() is first
            assert time.monotonic() - started < 0.1
            [worker] = first.workers
            assert worker.queues == [settings.default_queue]
            assert worker.pool == "thread" and worker.concurrency == 1
    finally:
        app.extensions[EXTENSION].engine.dispose()
