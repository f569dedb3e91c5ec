"""Every name that crosses a process boundary: Celery task names, queues, Redis channels."""

from __future__ import annotations

# Our single Celery task, named for what it does. Messages carry an execution id only.
RUN_EXECUTION = "taskbeat.run_execution"


def broker_epoch_key(namespace: str) -> str:
    """A Redis key that lives as long as Redis keeps its data: when it is missing, the
    queues may have been lost with it (a restart without persistence, a flush)."""
    return f"{namespace}:broker-epoch"


def wakeup_channel(namespace: str) -> str:
    """Redis pub/sub channel the scheduler listens on; a message means 'look again now'."""
    return f"{namespace}:scheduler:wakeup"
