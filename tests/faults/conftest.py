"""Fixtures of the fault suite: one private PostgreSQL server for the session (each
scenario gets a database of its own on it), and a cluster per scenario."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from bench.servers import PostgresServer, database, postgres_server, redis_server
from tests.faults.cluster import Cluster

MakeCluster = Callable[..., AbstractContextManager[Cluster]]


@pytest.fixture(scope="session")
def shared_postgres() -> Iterator[PostgresServer]:
    """For scenarios that cut connections but leave the server running."""
    with _private_postgres() as server:
        yield server


@pytest.fixture
def cluster(tmp_path: Path, shared_postgres: PostgresServer) -> MakeCluster:
    """`with cluster(name) as c:` on the shared server, `cluster(name, server)` on another."""

    @contextmanager
    def make(name: str, server: PostgresServer | None = None) -> Iterator[Cluster]:
        with (
            database((server or shared_postgres).admin_url, "taskbeat_faults") as url,
            redis_server(tmp_path) as redis,
        ):
            made = Cluster(name, url, redis, tmp_path)
            try:
                yield made
            finally:
                made.close()

    return make


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A server of the scenario's own, which it may stop and start."""
    with _private_postgres() as server:
        yield server


@contextmanager
def _private_postgres() -> Iterator[PostgresServer]:
    # Not under tmp_path: pytest makes its parents private to root, and the server runs
    # as the postgres user.
    with (
        tempfile.TemporaryDirectory(prefix="taskbeat-faults-") as work_dir,
        postgres_server(Path(work_dir)) as server,
    ):
        yield server
