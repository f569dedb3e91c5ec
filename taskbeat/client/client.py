"""`Client`: one method per API operation, typed answers, cursor iteration, If-Match."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from taskbeat.client.errors import ApiUnreachable, ProblemError
from taskbeat.tasks.fields import PartialTask, TaskDefinition, TaskView
from taskbeat.views import (
    AuditEntry,
    AuditPage,
    ExecutionPage,
    ExecutionView,
    FireTimes,
    HandlerList,
    HandlerView,
    Health,
    SchedulePreview,
    Stats,
    TaskPage,
)

Model = TypeVar("Model", bound=BaseModel)
Body = Mapping[str, Any] | BaseModel
API_PATH = "/api/v1"


class Client:
    """The taskbeat API at `base_url` (e.g. http://127.0.0.1:8000), with an API key."""

    def __init__(
        self,
        base_url: str,
        key: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        root = base_url.rstrip("/").removesuffix(API_PATH)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(
            base_url=root + API_PATH, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- tasks ---------------------------------------------------------------------

    def list_tasks(
        self,
        *,
        status: str | None = None,
        handler: str | None = None,
        tag: str | None = None,
        q: str | None = None,
        sort: str = "name",
        limit: int = 50,
        offset: int = 0,
    ) -> TaskPage:
        query: dict[str, Any] = {"status": status, "handler": handler, "tag": tag, "q": q}
        query |= {"sort": sort, "limit": limit, "offset": offset}
        return self._get(TaskPage, "/tasks", query)

    def iter_tasks(self, *, page_size: int = 200, **filters: Any) -> Iterator[TaskView]:
        """Every task that matches, page after page."""
        offset = 0
        while True:
            page = self.list_tasks(limit=page_size, offset=offset, **filters)
            yield from page.items
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    def get_task(self, ref: str | int) -> TaskView:
        return self._get(TaskView, f"/tasks/{_ref(ref)}")

    def create_task(self, definition: TaskDefinition | Mapping[str, Any]) -> TaskView:
        return self._call(TaskView, "POST", "/tasks", body=definition)

    def update_task(
        self,
        ref: str | int,
        changes: PartialTask | Mapping[str, Any],
        *,
        if_match: int | None = None,
        method: Literal["PATCH", "PUT"] = "PATCH",
    ) -> TaskView:
        """Change the fields given; with `if_match` (a version read before), a task
        changed since is refused with a 409 instead. So are the deletes and actions
        below given one."""
        path = f"/tasks/{_ref(ref)}"
        return self._call(TaskView, method, path, body=changes, headers=_if_match(if_match))

    def delete_task(self, ref: str | int, *, if_match: int | None = None) -> None:
        self._send("DELETE", f"/tasks/{_ref(ref)}", headers=_if_match(if_match))

    def run_task(
        self,
        ref: str | int,
        *,
        params: Mapping[str, Any] | None = None,
        test_mode: bool = False,
        if_match: int | None = None,
    ) -> ExecutionView:
        body: dict[str, Any] = {"test_mode": test_mode}
        if params is not None:
            body["params"] = dict(params)
        path = f"/tasks/{_ref(ref)}/actions/run"
        return self._call(ExecutionView, "POST", path, body=body, headers=_if_match(if_match))

    def pause_task(self, ref: str | int, *, if_match: int | None = None) -> TaskView:
        return self._act(ref, "pause", if_match)

    def resume_task(self, ref: str | int, *, if_match: int | None = None) -> TaskView:
        return self._act(ref, "resume", if_match)

    def reset_retries(self, ref: str | int, *, if_match: int | None = None) -> TaskView:
        return self._act(ref, "reset-retries", if_match)

    def _act(self, ref: str | int, action: str, if_match: int | None) -> TaskView:
        path = f"/tasks/{_ref(ref)}/actions/{action}"
        return self._call(TaskView, "POST", path, headers=_if_match(if_match))

    def next_runs(self, ref: str | int, count: int = 10) -> FireTimes:
        return self._get(FireTimes, f"/tasks/{_ref(ref)}/next-runs", {"count": count})

    def preview_schedule(
        self,
        schedule: str,
        *,
        timezone: str = "UTC",
        count: int = 10,
        start_at: datetime | None = None,
    ) -> SchedulePreview:
        query: dict[str, Any] = {"schedule": schedule, "timezone": timezone, "count": count}
        query["start_at"] = start_at.isoformat() if start_at else None
        return self._get(SchedulePreview, "/schedules/preview", query)

    # --- executions ----------------------------------------------------------------

    def list_executions(
        self,
        *,
        task: str | int | None = None,
        status: str | None = None,
        trigger: str | None = None,
        limit: int = 50,
        cursor: int | None = None,
    ) -> ExecutionPage:
        query: dict[str, Any] = {"status": status, "trigger": trigger}
        query |= {"limit": limit, "cursor": cursor}
        if task is None:
            return self._get(ExecutionPage, "/executions", query)
        return self._get(ExecutionPage, f"/tasks/{_ref(task)}/executions", query)

    def iter_executions(self, *, page_size: int = 200, **filters: Any) -> Iterator[ExecutionView]:
        """Every execution that matches, newest first, following the cursor."""
        cursor = None
        while True:
            page = self.list_executions(limit=page_size, cursor=cursor, **filters)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def get_execution(self, execution_id: int) -> ExecutionView:
        """One execution with its log lines and traceback."""
        return self._get(ExecutionView, f"/executions/{int(execution_id)}")

    # --- the rest ------------------------------------------------------------------

    def handlers(self) -> list[HandlerView]:
        return self._get(HandlerList, "/handlers").items

    def health(self) -> Health:
        """Health as the API reports it: ok, degraded (200) or down (503) alike."""
        response = self._send("GET", "/health", accept=(503,))
        return Health.model_validate_json(response.content)

    def stats(self, *, window: int = 86400, task: str | int | None = None) -> Stats:
        """What finished in the last `window` seconds, overall and per task."""
        return self._get(Stats, "/stats", {"window": window, "task": task})

    def audit(self, *, limit: int = 50, cursor: int | None = None) -> AuditPage:
        return self._get(AuditPage, "/audit", {"limit": limit, "cursor": cursor})

    def iter_audit(self, *, page_size: int = 200) -> Iterator[AuditEntry]:
        cursor = None
        while True:
            page = self.audit(limit=page_size, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # --- plumbing ------------------------------------------------------------------

    def _get(self, model: type[Model], path: str, query: Mapping[str, Any] | None = None) -> Model:
        return self._call(model, "GET", path, query=query)

    def _call(
        self,
        model: type[Model],
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Body | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Model:
        response = self._send(method, path, query=query, body=body, headers=headers)
        return model.model_validate_json(response.content)

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Body | None = None,
        headers: Mapping[str, str] | None = None,
        accept: tuple[int, ...] = (),
    ) -> httpx.Response:
        params = {k: v for k, v in (query or {}).items() if v is not None}
        try:
            response = self._http.request(
                method, path, params=params, json=_json(body), headers=headers
            )
        except httpx.TransportError as exc:
            raise ApiUnreachable(f"{self._http.base_url}: {exc}") from exc
        if response.is_error and response.status_code not in accept:
            raise ProblemError(response.status_code, _problem(response))
        return response


def _if_match(version: int | None) -> dict[str, str]:
    return {"If-Match": f'"{version}"'} if version is not None else {}


def _ref(ref: str | int) -> str:
    """A task reference as one path segment, whatever it holds."""
    return quote(str(ref), safe="")


def _json(body: Body | None) -> Any:
    if body is None:
        return None
    if isinstance(body, PartialTask):
        return body.model_dump(mode="json", include=body.model_fields_set)
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json", exclude_unset=True)
    return dict(body)


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        found = response.json()
    except ValueError:
        found = None
    if isinstance(found, dict) and "title" in found:
        return found
    return {"title": response.reason_phrase, "detail": response.text[:500]}
