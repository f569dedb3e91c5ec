"""/metrics: Prometheus text, computed from the database and Redis at each scrape.

Nothing is counted in this process: with many API and worker processes, per-process
counters would disagree. A custom collector reads bounded aggregates instead (what
finished in the last `WINDOW`, what is due now), so every API process answers the same.
Windowed figures are gauges; the histograms are gauge histograms over the same window.

Guarded: a request passes with TASKBEAT_METRICS_TOKEN as its bearer token, from an
address in TASKBEAT_METRICS_ALLOW, or with any API key.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta

from flask import Blueprint, Response, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.auth import identify
from api.monitor import Monitor, monitor
from api.problems import problem
from api.services import services
from taskbeat import store
from taskbeat.store.stats import Histogram

blueprint = Blueprint("metrics", __name__)
WINDOW = 3600.0
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600)
LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@blueprint.get("/metrics")
def metrics() -> Response:
    refused = _refused()
    if refused is not None:
        return refused
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TaskbeatCollector(monitor()))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE)


def _refused() -> Response | None:
    settings = services().settings
    if request.remote_addr and _allowed_address(request.remote_addr, settings.metrics_allow):
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token:
        if settings.metrics_token and hmac.compare_digest(token, settings.metrics_token):
            return None
        if identify(token) is not None:
            return None
    response = problem(401, "Unauthorized", "send the metrics token or an API key as a bearer")
    response.headers["WWW-Authenticate"] = 'Bearer realm="taskbeat"'
    return response


def _allowed_address(address: str, allowed: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False) for network in allowed)


class TaskbeatCollector(Collector):
    def __init__(self, found: Monitor) -> None:
        self._monitor = found

    def collect(self) -> Iterator[Metric]:
        found = self._monitor
        now = found.services.clock()
        since = now - timedelta(seconds=WINDOW)
        limit = found.services.settings.metrics_max_tasks
        with found.services.sessions() as session:
            window = store.stats.window_stats(session, since)
            durations = store.stats.histogram(session, since, "duration", DURATION_BUCKETS)
            lags = store.stats.histogram(session, since, "lag", LAG_BUCKETS)
            backlog = store.stats.backlog(session, now)
            successes = store.stats.last_successes(session, limit)
            tasks = store.stats.task_status_counts(session)
        executions = GaugeMetricFamily(
            "taskbeat_executions_finished",
            "Executions that finished in the last hour, by task and status",
            labels=["task", "status"],
        )
        for (_, name), outcomes in sorted(window.per_task.items(), key=lambda kv: kv[0][1]):
            for status, count in outcomes.by_status.items():
                executions.add_metric([name, status.value], count)
        yield executions
        yield _histogram(
            "taskbeat_execution_duration_seconds",
            "Run time of executions that finished in the last hour",
            durations,
        )
        yield _histogram(
            "taskbeat_execution_lag_seconds",
            "Delay from due time to start, of executions that finished in the last hour",
            lags,
        )
        yield _gauge(
            "taskbeat_due_executions",
            "Executions due and not yet published",
            backlog.due_executions,
        )
        yield _gauge(
            "taskbeat_due_tasks",
            "Tasks whose next slot has come and not been dispatched",
            backlog.due_tasks,
        )
        yield _gauge(
            "taskbeat_queued_executions",
            "Executions published, waiting for a worker",
            backlog.queued,
        )
        yield _gauge("taskbeat_running_executions", "Executions running now", backlog.running)
        waited = (
            0.0
            if backlog.oldest_waiting is None
            else (now - backlog.oldest_waiting).total_seconds()
        )
        yield _gauge(
            "taskbeat_oldest_waiting_seconds",
            "How long the longest-waiting due run has waited",
            max(waited, 0.0),
        )
        statuses = GaugeMetricFamily("taskbeat_tasks", "Tasks by status", labels=["status"])
        for status, count in tasks.items():
            statuses.add_metric([status.value], count)
        yield statuses
        last = GaugeMetricFamily(
            "taskbeat_task_last_success_timestamp_seconds",
            "When each task last succeeded (Unix time; 0: never)",
            labels=["task"],
        )
        for name, when in successes:
            last.add_metric([name], 0.0 if when is None else when.timestamp())
        yield last
        yield from self._redis_side()

    def _redis_side(self) -> Iterable[Metric]:
        view = self._monitor.redis_view()
        yield _gauge("taskbeat_redis_up", "1 when Redis answered", 0 if view.error else 1)
        if view.error is not None:
            return
        depth = GaugeMetricFamily(
            "taskbeat_queue_depth", "Messages waiting in each queue", labels=["queue"]
        )
        for queue, length in sorted((view.queue_depths or {}).items()):
            depth.add_metric([queue], length)
        yield depth
        schedulers = view.schedulers or []
        yield _gauge(
            "taskbeat_schedulers_alive",
            "Scheduler processes with a live heartbeat",
            len(schedulers),
        )
        wakeup = GaugeMetricFamily(
            "taskbeat_scheduler_wakeup_seconds",
            "The slowest scheduler wake-up in its last heartbeat interval",
            labels=["scheduler"],
        )
        for info in schedulers:
            wakeup.add_metric([info.id], info.wakeup_seconds)
        yield wakeup
        snapshot = self._monitor.workers()
        if snapshot is not None:
            yield _gauge(
                "taskbeat_workers_online",
                "Celery workers that answered inspect",
                len(snapshot.workers),
            )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _histogram(name: str, documentation: str, found: Histogram) -> GaugeHistogramMetricFamily:
    buckets = [
        (str(float(b)), float(c)) for b, c in zip(found.bounds, found.cumulative, strict=True)
    ]
    buckets.append(("+Inf", float(found.count)))
    return GaugeHistogramMetricFamily(name, documentation, buckets=buckets, gsum_value=found.total)
