"""On SQLite (migrated, as deployed), no listing sorts the rows it matched: each page is
read in order from an index. tests/integration/test_postgres.py checks PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from taskbeat.db import make_engine
from taskbeat.migrate import upgrade
from tests.listing_plans import SORT_STEP, page_queries, sqlite_plan


@pytest.fixture
def migrated(tmp_path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'plans.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_every_listing_reads_its_order_from_an_index_on_sqlite(migrated):
    queries = page_queries(migrated)
    assert len(queries) == 5 * 10 + 16 + 2
    for statement, parameters, few in queries:
        plan = sqlite_plan(migrated, statement, parameters)
        if few:  # read from the running executions' index, then sorted: a handful of rows
            assert "ix_executions_status_id" in plan, f"{statement}\n{plan}"
            continue
        # No sort step: the rows come in order from an index (or, by id, the table's own
        # rowid tree).
        assert not SORT_STEP.search(plan), f"{statement}\n{plan}"
