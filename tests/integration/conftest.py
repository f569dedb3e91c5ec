"""Integration tests run the shared fixtures (`engine`, `sessions`, ...) on a fresh
PostgreSQL database and Redis database number of their own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine

from bench.servers import RedisServer, redis_server
from taskbeat.clock import utcnow
from taskbeat.handler import HandlerRegistry
from taskbeat.outbox.publisher import RecordingPublisher
from taskbeat.settings import Settings
from tests.services import unique_namespace
from workers.app import make_runtime
from workers.execution import WorkerRuntime


@pytest.fixture
def settings(postgres_url: str, redis_url: str) -> Settings:
    return Settings(
        database_url=postgres_url,
        redis_url=redis_url,
        namespace=unique_namespace(),
        default_queue="integration",
    )


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own, on a spare port, that the test may stop."""
    with redis_server(tmp_path) as server:
        yield server


@pytest.fixture
def worker_runtime(
    settings: Settings, registry: HandlerRegistry
) -> Iterator[Callable[[Engine], WorkerRuntime]]:
    """What a worker process builds, on the engine given, with a recording publisher."""
    client = redis.Redis.from_url(settings.redis_url)
    yield lambda engine: make_runtime(
        settings, engine, registry, RecordingPublisher(), utcnow, client
    )
    client.close()
