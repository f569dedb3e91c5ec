"""One base error; subclasses are named for what the caller does next."""

from __future__ import annotations


class TaskbeatError(Exception):
    """Base of every error taskbeat raises on purpose."""


class ConfigurationError(TaskbeatError):
    """The settings or the environment are wrong: fix them and start again."""


class NotFound(TaskbeatError):
    """The thing asked for does not exist (HTTP 404)."""


class Conflict(TaskbeatError):
    """The request clashes with the current state (HTTP 409)."""


class InvalidInput(TaskbeatError):
    """Input was rejected; `field` names the part that was wrong (HTTP 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidSchedule(InvalidInput):
    """A schedule could not be parsed or never fires."""

    def __init__(self, message: str, field: str = "schedule") -> None:
        super().__init__(field, message)


class HandlerNotFound(TaskbeatError):
    """No handler is registered under that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no handler is registered as {name!r}")
        self.name = name


class RetryableError(TaskbeatError):
    """Raised by a handler: this attempt failed, retry by the task's policy.

    `retry_after` (seconds) overrides the computed backoff for the next attempt.
    """

    def __init__(self, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(TaskbeatError):
    """Raised by a handler: this attempt failed and retrying cannot help."""
