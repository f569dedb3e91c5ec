"""a success rewrites its task row in place: no index on a column every success writes
(state, last_success_at); failed tasks are found through a partial index instead; task
pages keep free room for in-place (HOT) updates

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FREE_ROOM_PERCENT = 20


def upgrade() -> None:
    op.drop_index("ix_tasks_state", "tasks")
    op.drop_index("ix_tasks_last_success_at", "tasks")
    op.create_index(
        "ix_tasks_failed",
        "tasks",
        ["id"],
        postgresql_where=sa.text("state = 'failed'"),
        sqlite_where=sa.text("state = 'failed'"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE tasks SET (fillfactor = {100 - FREE_ROOM_PERCENT})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE tasks RESET (fillfactor)")
    op.drop_index("ix_tasks_failed", "tasks")
    op.create_index("ix_tasks_last_success_at", "tasks", ["last_success_at"])
    op.create_index("ix_tasks_state", "tasks", ["state"])
