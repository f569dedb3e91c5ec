"""The handlers a process can run, found in three places:

- modules in this package (drop a module here to add handlers);
- packages that declare modules under the `taskbeat.handlers` entry point group;
- modules named in TASKBEAT_HANDLER_MODULES (comma-separated).

Only these, chosen by whoever deploys taskbeat, are ever imported; a request can name a
registered handler but never cause an import.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from importlib.metadata import entry_points
from types import ModuleType

from taskbeat.errors import ConfigurationError
from taskbeat.handler import HandlerRegistry
from taskbeat.settings import Settings

ENTRY_POINT_GROUP = "taskbeat.handlers"


def load_registry(settings: Settings) -> HandlerRegistry:
    return HandlerRegistry.from_modules(_handler_modules(settings))


def _handler_modules(settings: Settings) -> Iterator[ModuleType]:
    for info in pkgutil.iter_modules(__path__, prefix=f"{__name__}."):
        if not info.name.rsplit(".", 1)[-1].startswith("_"):
            yield importlib.import_module(info.name)
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        yield entry_point.load()
    for name in settings.handler_modules:
        yield _import_configured(name)


def _import_configured(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigurationError(
            f"TASKBEAT_HANDLER_MODULES names {name!r}, which cannot be imported: {exc}"
        ) from exc
