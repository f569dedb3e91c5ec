"""The real Redis and PostgreSQL for integration and end-to-end tests.

URLs come from TEST_POSTGRES_URL (a database we may create databases from) and
TEST_REDIS_URL. Each test gets its own PostgreSQL database (dropped after) and
a Redis database number of its own kind (flushed before and after); nothing else on the
shared servers is touched. Without the servers these tests are skipped, unless CI is
set: then they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import NoReturn

import pytest
import redis
from sqlalchemy.exc import OperationalError

from bench.servers import database

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
INTEGRATION_REDIS_DB = 11
E2E_REDIS_DB = 12


def unavailable(what: str, error: Exception) -> NoReturn:
    message = f"{what} is not reachable ({error}); integration tests need it"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def postgres_database(*, migrated: bool = True) -> Iterator[str]:
    """A new database (migrated unless told not to); its URL. Dropped afterwards."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(database(POSTGRES_URL, "taskbeat_test", migrated=migrated))
        except OperationalError as exc:
            unavailable("PostgreSQL", exc)
        yield url


@contextmanager
def redis_database(number: int) -> Iterator[str]:
    """Redis database `number`, empty; its URL. Emptied again afterwards."""
    url = f"{REDIS_URL.rstrip('/')}/{number}"
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        client.close()
        unavailable("Redis", exc)
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


def unique_namespace() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"
