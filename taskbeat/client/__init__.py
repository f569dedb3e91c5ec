"""A typed Python client of the taskbeat API: `Client(base_url, key)`.

    from taskbeat.client import Client

    with Client("http://127.0.0.1:8000", key) as api:
        task = api.create_task({"name": "hello", "handler": "echo", "schedule": "@hourly"})
        api.update_task("hello", {"max_retries": 3}, if_match=task.version)
        for execution in api.iter_executions(task="hello"):
            print(execution.status)

Answers are the API's own models (`TaskView`, `ExecutionView`, ...); an error answer is
raised as `ProblemError`, carrying the problem details. Needs httpx and pydantic only:
no Flask, SQLAlchemy or Celery (an import-linter contract checks it).
"""

from __future__ import annotations

from taskbeat.client.client import Client
from taskbeat.client.errors import ApiUnreachable, ProblemError

__all__ = ["ApiUnreachable", "Client", "ProblemError"]
