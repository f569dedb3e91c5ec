"""The Alembic migration builds exactly the schema the models describe (SQLite here;
tests/integration checks PostgreSQL)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from taskbeat.db import make_engine
from taskbeat.errors import ConfigurationError
from taskbeat.migrate import current_revision, downgrade, head_revision, require_current, upgrade
from taskbeat.models import Base

# Alembic compares no index on an expression (the task list's orders); the EXPLAIN tests
# in tests/unit/test_listing_plans.py run on migrated databases and need them.
EXPRESSION_INDEXES_UNCOMPARED = pytest.mark.filterwarnings(
    "ignore:Skipped unsupported reflection of expression-based index",
    "ignore:autogenerate skipping",
)


@EXPRESSION_INDEXES_UNCOMPARED
def test_upgrade_builds_the_models_schema_and_downgrade_removes_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        assert current_revision(engine) == head_revision()
        require_current(engine)
        downgrade(url, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()


def test_a_database_not_at_head_is_refused_with_the_command_to_run(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(ConfigurationError, match="taskbeat db upgrade"):
            require_current(engine)
    finally:
        engine.dispose()
