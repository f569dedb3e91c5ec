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


def scheduler_beacons_key(namespace: str) -> str:
    """A sorted set: each live scheduler process, scored by the time of its last beat."""
    return f"{namespace}:schedulers"


def scheduler_beacon_key(namespace: str, scheduler_id: str) -> str:
    """A hash of one scheduler's latest figures (expires with its heartbeat)."""
    return f"{namespace}:scheduler:{scheduler_id}"


def alive_key(namespace: str, execution_id: int) -> str:
    """A key that exists while a worker shows execution `execution_id` alive (it expires
    `lost_after` seconds after the worker last set it)."""
    return f"{namespace}:alive:{execution_id}"
