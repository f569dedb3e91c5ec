"""API keys salted and found by a non-secret lookup id, with their last use; the audit
trail; an index for each order and filter of the API's listings

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TASK_ORDERS = {
    # name: columns, in index order (a missing time sorts last either way)
    "ix_tasks_next_run_order": ["(next_run_at IS NULL)", "next_run_at", "id"],
    "ix_tasks_next_run_order_desc": ["(next_run_at IS NULL)", "next_run_at DESC", "id DESC"],
    "ix_tasks_last_run_order": ["(last_run_at IS NULL)", "last_run_at", "id"],
    "ix_tasks_last_run_order_desc": ["(last_run_at IS NULL)", "last_run_at DESC", "id DESC"],
}


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _keys_table() -> object:
    return op.batch_alter_table(
        "api_keys",
        recreate="always" if _sqlite() else "auto",
        table_kwargs={"sqlite_autoincrement": True},
    )


def upgrade() -> None:
    with _keys_table() as batch:  # type: ignore[attr-defined]
        batch.add_column(sa.Column("lookup_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch.alter_column("key_hash", existing_type=sa.String(64), type_=sa.String(200))
    # Older keys keep working: their unsalted hash is marked, and replaced at first use.
    op.execute("UPDATE api_keys SET lookup_id = 'legacy-' || id, key_hash = 'sha256$' || key_hash")
    with _keys_table() as batch:  # type: ignore[attr-defined]
        batch.alter_column("lookup_id", existing_type=sa.String(32), nullable=False)
        batch.create_unique_constraint("api_keys_lookup_id_key", ["lookup_id"])
        batch.drop_column("prefix")  # it held the key's first characters in plain text
    op.create_table(
        "audit",
        sa.Column("id", _id(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", _id(), nullable=True),
        sa.Column("role", sa.Enum("admin", "viewer", name="apirole", native_enum=False, length=32)),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sqlite_autoincrement=True,
    )
    op.drop_index("ix_executions_task_status", "executions")
    op.create_index("ix_executions_task_status", "executions", ["task_id", "status", "id"])
    op.create_index("ix_executions_status_id", "executions", ["status", "id"])
    op.create_index("ix_executions_trigger_id", "executions", ["trigger", "id"])
    for name, columns in TASK_ORDERS.items():
        op.create_index(name, "tasks", [sa.text(column) for column in columns])
    op.create_index("ix_tasks_created_at", "tasks", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_tasks_created_at", "tasks")
    for name in TASK_ORDERS:
        op.drop_index(name, "tasks")
    op.drop_index("ix_executions_trigger_id", "executions")
    op.drop_index("ix_executions_status_id", "executions")
    op.drop_index("ix_executions_task_status", "executions")
    op.create_index("ix_executions_task_status", "executions", ["task_id", "status"])
    op.drop_table("audit")
    # Salted hashes cannot be turned back: keys made since stop working.
    op.execute("DELETE FROM api_keys WHERE key_hash NOT LIKE 'sha256$%'")
    op.execute("UPDATE api_keys SET key_hash = substr(key_hash, 8)")
    with _keys_table() as batch:  # type: ignore[attr-defined]
        batch.add_column(sa.Column("prefix", sa.String(16), nullable=False, server_default=""))
        batch.drop_constraint("api_keys_lookup_id_key", type_="unique")
        batch.drop_column("lookup_id")
        batch.drop_column("last_used_at")
        batch.alter_column("key_hash", existing_type=sa.String(200), type_=sa.String(64))
