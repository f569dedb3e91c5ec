"""history outlives its task without a foreign key; manual runs get their own slot key;
ids are never reused; a task's running status is derived, not stored

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's foreign key has no name; reflected under this convention, it gets one.
NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
OLD_SLOT_KEY = ["task_id", "scheduled_for", "attempt"]
NEW_SLOT_KEY = ["task_id", "scheduled_for", "manual_run", "attempt"]


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _foreign_key_name() -> str:
    return "fk_executions_task_id_tasks" if _sqlite() else "executions_task_id_fkey"


def _rebuilt_on_sqlite(table: str, **options: Any) -> Any:
    """Alter `table`; on SQLite copy it into a new one declared AUTOINCREMENT, so a
    deleted row's id is never handed out again (PostgreSQL sequences never do)."""
    return op.batch_alter_table(
        table,
        recreate="always" if _sqlite() else "auto",
        table_kwargs={"sqlite_autoincrement": True},
        **options,
    )


def upgrade() -> None:
    # A task's `running` is derived from its executions now.
    op.execute("UPDATE tasks SET state = 'active' WHERE state = 'running'")
    # History of tasks deleted before this revision: no task has id 0.
    op.execute("UPDATE executions SET task_id = 0 WHERE task_id IS NULL")
    with _rebuilt_on_sqlite("tasks") as batch:
        batch.add_column(sa.Column("manual_runs", sa.Integer(), nullable=False, server_default="0"))
    with _rebuilt_on_sqlite("executions", naming_convention=NAMING) as batch:
        batch.drop_constraint(_foreign_key_name(), type_="foreignkey")
        batch.alter_column("task_id", existing_type=sa.BigInteger(), nullable=False)
        batch.add_column(sa.Column("manual_run", sa.Integer(), nullable=False, server_default="0"))
        batch.drop_constraint("uq_executions_slot", type_="unique")
        batch.create_unique_constraint("uq_executions_slot", NEW_SLOT_KEY)
    if _sqlite():
        with _rebuilt_on_sqlite("api_keys"):
            pass


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_constraint("uq_executions_slot", type_="unique")
        batch.create_unique_constraint("uq_executions_slot", OLD_SLOT_KEY)
        batch.drop_column("manual_run")
        batch.alter_column("task_id", existing_type=sa.BigInteger(), nullable=True)
    op.execute("UPDATE executions SET task_id = NULL WHERE task_id NOT IN (SELECT id FROM tasks)")
    with op.batch_alter_table("executions") as batch:
        batch.create_foreign_key(
            _foreign_key_name(), "tasks", ["task_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("manual_runs")
