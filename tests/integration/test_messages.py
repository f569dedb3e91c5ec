"""The scheduler's pipelined messages are standard Celery messages: a stock Celery app,
knowing nothing of taskbeat, consumes one, and it carries what `send_task` would."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker

from taskbeat.celery_app import make_celery
from taskbeat.names import RUN_EXECUTION
from taskbeat.outbox.messages import RunMessage
from taskbeat.outbox.publisher import RedisPublisher

QUEUE = "stock"


@pytest.fixture
def publisher(settings) -> Iterator[RedisPublisher]:
    publisher = RedisPublisher.from_settings(settings, make_celery(settings))
    yield publisher
    publisher.close()


def stock_app(broker: str, seen: list[dict[str, Any]], done: threading.Event) -> Celery:
    """A plain Celery app with a task of our task's name that notes what it received."""
    app = Celery("stock", broker=broker, set_as_current=False)
    app.conf.update(task_acks_late=True, worker_prefetch_multiplier=1)

    @app.task(name=RUN_EXECUTION, bind=True, shared=False)  # type: ignore[untyped-decorator]
    def record(self: Any, execution_id: int) -> None:
        seen.append(
            {
                "args": [execution_id],
                "timelimit": list(self.request.timelimit or ()),
                "priority": self.request.delivery_info.get("priority"),
                "routing_key": self.request.delivery_info.get("routing_key"),
            }
        )
        if len(seen) == 2:
            done.set()

    return app


def test_a_stock_celery_worker_runs_a_pipelined_message(settings, publisher):
    seen: list[dict[str, Any]] = []
    done = threading.Event()
    app = stock_app(settings.redis_url, seen, done)
    with start_worker(app, pool="solo", queues=[QUEUE], perform_ping_check=False):
        messages = [RunMessage(42, QUEUE, priority=0, timeout=5.0), RunMessage(43, QUEUE, 5)]
        assert publisher.publish(messages) == [42, 43]
        assert done.wait(20), f"the stock worker ran {len(seen)} of 2 messages"
    by_id = {entry["args"][0]: entry for entry in seen}
    assert by_id[42] == {
        "args": [42], "timelimit": [5.0 + settings.hard_timeout_grace, 5.0],
        "priority": 0, "routing_key": QUEUE,
    }  # fmt: skip
    assert (by_id[43]["priority"], by_id[43]["timelimit"]) == (5, [None, None])


def test_a_pipelined_message_has_every_field_send_task_gives(settings, publisher):
    client = redis.Redis.from_url(settings.redis_url)
    celery = make_celery(settings)
    with celery.producer_or_acquire() as producer:
        celery.send_task(RUN_EXECUTION, args=[7], queue=QUEUE, producer=producer, retry=False)
    theirs = json.loads(client.rpop(QUEUE))
    publisher.publish([RunMessage(7, QUEUE)])
    ours = json.loads(client.rpop(QUEUE))
    client.close()
    assert set(ours) == set(theirs)
    assert set(ours["headers"]) == set(theirs["headers"])
    assert set(ours["properties"]) == set(theirs["properties"])
    assert ours["properties"]["delivery_info"] == theirs["properties"]["delivery_info"]
    assert ours["headers"]["task"] == theirs["headers"]["task"] == RUN_EXECUTION
    for shown in ("argsrepr", "kwargsrepr"):  # what Flower and `celery inspect` show
        assert ours["headers"][shown] == theirs["headers"][shown]
    assert (ours["content-type"], ours["content-encoding"]) == (
        theirs["content-type"], theirs["content-encoding"]
    )  # fmt: skip
