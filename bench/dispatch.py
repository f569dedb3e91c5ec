"""Dispatch: due slots written, published and marked per second.

Against bare Celery publishing the same number of messages with `send_task` (one
publish each, as an app does), and against redis-py pushing as many messages of the
same size in pipelines (the most Redis can take from one client: the physical limit).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import redis

from bench.env import BenchEnv
from bench.seed import add_tasks
from bench.table import Row
from scheduler.dispatch import Dispatcher
from taskbeat.celery_app import make_celery
from taskbeat.db import make_session_factory
from taskbeat.names import RUN_EXECUTION
from taskbeat.outbox.messages import MessageBuilder, RunMessage
from taskbeat.outbox.publisher import PIPELINE_SIZE, RedisPublisher


def dispatch(env: BenchEnv, due: int) -> list[Row]:
    bare = _bare_send_task(env, due)
    limit = _pipelined_lpush(env, due)
    ours = _taskbeat_dispatch(env, due)
    ratio = ours / bare
    label = f"{due:,} due slots: written, published, marked"
    return [
        Row("dispatch", label, ours, bare, "slots/s", ">=1x (moonshot 5x)", ratio >= 1),
        Row("dispatch", "redis-py pipelined LPUSH (the limit)", limit, bare, "msgs/s"),
    ]


def _bare_send_task(env: BenchEnv, count: int) -> float:
    env.flush_redis()
    celery = make_celery(env.settings)
    started = time.perf_counter()
    with celery.producer_or_acquire() as producer:
        for number in range(count):
            celery.send_task(RUN_EXECUTION, args=[number], queue="bench", producer=producer)
    return count / (time.perf_counter() - started)


def _pipelined_lpush(env: BenchEnv, count: int) -> float:
    env.flush_redis()
    payload = MessageBuilder(make_celery(env.settings), 10.0).build(RunMessage(1, "bench")).payload
    client = redis.Redis.from_url(env.redis_url)
    started = time.perf_counter()
    for start in range(0, count, PIPELINE_SIZE):
        with client.pipeline(transaction=False) as pipe:
            for _ in range(min(PIPELINE_SIZE, count - start)):
                pipe.lpush("bench", payload)
            pipe.execute()
    elapsed = time.perf_counter() - started
    client.close()
    return count / elapsed


def _taskbeat_dispatch(env: BenchEnv, due: int) -> float:
    env.flush_redis()
    env.reset_database()
    now = datetime.now(UTC)
    add_tasks(env.engine, env.settings, due, due_at=now - timedelta(seconds=1), now=now)
    publisher = RedisPublisher.from_settings(env.settings, make_celery(env.settings))
    sessions = make_session_factory(env.engine)
    dispatcher = Dispatcher(env.settings, sessions, publisher, lambda: now)
    started = time.perf_counter()
    published = 0
    while True:
        result = dispatcher.tick()
        published += result.published
        if not result.more:
            break
    elapsed = time.perf_counter() - started
    publisher.close()
    assert published == due, (published, due)
    return due / elapsed
