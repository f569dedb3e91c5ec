"""Call a handler and turn what happened into an Outcome."""

from __future__ import annotations

import asyncio
import inspect
import traceback
from dataclasses import dataclass
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from taskbeat.errors import PermanentError, RetryableError
from taskbeat.executions.lifecycle import ErrorInfo, Outcome
from taskbeat.handler import HandlerContext, HandlerSpec
from taskbeat.settings import Settings
from taskbeat.status import ExecutionStatus
from workers.capture import LineCapture, capped_result, capped_text


@dataclass(frozen=True)
class Invocation:
    """A handler, the context it is called with, and where its log lines go."""

    spec: HandlerSpec
    context: HandlerContext
    capture: LineCapture


def invoke(invocation: Invocation, settings: Settings) -> Outcome:
    """Run the handler. Failure is an exception, a timeout, or `{"success": false}`."""
    capture = invocation.capture
    try:
        value = _call(invocation.spec, invocation.context)
    except SoftTimeLimitExceeded as exc:
        return _failure(ExecutionStatus.TIMED_OUT, exc, capture, settings)
    except PermanentError as exc:
        return _failure(ExecutionStatus.FAILED, exc, capture, settings, retryable=False)
    except RetryableError as exc:
        return _failure(ExecutionStatus.FAILED, exc, capture, settings, retry_after=exc.retry_after)
    except Exception as exc:  # the handler's own failure, whatever it is, is recorded
        return _failure(ExecutionStatus.FAILED, exc, capture, settings)
    result = capped_result(value, settings.result_max_bytes)
    if isinstance(value, dict) and value.get("success") is False:
        message = str(
            value.get("error") or value.get("message") or "handler returned success: false"
        )
        error = ErrorInfo("HandlerReportedFailure", message)
        return Outcome(ExecutionStatus.FAILED, result, error, capture.result_lines())
    return Outcome(ExecutionStatus.SUCCEEDED, result, logs=capture.result_lines())


def _call(spec: HandlerSpec, context: HandlerContext) -> Any:
    value = spec.func(context.params, context)
    if inspect.iscoroutine(value):
        return asyncio.run(value)
    return value


def _failure(
    status: ExecutionStatus,
    exc: BaseException,
    capture: LineCapture,
    settings: Settings,
    *,
    retryable: bool = True,
    retry_after: float | None = None,
) -> Outcome:
    trace = "".join(traceback.format_exception(exc))
    error = ErrorInfo(
        type(exc).__name__,
        capped_text(str(exc) or type(exc).__name__, settings.error_message_max_chars),
        capped_text(trace, settings.traceback_max_chars),
    )
    return Outcome(
        status,
        error=error,
        logs=capture.result_lines(),
        retryable=retryable,
        retry_after=retry_after,
    )
