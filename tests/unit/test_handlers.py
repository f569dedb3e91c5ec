"""The handler registry and the built-in handlers, called as plain functions."""

from __future__ import annotations

import logging
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers import demo, load_registry
from taskbeat.errors import ConfigurationError, HandlerNotFound, InvalidInput, RetryableError
from taskbeat.handler import HandlerContext, HandlerRegistry, HandlerSpec, handler
from taskbeat.models import Execution
from taskbeat.status import ExecutionStatus, Trigger
from workers.history import StoreHistory


def context(sessions, clock, **values) -> HandlerContext:
    fields = {
        "params": {},
        "task_id": 1,
        "task_name": "t",
        "execution_id": 1,
        "scheduled_at": clock(),
        "periodicity": "@daily",
        "execution_count": 1,
        "attempt": 1,
        "test_mode": False,
        "logger": logging.getLogger("test"),
        # The worker's own history, on the unit database: a real part, not a stand-in.
        "history": StoreHistory(sessions, task_id=1, execution_id=1),
    }
    return HandlerContext(**{**fields, **values})


def test_the_package_registers_the_built_in_handlers(settings):
    names = [spec.name for spec in load_registry(settings)]
    assert {"echo", "sleep", "fail-n-times", "prune-history"} <= set(names)
    assert names == sorted(names)


def test_modules_named_in_settings_are_loaded(settings, tmp_path: Path, monkeypatch):
    (tmp_path / "my_handlers.py").write_text(
        textwrap.dedent(
            """
            from taskbeat.handler import handler

            @handler("greet")
            def greet(params, context):
                '''Say hello.'''
                return "hello"
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = load_registry(settings.model_copy(update={"handler_modules": ("my_handlers",)}))
    assert registry.get("greet").description == "Say hello."
    sys.modules.pop("my_handlers", None)


def test_a_module_that_cannot_be_imported_is_a_configuration_error(settings):
    with pytest.raises(ConfigurationError, match="no_such_module"):
        load_registry(settings.model_copy(update={"handler_modules": ("no_such_module",)}))


def test_two_handlers_with_one_name_are_refused():
    def one(params, context): ...

    def two(params, context): ...

    with pytest.raises(ConfigurationError, match="defined twice"):
        HandlerRegistry([HandlerSpec("same", one, ""), HandlerSpec("same", two, "")])


@pytest.mark.parametrize("name", ["", "Upper", "has space", "1starts-with-digit", "x" * 201])
def test_a_handler_name_must_be_lowercase_and_short(name):
    with pytest.raises(ConfigurationError):
        handler(name)


def test_an_unknown_name_raises_handler_not_found(registry):
    with pytest.raises(HandlerNotFound):
        registry.get("nope")


def test_params_errors_name_the_params_field(registry):
    with pytest.raises(InvalidInput) as caught:
        registry.get("sleep").validate_params({"seconds": -1})
    assert caught.value.field == "params.seconds"


def test_echo_returns_its_params(sessions, clock):
    result = demo.echo({"a": 1}, context(sessions, clock, attempt=2))
    assert result["params"] == {"a": 1}
    assert result["attempt"] == 2


def test_fail_n_times_fails_the_first_attempts_then_succeeds(sessions, clock):
    params = demo.FailParams(failures=2)
    for attempt in (1, 2):
        with pytest.raises(RetryableError, match=f"attempt {attempt}"):
            demo.fail_n_times(params, context(sessions, clock, attempt=attempt))
    assert demo.fail_n_times(params, context(sessions, clock, attempt=3)) == {
        "succeeded_on_attempt": 3
    }


def test_sleep_sleeps_the_time_asked(sessions, clock):
    assert demo.sleep(demo.SleepParams(seconds=0), context(sessions, clock)) == {"slept": 0}


def add_finished(sessions, clock, age_days: float, status=ExecutionStatus.SUCCEEDED) -> None:
    finished = clock() - timedelta(days=age_days)
    with sessions.begin() as session:
        session.add(
            Execution(
                task_id=7,
                task_name="old",
                trigger=Trigger.SCHEDULE,
                scheduled_for=finished,
                attempt=1,
                due_at=finished,
                status=status,
                created_at=finished,
                finished_at=finished,
            )
        )


def test_prune_history_deletes_only_finished_executions_older_than_the_cutoff(
    sessions, clock, registry
):
    add_finished(sessions, clock, age_days=40)
    add_finished(sessions, clock, age_days=10)
    prune = registry.get("prune-history")
    params = prune.validate_params({"older_than_days": 30})
    result = prune.func(params, context(sessions, clock))
    assert result["deleted"] == 1
    with sessions() as session:
        assert len(session.scalars(select(Execution)).all()) == 1


def test_prune_history_in_test_mode_deletes_nothing(sessions, clock, registry):
    add_finished(sessions, clock, age_days=40)
    prune = registry.get("prune-history")
    result = prune.func(prune.validate_params({}), context(sessions, clock, test_mode=True))
    assert result["deleted"] == 0
    with sessions() as session:
        assert len(session.scalars(select(Execution)).all()) == 1
