"""monitoring and alerts: last success per task, alert fields and deliveries, indexes
for the dashboard's bounded windows

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32)


IDENTIFIER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TASK_COLUMNS = ("last_success_at", "webhook_url", "pause_on_failure")


def upgrade() -> None:
    # Columns are added and dropped in place, never by copying the table: SQLite's ADD and
    # DROP COLUMN keep the table AUTOINCREMENT and its expression indexes (0003), which a
    # copy would lose.
    op.add_column("tasks", sa.Column("last_success_at", UTC_TIME, nullable=True))
    op.add_column("tasks", sa.Column("webhook_url", sa.String(2000), nullable=True))
    op.add_column(
        "tasks",
        sa.Column("pause_on_failure", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    # The latest success each task had before this revision.
    op.execute(
        "UPDATE tasks SET last_success_at = (SELECT max(e.finished_at) FROM executions e "
        "WHERE e.task_id = tasks.id AND e.status = 'succeeded' AND e.test_mode = false)"
    )
    op.create_index("ix_tasks_state", "tasks", ["state"])
    op.create_index("ix_tasks_last_success_at", "tasks", ["last_success_at"])
    op.create_index("ix_executions_finished_at", "executions", ["finished_at"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", IDENTIFIER, primary_key=True),
        sa.Column("task_id", IDENTIFIER, nullable=False),
        sa.Column("task_name", sa.String(200), nullable=False),
        sa.Column("event", _enum("alertevent", "failed", "recovered"), nullable=False),
        sa.Column("execution_id", IDENTIFIER, nullable=True),
        sa.Column("url", sa.String(2000), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", _enum("deliverystatus", "pending", "sent", "failed"), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_TIME, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("sent_at", UTC_TIME, nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alert_deliveries_due", "alert_deliveries", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("alert_deliveries")
    op.drop_index("ix_executions_finished_at", "executions")
    op.drop_index("ix_tasks_last_success_at", "tasks")
    op.drop_index("ix_tasks_state", "tasks")
    for name in TASK_COLUMNS:
        op.drop_column("tasks", name)
