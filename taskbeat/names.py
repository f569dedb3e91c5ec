"""Every name that crosses a process boundary: Celery task names, queues, Redis channels."""

from __future__ import annotations

# Our single Celery task, named for what it does. Messages carry an execution id only.
RUN_EXECUTION = "taskbeat.run_execution"


def wakeup_channel(namespace: str) -> str:
    """Redis pub/sub channel the scheduler listens on; a message means 'look again now'."""
    return f"{namespace}:scheduler:wakeup"
