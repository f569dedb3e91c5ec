"""initial schema: tasks, executions, api_keys

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", _id(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("role", _enum("apirole", "admin", "viewer"), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("revoked_at", _time(), nullable=True),
    )
    op.create_table(
        "tasks",
        sa.Column("id", _id(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("handler", sa.String(200), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("recurring", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "state",
            _enum("taskstate", "active", "running", "completed", "failed", "retry-scheduled"),
            nullable=False,
        ),
        sa.Column("next_run_at", _time(), nullable=True, index=True),
        sa.Column("last_run_at", _time(), nullable=True),
        sa.Column("last_slot_at", _time(), nullable=True),
        sa.Column("run_count", sa.Integer(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("max_retries", sa.Integer(), nullable=False),
        sa.Column("retry_delay", sa.Float(), nullable=False),
        sa.Column("retry_backoff", sa.Float(), nullable=False),
        sa.Column("retry_backoff_max", sa.Float(), nullable=False),
        sa.Column("retry_jitter", sa.Float(), nullable=False),
        sa.Column("timeout", sa.Float(), nullable=True),
        sa.Column("overlap", _enum("overlappolicy", "skip", "allow"), nullable=False),
        sa.Column("misfire", _enum("misfirepolicy", "run_once", "skip", "run_all"), nullable=False),
        sa.Column("misfire_grace", sa.Float(), nullable=False),
        sa.Column("jitter", sa.Float(), nullable=False),
        sa.Column("start_at", _time(), nullable=True),
        sa.Column("end_at", _time(), nullable=True),
        sa.Column("max_runs", sa.Integer(), nullable=True),
        sa.Column("queue", sa.String(100), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "executions",
        sa.Column("id", _id(), primary_key=True),
        sa.Column("task_id", _id(), sa.ForeignKey("tasks.id", ondelete="SET NULL"), nullable=True),
        sa.Column("task_name", sa.String(200), nullable=False),
        sa.Column(
            "trigger", _enum("trigger", "schedule", "manual", "retry", "catch-up"), nullable=False
        ),
        sa.Column("scheduled_for", _time(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("due_at", _time(), nullable=False),
        sa.Column(
            "status",
            _enum(
                "executionstatus",
                "scheduled",
                "queued",
                "running",
                "succeeded",
                "failed",
                "timed_out",
                "skipped",
                "lost",
                "cancelled",
            ),
            nullable=False,
        ),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("test_mode", sa.Boolean(), nullable=False),
        sa.Column("publish_lease_until", _time(), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("enqueued_at", _time(), nullable=True),
        sa.Column("started_at", _time(), nullable=True),
        sa.Column("finished_at", _time(), nullable=True),
        sa.Column("heartbeat_at", _time(), nullable=True),
        sa.Column("worker", sa.String(255), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error_type", sa.String(255), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_traceback", sa.Text(), nullable=True),
        sa.Column("logs", sa.JSON(), nullable=True),
        sa.UniqueConstraint("task_id", "scheduled_for", "attempt", name="uq_executions_slot"),
    )
    op.create_index("ix_executions_status_due", "executions", ["status", "due_at"])
    op.create_index("ix_executions_task_status", "executions", ["task_id", "status"])
    op.create_index("ix_executions_task_id", "executions", ["task_id", "id"])


def downgrade() -> None:
    op.drop_table("executions")
    op.drop_table("tasks")
    op.drop_table("api_keys")
