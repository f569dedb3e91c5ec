"""Run messages: an execution id for our one Celery task, in Celery's message protocol.

A message is built once, by Celery's own protocol builder, and wrapped the way kombu's
Redis transport stores a message, so it can be pushed in a pipeline with hundreds of
others instead of one kombu publish each. Any Celery worker, Flower or `celery inspect`
reads it as if `send_task` had sent it (tests/integration/test_messages.py checks both).
"""

from __future__ import annotations

import base64
import json
import uuid
from bisect import bisect
from dataclasses import dataclass

from celery import Celery
from kombu.transport.redis import Channel as RedisChannel

from taskbeat.names import RUN_EXECUTION

# Where kombu's Redis transport keeps a queue's messages of each priority step.
_PRIORITY_STEPS = tuple(RedisChannel.priority_steps)
_PRIORITY_SEPARATOR = RedisChannel.sep


@dataclass(frozen=True)
class RunMessage:
    """What a message for one execution says: its id, routed and limited as its task says."""

    execution_id: int
    queue: str
    priority: int = 0
    timeout: float | None = None


@dataclass(frozen=True)
class WireMessage:
    """A message ready for Redis: the list it goes on, and its bytes."""

    execution_id: int
    key: str
    payload: str


class MessageBuilder:
    """Builds wire messages for `run_execution` with the settings of one Celery app."""

    def __init__(self, celery: Celery, hard_timeout_grace: float) -> None:
        self._amqp = celery.amqp
        self._hard_timeout_grace = hard_timeout_grace

    def build(self, message: RunMessage) -> WireMessage:
        task_id = str(uuid.uuid4())
        soft, hard = None, None
        if message.timeout is not None:
            soft, hard = message.timeout, message.timeout + self._hard_timeout_grace
        celery_message = self._amqp.as_task_v2(
            task_id,
            RUN_EXECUTION,
            args=[message.execution_id],
            # What saferepr would write, without its cost (a tenth of a dispatch).
            argsrepr=f"[{message.execution_id}]",
            kwargsrepr="{}",
            soft_time_limit=soft,
            time_limit=hard,
        )
        body = json.dumps(celery_message.body).encode()
        envelope = {
            "body": base64.b64encode(body).decode("ascii"),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": celery_message.headers,
            "properties": {
                **celery_message.properties,
                "delivery_mode": 2,  # persistent
                "delivery_info": {"exchange": "", "routing_key": message.queue},
                "priority": message.priority,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
        key = _queue_key(message.queue, message.priority)
        return WireMessage(message.execution_id, key, json.dumps(envelope))


def _queue_key(queue: str, priority: int) -> str:
    """The Redis list kombu keeps `queue`'s messages of this priority in."""
    step = _PRIORITY_STEPS[bisect(_PRIORITY_STEPS, priority) - 1]
    return f"{queue}{_PRIORITY_SEPARATOR}{step}" if step else queue
