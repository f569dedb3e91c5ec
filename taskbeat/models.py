"""The database schema: tasks, executions, API keys, the audit trail, alert deliveries
(SQLAlchemy 2 typed ORM)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Enum,
    Float,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from taskbeat.status import (
    AlertEvent,
    ApiRole,
    DeliveryStatus,
    ExecutionStatus,
    MisfirePolicy,
    OverlapPolicy,
    Trigger,
)
from taskbeat.tasks.state import TaskState

# BIGINT on PostgreSQL; SQLite only autoincrements a column declared INTEGER.
Identifier = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware UTC datetimes; SQLite (which keeps no zone) reads back as UTC too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: taskbeat stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum(cls: type[enum.StrEnum]) -> Enum:
    """Store an enum by its value, as a short string, on every database."""
    return Enum(
        cls,
        native_enum=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class Task(Base):
    """A task definition (the fields of `taskbeat.tasks.fields.TaskDefinition`, one column
    each, same name) and the scheduler's bookkeeping for it."""

    __tablename__ = "tasks"
    __table_args__ = (
        # Failed tasks (the dashboard's "needs attention"), from a partial index. No index
        # holds a column every success writes (state, last_success_at): a success then
        # rewrites the row in place (PostgreSQL's HOT update) without touching an index.
        Index(
            "ix_tasks_failed",
            "id",
            postgresql_where=text("state = 'failed'"),
            sqlite_where=text("state = 'failed'"),
        ),
        # Ids are never reused (SQLite reuses a deleted row's id without AUTOINCREMENT), so
        # a client holding an old id can never edit another task, and history keeps its
        # meaning.
        # Room on each page for those in-place rewrites.
        {"sqlite_autoincrement": True, "postgresql_with": {"fillfactor": 80}},
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    handler: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    schedule: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    recurring: Mapped[bool] = mapped_column(Boolean)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[TaskState] = mapped_column(_enum(TaskState), default=TaskState.ACTIVE)
    # NULL when nothing is to be dispatched (paused, completed, one-time and done), so the
    # scheduler's index scan only ever sees what is due.
    next_run_at: Mapped[datetime | None] = mapped_column(index=True)
    last_run_at: Mapped[datetime | None]
    # When a run of it last succeeded: written by the success statement itself (no extra
    # round trip), read by the metrics and the "no success in N periods" check.
    last_success_at: Mapped[datetime | None]
    # The latest slot the scheduler took (ran or skipped); a one-time task is done once
    # its time is taken, whatever happens to its history later.
    last_slot_at: Mapped[datetime | None]
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    # Numbers manual runs, so each has a slot key of its own (see Execution.manual_run).
    manual_runs: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    retry_count: Mapped[int] = mapped_column(Integer, default=0)

    max_retries: Mapped[int] = mapped_column(Integer, default=0)
    retry_delay: Mapped[float] = mapped_column(Float, default=60.0)
    retry_backoff: Mapped[float] = mapped_column(Float, default=2.0)
    retry_backoff_max: Mapped[float] = mapped_column(Float, default=3600.0)
    retry_jitter: Mapped[float] = mapped_column(Float, default=0.0)
    timeout: Mapped[float | None] = mapped_column(Float)
    overlap: Mapped[OverlapPolicy] = mapped_column(_enum(OverlapPolicy), default=OverlapPolicy.SKIP)
    misfire: Mapped[MisfirePolicy] = mapped_column(
        _enum(MisfirePolicy), default=MisfirePolicy.RUN_ONCE
    )
    misfire_grace: Mapped[float] = mapped_column(Float, default=60.0)
    jitter: Mapped[float] = mapped_column(Float, default=0.0)
    start_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]
    max_runs: Mapped[int | None] = mapped_column(Integer)
    queue: Mapped[str] = mapped_column(String(100))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    tags: Mapped[list[str]] = mapped_column(default=list)
    # Alerts: where this task's failure and recovery notices go (else the default in
    # settings), and whether a slot that used up its retries pauses the task.
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    pause_on_failure: Mapped[bool] = mapped_column(Boolean, default=False)

    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Bumped by definition changes only (the API), not by the scheduler's bookkeeping,
    # so a client's If-Match stays valid while the task runs.
    version: Mapped[int] = mapped_column(Integer, default=1)

    @property
    def anchor(self) -> datetime:
        """Where interval grids and `now` schedules are measured from."""
        return self.start_at or self.created_at


# The task list's orders (taskbeat.store.listings): tasks with no time come last either
# way, so the first key is whether the time is missing.
Index("ix_tasks_next_run_order", Task.next_run_at.is_(None), Task.next_run_at, Task.id)
Index(
    "ix_tasks_next_run_order_desc",
    Task.next_run_at.is_(None),
    Task.next_run_at.desc(),
    Task.id.desc(),
)
Index("ix_tasks_last_run_order", Task.last_run_at.is_(None), Task.last_run_at, Task.id)
Index(
    "ix_tasks_last_run_order_desc",
    Task.last_run_at.is_(None),
    Task.last_run_at.desc(),
    Task.id.desc(),
)
Index("ix_tasks_created_at", Task.created_at, Task.id)


class Execution(Base):
    __tablename__ = "executions"
    __table_args__ = (
        # One row per (slot, attempt): a slot cannot be enqueued twice, whoever tries.
        UniqueConstraint(
            "task_id", "scheduled_for", "manual_run", "attempt", name="uq_executions_slot"
        ),
        Index("ix_executions_status_due", "status", "due_at"),
        # The history's pages, newest first, by each filter (taskbeat.store.listings): no
        # page sorts the rows it matched.
        Index("ix_executions_task_status", "task_id", "status", "id"),
        Index("ix_executions_task_id", "task_id", "id"),
        Index("ix_executions_status_id", "status", "id"),
        Index("ix_executions_trigger_id", "trigger", "id"),
        # Stats, charts and metrics read bounded windows of recent outcomes by this.
        Index("ix_executions_finished_at", "finished_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    # History outlives its task, so this is not a foreign key: deleting a task leaves
    # its executions as they are (no rewrite of a long history, and no lock a running
    # worker could wait on). Task ids are never reused.
    task_id: Mapped[int] = mapped_column(Identifier)
    task_name: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[Trigger] = mapped_column(_enum(Trigger))
    scheduled_for: Mapped[datetime]
    # 0 for a slot of the schedule; n for the task's n-th manual run (and its retries),
    # whose slot is the time it was asked for: two manual runs, or a manual run and a
    # scheduled slot at the same instant, never share a key.
    manual_run: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    due_at: Mapped[datetime]
    status: Mapped[ExecutionStatus] = mapped_column(_enum(ExecutionStatus))
    # Nullable JSON columns keep Python None as SQL NULL, not the JSON text 'null'.
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # run-now
    test_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set while one scheduler publishes the row; another publishes it only after expiry.
    publish_lease_until: Mapped[datetime | None]

    created_at: Mapped[datetime]
    enqueued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(255))
    duration: Mapped[float | None] = mapped_column(Float)
    result: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))
    error_type: Mapped[str | None] = mapped_column(String(255))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_traceback: Mapped[str | None] = mapped_column(Text)
    logs: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))


class AlertDelivery(Base):
    """One notice to send (a slot failed for the last time; the task succeeded again),
    written in the transaction that saw it happen and sent later by the scheduler's
    alert sender, with retries: an outbox of webhook calls."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        Index("ix_alert_deliveries_due", "status", "next_attempt_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    task_id: Mapped[int] = mapped_column(Identifier)
    task_name: Mapped[str] = mapped_column(String(200))
    event: Mapped[AlertEvent] = mapped_column(_enum(AlertEvent))
    execution_id: Mapped[int | None] = mapped_column(Identifier)
    # The task's own webhook when the notice was written; NULL: the default in settings.
    url: Mapped[str | None] = mapped_column(String(2000))
    payload: Mapped[dict[str, Any]]
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When the sender may (next) try it; moved forward while a sender holds it (a lease).
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    response_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)


class ApiKey(Base):
    """An API key: its non-secret lookup id and a salted hash (see taskbeat.apikeys)."""

    __tablename__ = "api_keys"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    lookup_id: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[ApiRole] = mapped_column(_enum(ApiRole))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class AuditEntry(Base):
    """A change made through the API, or a request it refused: who, what, when, how."""

    __tablename__ = "audit"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    at: Mapped[datetime]
    # No foreign key: the trail outlives a deleted key, and is written without a lock.
    key_id: Mapped[int | None] = mapped_column(Identifier)
    role: Mapped[ApiRole | None] = mapped_column(_enum(ApiRole))
    action: Mapped[str] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(10))
    target: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str] = mapped_column(String(64))
