"""One frozen settings object, read from the environment once per entry point."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from taskbeat.errors import ConfigurationError

ENV_PREFIX = "TASKBEAT_"
Seconds = Annotated[float, Field(gt=0)]


class Settings(BaseModel):
    """Everything a taskbeat process is configured with.

    Built by `Settings.from_env(os.environ)` in an entry point and passed down; nothing
    else reads the environment.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str = "sqlite:///taskbeat.db"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Prefixes the scheduler's wake-up channel, so several deployments can share a Redis.
    namespace: str = Field(default="taskbeat", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    default_queue: str = Field(default="taskbeat", pattern=r"^[A-Za-z0-9_.-]{1,100}$")
    admin_key: str | None = Field(default=None, min_length=16)
    handler_modules: tuple[str, ...] = ()
    log_level: str = "INFO"
    # Failed attempts to authenticate one client may make per minute before it gets 429s.
    auth_failures_per_minute: int = Field(default=30, ge=1)
    # `json`: one JSON object per line, with the task, execution and attempt it is about.
    log_format: Literal["text", "json"] = "text"

    scheduler_max_sleep: Seconds = 5.0
    scheduler_batch_size: int = Field(default=1000, ge=1, le=100_000)
    publish_lease: Seconds = 30.0
    # A publish Redis refused is tried again this much later, by any scheduler.
    publish_retry_after: Seconds = 2.0
    # After a failed wake-up (database or Redis away), the scheduler waits this long.
    scheduler_error_pause: Seconds = 1.0
    sweep_interval: Seconds = 10.0
    run_all_cap: int = Field(default=100, ge=1)
    # Missed slots a catch-up records one by one (as skipped, with the reason); the last
    # one recorded says when more were folded in.
    missed_slots_listed: int = Field(default=100, ge=0, le=10_000)

    # A queued run nobody claimed for this long is published again (its message may have
    # been lost); a duplicate is harmless, the claim lets one through.
    requeue_after: Seconds = 900.0
    heartbeat_interval: Seconds = 10.0
    # A running run is declared lost only when its database heartbeat is older than
    # this, its Redis alive key (set each heartbeat, this TTL) is gone, and the sweeping
    # scheduler has reached the database and Redis's data unbroken for this long.
    lost_after: Seconds = 60.0
    # A worker that could show a run alive neither in the database nor in Redis for
    # this long ends its process, so the run cannot go on beside a retry. Unset: half
    # of lost_after. At least two heartbeat intervals, and below lost_after.
    fence_after: Seconds | None = None
    # The hard time limit is the task's timeout plus this, so the soft limit fires first.
    hard_timeout_grace: Seconds = 10.0
    visibility_timeout: Seconds = 3600.0
    # A worker that cannot reach the database hands the message back after this pause,
    # so it does not spin on a database that is down.
    worker_requeue_pause: Seconds = 1.0
    # How long a worker keeps trying to record an outcome while the database is away.
    outcome_write_patience: Seconds = 300.0

    # Bounds on each database session of the API, scheduler and worker processes
    # (PostgreSQL): a frozen process's transaction is ended, and its locks released, after
    # `db_idle_in_transaction_timeout`; no statement waits for a lock longer than
    # `db_lock_timeout` or runs longer than `db_statement_timeout`.
    db_lock_timeout: Seconds = 5.0
    db_statement_timeout: Seconds = 60.0
    db_idle_in_transaction_timeout: Seconds = 10.0
    db_connect_timeout: Seconds = 10.0

    # Monitoring. A scheduler whose heartbeat is older than this counts as gone.
    scheduler_alive_after: Seconds = 30.0
    # /api/v1/health says `degraded` when more of the last 24 h's finished runs failed.
    health_failure_rate: float = Field(default=0.5, gt=0, le=1)
    # A recurring task with no success in this many of its periods needs attention.
    attention_periods: int = Field(default=3, ge=1, le=1000)
    # /metrics answers a request with this bearer token, from an address in the
    # allow-list (IPs or CIDR networks), or with any API key.
    metrics_token: str | None = Field(default=None, min_length=16)
    metrics_allow: tuple[str, ...] = ()
    # Per-task metric series for at most this many tasks (the first by id).
    metrics_max_tasks: int = Field(default=1000, ge=0, le=100_000)
    # Signs the dashboard's session cookie; set it when several API hosts serve one
    # dashboard (each process started alone makes its own, and signs everyone out).
    secret_key: str | None = Field(default=None, min_length=16)

    # Alerts: a webhook gets a signed POST when a slot fails for the last time and when
    # the task next succeeds. Only hosts on the allow-list are ever called.
    webhook_url: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=2000)
    webhook_secret: str | None = Field(default=None, min_length=16)
    webhook_allowed_hosts: tuple[str, ...] = ()
    webhook_timeout: Seconds = 5.0
    webhook_max_attempts: int = Field(default=8, ge=1, le=100)
    alert_interval: Seconds = 2.0

    result_max_bytes: int = Field(default=65_536, ge=1024)
    log_max_lines: int = Field(default=1000, ge=1)
    traceback_max_chars: int = Field(default=16_384, ge=256)
    error_message_max_chars: int = Field(default=4096, ge=256)

    @property
    def fence_seconds(self) -> float:
        return self.fence_after if self.fence_after is not None else self.lost_after / 2

    @model_validator(mode="after")
    def _fence_fits(self) -> Settings:
        # The fence must fire before the sweeper may settle (lost_after after the last
        # proof), with room for the one-second check and a Redis timeout in between.
        if not 2 * self.heartbeat_interval <= self.fence_seconds < self.lost_after:
            raise ValueError(
                f"fence_after ({self.fence_seconds:g}) must be at least twice "
                f"heartbeat_interval ({self.heartbeat_interval:g}) and below "
                f"lost_after ({self.lost_after:g})"
            )
        return self

    @field_validator("handler_modules", "metrics_allow", "webhook_allowed_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("metrics_allow")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad one
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: object) -> Settings:
        """Read every `TASKBEAT_*` variable; an unknown or malformed one is an error."""
        values: dict[str, object] = {
            key[len(ENV_PREFIX) :].lower(): value
            for key, value in environ.items()
            if key.startswith(ENV_PREFIX) and value != ""
        }
        values.update(overrides)
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{ENV_PREFIX}{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigurationError(problems) from exc
