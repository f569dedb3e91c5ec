"""Integration tests run the shared fixtures (`engine`, `sessions`, ...) on a fresh
PostgreSQL database and Redis database number of their own."""

from __future__ import annotations

import pytest

from taskbeat.settings import Settings
from tests.services import unique_namespace


@pytest.fixture
def settings(postgres_url: str, redis_url: str) -> Settings:
    return Settings(
        database_url=postgres_url,
        redis_url=redis_url,
        namespace=unique_namespace(),
        default_queue="integration",
    )
