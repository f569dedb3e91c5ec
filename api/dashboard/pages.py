"""The dashboard's pages and its admin buttons; thin views over `data` and the store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from werkzeug.exceptions import BadRequest

from api.dashboard import data, signin
from api.monitor import monitor
from api.services import act_on_task, run_task_now, services
from taskbeat import store
from taskbeat.errors import NotFound
from taskbeat.limits import MAX_ID
from taskbeat.status import ExecutionStatus
from taskbeat.store.listings import ExecutionFilter, TaskFilter
from taskbeat.tasks import operations
from taskbeat.tasks.fields import RunRequest
from taskbeat.tasks.slots import upcoming_slots
from taskbeat.tasks.state import TaskStatus, task_status

blueprint = Blueprint(
    "dashboard",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/dashboard",
)
blueprint.before_request(signin.require_signed_in)
blueprint.context_processor(signin.template_values)
# Only this app's own files run or load; no other site may frame the admin's buttons.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@blueprint.after_request
def _secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if request.endpoint != "dashboard.static":
        response.headers["Cache-Control"] = "no-store"  # pages show what a key may see
    return response


PAGE = 50
STRIP = 20
ACTIONS = {
    "pause": operations.pause_task,
    "resume": operations.resume_task,
    "reset-retries": operations.reset_retries,
}


class TaskPageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: TaskStatus | None = None
    q: str | None = Field(default=None, max_length=200)
    handler: str | None = Field(default=None, max_length=200)
    tag: str | None = Field(default=None, max_length=64)
    sort: str = "name"
    page: int = Field(default=1, ge=1, le=100_000)

    @field_validator("sort")
    @classmethod
    def _known_sort(cls, value: str) -> str:
        if value.removeprefix("-") not in store.listings.TASK_SORTS:
            raise ValueError(f"sort by one of {', '.join(store.listings.TASK_SORTS)}")
        return value


class ExecutionPageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: ExecutionStatus | None = None
    task: str | None = Field(default=None, max_length=200)
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = Field(default=None, ge=1, le=MAX_ID)
    after: int | None = Field(default=None, ge=0, le=MAX_ID)
    detail: bool = False  # the rows carry each attempt's result, traceback and logs

    @field_validator("since", "until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """The form's datetime-local fields have no zone: they are UTC, as it says."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _query(model: type[Any]) -> Any:
    """The page's filters; bad ones are a 400 page, not a 500."""
    values = {key: value for key, value in request.args.items() if value != ""}
    if any("\x00" in value for value in values.values()):  # PostgreSQL cannot hold one
        raise BadRequest("a filter holds a NUL character")
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise BadRequest(f"bad filter: {exc.errors()[0]['loc'][0]}") from None


@blueprint.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    error = None
    if request.method == "POST":
        if signin.sign_in_with(request.form.get("key", "")):
            target = request.args.get("next", "")
            # Only a path on this site: never an open redirect.
            safe = target.startswith("/") and not target.startswith("//")
            return redirect(target if safe else url_for(".overview"))
        error = "That key is not valid, or was revoked."
    return render_template("dashboard/sign_in.html", error=error), 401 if error else 200


@blueprint.post("/sign-out")
def sign_out() -> Response:
    signin.sign_out()
    return redirect(url_for(".sign_in"))  # type: ignore[return-value]


@blueprint.get("/")
def overview() -> str:
    found = monitor()
    view = found.redis_view()
    return render_template(
        "dashboard/overview.html",
        o=data.overview(found),
        redis=view,
        workers=found.workers(),
    )


@blueprint.get("/tasks")
def tasks() -> str:
    params = _query(TaskPageQuery)
    where = TaskFilter(params.status, params.handler, params.tag, params.q)
    with services().sessions() as session:
        page, total = store.listings.list_tasks(
            session, where, sort=params.sort, limit=PAGE, offset=(params.page - 1) * PAGE
        )
        ids = [task.id for task in page]
        running = store.tasks.running_task_ids(session, ids)
        strips = store.listings.recent_outcomes(session, ids, STRIP)
    rows = [_task_row(task, task.id in running, strips[task.id]) for task in page]
    return render_template(
        "dashboard/tasks.html",
        rows=rows,
        total=total,
        params=params,
        pages=-(-total // PAGE),
        statuses=list(TaskStatus),
    )


def _task_row(task: Any, running: bool, strip: list[tuple[int, ExecutionStatus]]) -> dict[str, Any]:
    ran = [
        status for _, status in strip if status is ExecutionStatus.SUCCEEDED or status.is_failure
    ]
    ok = sum(status is ExecutionStatus.SUCCEEDED for status in ran)
    return {
        "task": task,
        "status": _status(task, running),
        "words": data.schedule_in_words(task.schedule, task.timezone),
        "last": strip[0][1] if strip else None,
        "rate": None if not ran else ok / len(ran),
        "strip": list(reversed(strip)),  # oldest first, left to right
    }


def _status(task: Any, running: bool) -> str:
    return task_status(task.state, enabled=task.enabled, running=running).value


@blueprint.get("/tasks/<ref>")
def task_detail(ref: str) -> str:
    with services().sessions() as session:
        task = store.tasks.get_task(session, ref)
        running = bool(store.tasks.running_task_ids(session, [task.id]))
        history = store.listings.list_executions(session, ExecutionFilter(task.id), limit=PAGE)
        skipped = store.listings.list_executions(
            session, ExecutionFilter(task.id, ExecutionStatus.SKIPPED), limit=20
        )
        try:
            upcoming = upcoming_slots(task, 10)
        except ValueError:
            upcoming = []
    return render_template(
        "dashboard/task.html",
        task=task,
        status=_status(task, running),
        words=data.schedule_in_words(task.schedule, task.timezone),
        definition=operations.definition_of(task),
        upcoming=upcoming,
        history=history,
        skipped=skipped,
        chart=data.duration_chart(list(history)),
    )


@blueprint.post("/tasks/<ref>/<action>")
def task_action(ref: str, action: str) -> Any:
    signin.require_admin()
    if action == "run":
        run_task_now(ref, RunRequest())
    elif action in ACTIONS:
        act_on_task(ref, ACTIONS[action])
    else:
        raise NotFound(f"no action {action!r}")
    return redirect(request.form.get("back") or url_for(".task_detail", ref=ref))


@blueprint.get("/executions")
def executions() -> str:
    params, rows = _executions()
    return render_template("dashboard/executions.html", rows=rows, params=params, page=PAGE)


@blueprint.get("/executions/feed")
def executions_feed() -> str:
    """Rows newer than `after`, for the live feed (no full reload)."""
    _, rows = _executions()
    detail = request.args.get("detail") == "1"
    return render_template("dashboard/_execution_rows.html", rows=rows, detail=detail)


def _executions() -> tuple[ExecutionPageQuery, list[Any]]:
    params = _query(ExecutionPageQuery)
    with services().sessions() as session:
        task_id = None
        if params.task:
            task_id = store.tasks.get_task(session, params.task).id
        where = ExecutionFilter(
            task_id, params.status, None, params.before, params.after, params.since, params.until
        )
        rows = list(store.listings.list_executions(session, where, limit=PAGE))
    return params, rows


@blueprint.get("/executions/<int:execution_id>")
def execution_detail(execution_id: int) -> str:
    with services().sessions() as session:
        execution = store.executions.get_execution(session, execution_id)
    return render_template("dashboard/execution.html", e=execution)


@blueprint.get("/workers")
def workers() -> str:
    found = monitor()
    return render_template(
        "dashboard/workers.html", snapshot=found.workers(), redis=found.redis_view()
    )
