"""The public interface for handler authors: `@handler`, `HandlerContext`, the errors.

A handler module imports only this module:

    from taskbeat.handler import HandlerContext, handler

    @handler("greet", description="Say hello", params=GreetParams)
    def greet(params: GreetParams, context: HandlerContext) -> dict:
        context.logger.info("greeting %s", params.who)
        return {"greeting": f"hello {params.who}"}

The decorator only marks the function; a registry is built from modules, so no process
keeps a global list that tests must reset.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from types import ModuleType
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from taskbeat.errors import (
    ConfigurationError,
    HandlerNotFound,
    InvalidInput,
    PermanentError,
    RetryableError,
)

__all__ = [
    "HandlerContext",
    "HandlerRegistry",
    "HandlerSpec",
    "History",
    "PermanentError",
    "RetryableError",
    "handler",
]

HANDLER_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,199}$")
_MARK = "__taskbeat_handler__"
HandlerFunc = Callable[[Any, "HandlerContext"], Any | Awaitable[Any]]


class History(Protocol):
    """What a handler may read and do with taskbeat's own history (no database handle)."""

    def last_execution(self) -> dict[str, Any] | None:
        """The task's previous finished run (not skipped), as a summary, if any."""
        ...

    def prune(self, finished_before: datetime) -> int:
        """Delete executions of every task finished before this time; how many went."""
        ...


@dataclass
class HandlerContext:
    """What a handler is told about the run it is doing."""

    params: Any  # the params model instance, or a dict when the handler declares none
    task_id: int
    task_name: str
    execution_id: int
    scheduled_at: datetime  # the slot this run belongs to (a retry keeps its slot)
    periodicity: str  # the task's schedule as written
    execution_count: int  # slots the scheduler has dispatched for the task (run_count)
    attempt: int  # 1 for the first try of a slot, 2 for its first retry, ...
    test_mode: bool
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger]
    history: History = field(repr=False)

    @cached_property
    def last_execution(self) -> dict[str, Any] | None:
        """The previous finished run, if any: read from the database only when asked."""
        return self.history.last_execution()


@dataclass(frozen=True)
class HandlerSpec:
    name: str
    func: HandlerFunc
    description: str
    params_model: type[BaseModel] | None = None
    default_schedule: str | None = None

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.func)

    def validate_params(self, params: dict[str, Any]) -> Any:
        """The params the handler will get; a bad one raises InvalidInput('params.<field>')."""
        if self.params_model is None:
            return params
        try:
            return self.params_model.model_validate(params)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in ("params", *first["loc"]))
            raise InvalidInput(where, first["msg"]) from exc

    def params_schema(self) -> dict[str, Any] | None:
        return None if self.params_model is None else self.params_model.model_json_schema()


def handler(
    name: str,
    *,
    description: str | None = None,
    params: type[BaseModel] | None = None,
    schedule: str | None = None,
) -> Callable[[HandlerFunc], HandlerFunc]:
    """Mark a function as the handler called `name`."""
    if not HANDLER_NAME.match(name):
        raise ConfigurationError(
            f"handler name {name!r} must be lowercase letters, digits, '.', '_' or '-'"
        )

    def mark(func: HandlerFunc) -> HandlerFunc:
        text = description or inspect.getdoc(func) or ""
        spec = HandlerSpec(name, func, text.strip(), params, schedule)
        setattr(func, _MARK, spec)
        return func

    return mark


class HandlerRegistry:
    """The handlers a process knows, by name."""

    def __init__(self, specs: Iterable[HandlerSpec] = ()) -> None:
        self._specs: dict[str, HandlerSpec] = {}
        for spec in specs:
            known = self._specs.get(spec.name)
            if known is not None and known.func is not spec.func:
                raise ConfigurationError(
                    f"handler {spec.name!r} is defined twice: in {_where(known)} and {_where(spec)}"
                )
            self._specs[spec.name] = spec

    @classmethod
    def from_modules(cls, modules: Iterable[ModuleType]) -> HandlerRegistry:
        return cls(spec for module in modules for spec in _marked(module))

    def get(self, name: str) -> HandlerSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise HandlerNotFound(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[HandlerSpec]:
        return iter(sorted(self._specs.values(), key=lambda spec: spec.name))

    def __len__(self) -> int:
        return len(self._specs)


def _marked(module: ModuleType) -> Iterator[HandlerSpec]:
    for value in vars(module).values():
        spec = getattr(value, _MARK, None)
        if isinstance(spec, HandlerSpec):
            yield spec


def _where(spec: HandlerSpec) -> str:
    return f"{spec.func.__module__}.{spec.func.__qualname__}"
