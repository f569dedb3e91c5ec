"""`taskbeat api`: serve the API with gunicorn."""

from __future__ import annotations

import gc
from typing import Any

import click
from flask import Flask
from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from api.app import create_app, ensure_admin_key
from api.services import EXTENSION
from taskbeat.migrate import require_current
from taskbeat.settings import Settings


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn serving an app we built, with options from our command line."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            if key in self.cfg.settings:  # a newer gunicorn's option is skipped on an older one
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


class RootLogger(glogging.Logger):  # type: ignore[misc]
    """Gunicorn's error and access lines through the root logger's handler, so they
    take TASKBEAT_LOG_FORMAT like every other line (one JSON object each, in json)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
            log.propagate = True


@click.command("api")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="Gunicorn processes.")
@click.option("--threads", default=4, show_default=True, type=int, help="Threads per process.")
@click.pass_obj
def command(settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    """Serve the HTTP API (and dashboard)."""
    app = create_app(settings, threads=threads)
    engine = app.extensions[EXTENSION].engine
    require_current(engine)
    ensure_admin_key(app)
    # The app is built before forking; each worker process gets fresh connections.
    engine.dispose()
    # What exists now (the app, the libraries) lives as long as the process: out of the
    # garbage collector's sight, a full collection does not walk it in the middle of a
    # request (tens of milliseconds at the tail of the latencies, measured by bench/api).
    gc.freeze()
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        # gthread, answering the requests gunicorn refuses with problem+json.
        "worker_class": "api.gunicorn_worker.ProblemWorker",
        "accesslog": "-",
        "logger_class": RootLogger,
        "graceful_timeout": 20,
        # One shared control socket path would clash between API processes on a host.
        "control_socket_disable": True,
    }
    GunicornServer(app, options).run()
