"""The queries, by noun. A query needed in two places lives here, once.

- `tasks`: task rows by id or name, the scheduler's due scan, the running overlay;
- `executions`: inserting execution rows, compare-and-set moves, cancelling, pruning;
- `runs`: the worker's two statements (claim, record the outcome) and the failure path;
- `prepared`: how those two run on PostgreSQL: on psycopg's cursor, prepared on the server;
- `outbox`: executions due to be published, their leases, the marks after publishing;
- `sweeps`: heartbeats and the running rows whose worker went quiet;
- `listings`: pages of tasks and executions for the API and the dashboard;
- `audit`: the API's audit trail;
- `stats`: bounded aggregates over recent history (stats, health, metrics, dashboard);
- `alerts`: alert deliveries, written with an outcome and sent by the scheduler.

Each function runs inside a transaction (or an autocommit connection) its caller owns;
none commits.
"""

from __future__ import annotations

from taskbeat.store import (
    alerts,
    audit,
    executions,
    listings,
    outbox,
    runs,
    stats,
    sweeps,
    tasks,
)

__all__ = [
    "alerts", "audit", "executions", "listings", "outbox", "runs", "stats", "sweeps", "tasks",
]  # fmt: skip
