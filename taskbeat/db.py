"""Engines and sessions for SQLite and PostgreSQL, sized for each kind of process."""

from __future__ import annotations

import contextlib
import enum
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from taskbeat.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
AUTOCOMMIT = "AUTOCOMMIT"
# An execution option saying the engine's connections come out in autocommit.
_AUTOCOMMIT_MARK = "taskbeat_autocommit"


class ProcessKind(enum.StrEnum):
    """Who opens the engine: each kind holds as many connections as it can use at once."""

    API = "api"  # one per request thread
    SCHEDULER = "scheduler"  # the dispatch loop, and the run-now fast path never
    WORKER = "worker"  # one per pool process or thread, plus one for heartbeats
    TOOL = "tool"  # the CLI, migrations, tests


@dataclass(frozen=True)
class SessionLimits:
    """Bounds on every PostgreSQL session of a server process, so a stuck or frozen
    process cannot hold locks for long: the server ends a transaction left idle past
    `idle_in_transaction` (its locks go with it), a statement past `statement`, and a
    wait for a lock past `lock`. In seconds; tools (migrations, the CLI) run unbounded."""

    lock: float
    statement: float
    idle_in_transaction: float
    connect: float = 10.0  # a server that neither answers nor refuses is given up on

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionLimits:
        return cls(
            lock=settings.db_lock_timeout,
            statement=settings.db_statement_timeout,
            idle_in_transaction=settings.db_idle_in_transaction_timeout,
            connect=settings.db_connect_timeout,
        )

    def options(self) -> str:
        """The libpq `options` string that sets them when a session starts."""
        limits = {
            "lock_timeout": self.lock,
            "statement_timeout": self.statement,
            "idle_in_transaction_session_timeout": self.idle_in_transaction,
        }
        return " ".join(f"-c {name}={round(seconds * 1000)}" for name, seconds in limits.items())


def normalize_url(url: str) -> URL:
    """Accept plain `postgresql://` and `postgres://` URLs and use psycopg 3 for them."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.drivername in ("postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def masked(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    return normalize_url(url).render_as_string(hide_password=True)


def make_engine(
    url: str,
    kind: ProcessKind = ProcessKind.TOOL,
    *,
    pool_size: int = 5,
    autocommit: bool = False,
    limits: SessionLimits | None = None,
    **options: Any,
) -> Engine:
    """An engine whose pool holds `pool_size` connections and never more.

    No pre-ping on checkout (a round trip per use): a connection that died is found
    when it is used, invalidated by SQLAlchemy, and the caller's retry opens a new one.
    `autocommit`: PostgreSQL connections run each statement as its own transaction from
    the start (for a process whose hot work is single statements: `one_statement` then
    switches nothing per use); `transactional()` gives a view that begins transactions.
    `limits`: the session bounds of a server process (PostgreSQL only).
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, **options)
    if autocommit:
        options.setdefault("isolation_level", AUTOCOMMIT)
        options.setdefault("execution_options", {})[_AUTOCOMMIT_MARK] = True
    options.setdefault("pool_size", pool_size)
    options.setdefault("max_overflow", 0)
    # Named in pg_stat_activity, so an operator sees which process holds what.
    connect_args = {"application_name": f"taskbeat-{kind.value}", **options.pop("connect_args", {})}
    if limits is not None:
        connect_args["options"] = limits.options()
        connect_args["connect_timeout"] = max(2, round(limits.connect))  # libpq: whole seconds
    return create_engine(parsed, connect_args=connect_args, **options)


def _sqlite_engine(url: URL, **options: Any) -> Engine:
    if url.database not in (None, "", ":memory:"):
        _create_private(Path(url.database))
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        # Several processes write one SQLite file. A deferred transaction that reads and
        # then writes fails at once with SQLITE_BUSY when another writer got in between;
        # taking the write lock at BEGIN makes writers queue on the busy timeout instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only: it holds the API key hashes
    and every task's params. (SQLite gives its -wal and -shm files the same mode.)"""
    # A missing directory is left to SQLite to report, when it connects.
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def is_postgresql(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "postgresql"


def transactional(engine: Engine) -> Engine:
    """`engine`, beginning transactions even if its connections are autocommit."""
    if _is_autocommit(engine):
        return engine.execution_options(
            isolation_level="READ COMMITTED", **{_AUTOCOMMIT_MARK: False}
        )
    return engine


@contextmanager
def one_statement(engine: Engine) -> Iterator[Connection]:
    """A connection for work that is one statement on PostgreSQL: in autocommit, each
    statement is its own transaction, with no BEGIN or COMMIT round trip. Elsewhere (the
    same work may take two statements on SQLite) a transaction around them."""
    if not is_postgresql(engine):
        with engine.begin() as connection:
            yield connection
    elif _is_autocommit(engine):
        with engine.connect() as connection:
            yield connection
    else:
        with engine.connect().execution_options(isolation_level=AUTOCOMMIT) as connection:
            yield connection


def _is_autocommit(engine: Engine) -> bool:
    return bool(engine.get_execution_options().get(_AUTOCOMMIT_MARK, False))


def engine_of(session_factory: sessionmaker[Session]) -> Engine:
    """The engine `make_session_factory` bound `session_factory` to."""
    bind = session_factory.kw["bind"]
    assert isinstance(bind, Engine)
    return bind
