"""The API as a contract, against a real `taskbeat api` (gunicorn) on PostgreSQL and
Redis: schemathesis with an admin key, with none and with a viewer key; the typed
client and the CLI; tasks as code; gunicorn's own refusals."""

from __future__ import annotations

import contextlib
import os
import random
import re
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from taskbeat.client import Client, ProblemError
from tests.e2e import fuzzing
from tests.e2e.harness import BIN, ROOT, Service, free_port, wait_until
from tests.services import postgres_database, redis_database, unique_namespace

ADMIN_KEY = "contract-admin-key-0123456789"
REDIS_DB = 13


@dataclass(frozen=True)
class Live:
    url: str
    viewer_key: str
    env: dict[str, str]

    @property
    def schema(self) -> str:
        return f"{self.url}/api/v1/openapi.json"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    logs = tmp_path_factory.mktemp("contract")
    with postgres_database() as database_url, redis_database(REDIS_DB) as redis_url:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TASKBEAT_")},
            "TASKBEAT_DATABASE_URL": database_url,
            "TASKBEAT_REDIS_URL": redis_url,
            "TASKBEAT_ADMIN_KEY": ADMIN_KEY,
            "TASKBEAT_NAMESPACE": unique_namespace(),
            # Thousands of requests without a key come from one address here.
            "TASKBEAT_AUTH_FAILURES_PER_MINUTE": "1000000",
        }
        created = subprocess.run(
            [str(BIN / "taskbeat"), "keys", "create", "--role", "viewer"],
            env=env, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        port = free_port()
        api = Service(
            "api",
            [str(BIN / "taskbeat"), "api", "--port", str(port), "--workers", "1"],
            env,
            logs,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: _up(url), 60, "the API to answer")
            yield Live(url, created.stdout.strip(), env)
        finally:
            api.stop()


def _up(url: str) -> bool:
    try:
        return requests.get(f"{url}/api/v1/health", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def schemathesis(live: Live, key: str | None, *options: str, expect: str = "") -> str:
    header = ["-H", f"Authorization: Bearer {key}"] if key else []
    result = subprocess.run(
        [str(BIN / "st"), "run", live.schema, *header, *options, "--seed", "1",
         "--no-color", "--generation-database", "none"],
        env={**live.env, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks",
             "TASKBEAT_FUZZ_EXPECT": expect},
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    summary = result.stdout[result.stdout.find("SUMMARY") :]
    print(summary)  # shown with -s; the report quotes it
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return summary


def generated(summary: str) -> int:
    found = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert found and found.group(1) == found.group(2), summary
    return int(found.group(1))


def test_schemathesis_with_an_admin_key_finds_no_error_schema_violation_or_unknown_status(
    live,
):
    summary = schemathesis(
        live,
        ADMIN_KEY,
        "--checks", "all",
        # Schema-valid bodies may still name no handler or leave a task no run: a 422.
        # Auth is checked by the runs below, with no key and a viewer key.
        "--exclude-checks", "positive_data_acceptance,ignored_auth",
        "--max-examples", "20",
    )  # fmt: skip
    assert "Stateful" in summary
    assert generated(summary) >= 1000


@pytest.mark.parametrize("who", ["anonymous", "viewer"])
def test_schemathesis_without_admin_is_denied_everything_but_health_and_reads(live, who):
    key = live.viewer_key if who == "viewer" else None
    checks = "not_a_server_error,status_code_conformance,content_type_conformance,"
    checks += "response_schema_conformance,denied_unless_allowed"
    summary = schemathesis(
        live, key, "--checks", checks, "--phases", "fuzzing", "--max-examples", "5", expect=who
    )
    assert generated(summary) >= 18  # at least one case for each operation


def test_gunicorns_own_refusals_are_problem_json(live):
    too_long = requests.get(f"{live.url}/api/v1/tasks?q={'x' * 9000}", timeout=10)
    too_big = requests.get(
        f"{live.url}/api/v1/tasks", headers={"X-Padding": "y" * 20_000}, timeout=10
    )
    for response, status in ((too_long, 414), (too_big, 431)):
        assert response.status_code == status
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["status"] == status


@pytest.mark.parametrize(
    "chunks",
    [
        b"zz\r\n{}\r\n0\r\n\r\n",  # a chunk size that is not hex
        b"2\r\n{}XX0\r\n\r\n",  # a chunk without its CRLF
        b'9\r\n{"name":',  # a body cut short
    ],
)
def test_a_malformed_chunked_body_is_a_400_and_writes_nothing(live, chunks):
    head = (
        "POST /api/v1/tasks HTTP/1.1\r\nHost: taskbeat\r\n"
        f"Authorization: Bearer {ADMIN_KEY}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    before = _task_count(live)
    port = int(live.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(head.encode() + chunks)
        connection.shutdown(socket.SHUT_WR)
        answer = b"".join(iter(lambda: connection.recv(65536), b""))
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"400", answer
    assert b"Content-Type: application/problem+json" in rest
    assert _task_count(live) == before


def _task_count(live: Live) -> int:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    return int(
        requests.get(f"{live.url}/api/v1/tasks", headers=headers, timeout=10).json()["total"]
    )


def test_the_docs_page_and_its_assets_come_from_the_app(live):
    page = requests.get(f"{live.url}/api/v1/docs", timeout=10)
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and not any("//" in asset for asset in assets)  # no CDN
    for asset in assets:
        assert requests.get(f"{live.url}/api/v1/{asset}", timeout=10).status_code == 200


def test_the_client_covers_every_operation(live):
    with Client(live.url, ADMIN_KEY) as api:
        task = api.create_task({"name": "client-task", "handler": "echo", "schedule": "@daily"})
        assert (task.name, task.version, task.status.value) == ("client-task", 1, "active")
        assert api.get_task("client-task").id == task.id
        changed = api.update_task(task.id, {"max_retries": 2}, if_match=task.version)
        assert (changed.max_retries, changed.version) == (2, 2)
        with pytest.raises(ProblemError) as stale:
            api.update_task(task.id, {"max_retries": 3}, if_match=task.version)
        assert stale.value.status == 409
        with pytest.raises(ProblemError) as invalid:
            api.update_task(task.id, {"priority": "3"})
        assert (invalid.value.status, invalid.value.fields) == (422, ["priority"])
        run = api.run_task("client-task", params={"who": "client"}, test_mode=True)
        assert api.get_execution(run.id).params == {"who": "client"}
        assert run.id in {e.id for e in api.iter_executions(task="client-task", page_size=1)}
        assert api.list_executions(status="queued").limit == 50
        with pytest.raises(ProblemError) as stale_action:
            api.pause_task(task.id, if_match=task.version)
        assert stale_action.value.status == 409
        assert api.pause_task(task.id, if_match=changed.version).status.value == "paused"
        assert api.resume_task(task.id).status.value == "active"
        assert api.reset_retries(task.id).consecutive_failures == 0
        assert len(api.next_runs(task.id, count=3).items) == 3
        assert api.preview_schedule("@hourly", count=2).recurring is True
        assert "echo" in {h.name for h in api.handlers()}
        health = api.health()  # no scheduler or worker runs beside this API: degraded
        assert (health.status, health.components["database"].status) == ("degraded", "ok")
        stats = api.stats(window=3600)
        assert stats.window_seconds == 3600 and stats.tasks is not None
        assert [t.name for t in api.iter_tasks(q="client-task", page_size=1)] == ["client-task"]
        actions = [entry.action for entry in api.iter_audit(page_size=5)]
        assert {"create_task", "patch_task", "run_task"} <= set(actions)
        api.delete_task(task.id)
        with pytest.raises(ProblemError) as gone:
            api.get_task(task.id)
        assert gone.value.status == 404
    with Client(live.url, live.viewer_key) as viewer, pytest.raises(ProblemError) as denied:
        viewer.audit()
    assert denied.value.status == 403


def cli(live: Live, *args: str, key: str = ADMIN_KEY) -> subprocess.CompletedProcess[str]:
    # Only the client's settings; a server setting that would stop `taskbeat db` is
    # there to show the client commands never read them.
    env = {k: v for k, v in live.env.items() if not k.startswith("TASKBEAT_")}
    env |= {"TASKBEAT_URL": live.url, "TASKBEAT_KEY": key, "TASKBEAT_LOST_AFTER": "soon"}
    return subprocess.run(
        [str(BIN / "taskbeat"), *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_cli_manages_tasks_with_tables_and_json(live):
    assert cli(live, "tasks", "add", "cli-task", "echo", "@hourly", "--set", "max_retries=2")
    listed = cli(live, "tasks", "list", "--q", "cli-task")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split() == [
        "ID", "NAME", "STATUS", "HANDLER", "SCHEDULE", "NEXT_RUN_AT"
    ]  # fmt: skip
    shown = cli(live, "tasks", "show", "cli-task", "--json")
    assert yaml.safe_load(shown.stdout)["max_retries"] == 2
    updated = cli(live, "tasks", "update", "cli-task", "--set", "schedule=*/5 * * * *")
    assert "*/5 * * * *" in updated.stdout
    run = yaml.safe_load(cli(live, "tasks", "run", "cli-task", "--json").stdout)
    assert cli(live, "executions", "show", str(run["id"])).returncode == 0
    assert str(run["id"]) in cli(live, "executions", "list", "--task", "cli-task").stdout
    for action in ("pause", "resume", "reset-retries"):
        assert cli(live, "tasks", action, "cli-task").returncode == 0
    assert "prune-history" in cli(live, "handlers").stdout
    bad = cli(live, "tasks", "update", "cli-task", "--set", 'priority="3"')
    assert bad.returncode == 1
    assert "priority" in bad.stderr
    denied = cli(live, "tasks", "delete", "cli-task", key=live.viewer_key)
    assert denied.returncode == 1 and "admin" in denied.stderr
    assert cli(live, "tasks", "delete", "cli-task").returncode == 0
    missing = cli(live, "tasks", "show", "cli-task")
    assert missing.returncode == 1 and "no task 'cli-task'" in missing.stderr


def manifest(path: Path, tasks: list[dict[str, object]], label: str = "nightly") -> Path:
    path.write_text(yaml.safe_dump({"label": label, "tasks": tasks}))
    return path


def test_apply_round_trips_fifty_tasks_then_diffs_and_prunes(live, tmp_path):
    tasks = [
        {"name": f"job-{n:02d}", "handler": "echo", "schedule": f"{n % 60} * * * *",
         "params": {"n": n}, "timezone": "Europe/Paris", "max_retries": n % 4,
         "start_at": "2026-01-01T00:00:00", "tags": ["batch"]}
        for n in range(50)
    ]  # fmt: skip
    first = cli(live, "apply", str(manifest(tmp_path / "tasks.yaml", tasks)))
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("+ create") == 50
    with Client(live.url, ADMIN_KEY) as api:
        before = {t.name: t.version for t in api.iter_tasks(tag="apply:nightly")}
        again = cli(live, "apply", str(tmp_path / "tasks.yaml"))
        assert again.stdout == "" and "0 tasks changed" in again.stderr
        assert {t.name: t.version for t in api.iter_tasks(tag="apply:nightly")} == before

        edited = [{**tasks[0], "max_retries": 9}, *tasks[1:49]]  # job-49 left out
        path = manifest(tmp_path / "tasks.yaml", edited)
        dry = cli(live, "apply", str(path), "--dry-run", "--prune")
        assert dry.stdout.splitlines() == [
            "~ update job-00",
            "    max_retries: 0 -> 9",
            "- delete job-49",
        ]
        assert api.get_task("job-00").max_retries == 0
        applied = cli(live, "apply", str(path), "--prune")
        assert applied.returncode == 0, applied.stderr
        assert api.get_task("job-00").version == before["job-00"] + 1
        assert "job-49" not in {t.name for t in api.iter_tasks()}

        # Schemathesis may have made a task of that name: a default never replaces one.
        with contextlib.suppress(ProblemError):
            api.delete_task("prune-history")
        defaults = cli(live, "apply", "--defaults")
        assert "+ create prune-history" in defaults.stdout
        assert api.get_task("prune-history").schedule == "@daily"
        api.update_task("prune-history", {"schedule": "@weekly"})
        assert cli(live, "apply", "--defaults").stdout == ""  # left as it is


def test_apply_names_the_file_task_and_field_of_an_error(live, tmp_path):
    good = {"name": "ok", "handler": "echo", "schedule": "@daily"}
    broken = {"name": "broken", "handler": "echo", "schedule": "@daily", "priority": "high"}
    path = manifest(tmp_path / "bad.yaml", [good, broken])
    result = cli(live, "apply", str(path))
    assert result.returncode == 1
    assert f"{path}: task 'broken' (entry 2): priority:" in result.stderr
    assert cli(live, "apply", str(path), "--prune").returncode == 1


def test_two_thousand_generated_requests_get_no_5xx_only_json_and_read_back_the_same(live):
    rng = random.Random(20261209)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
    sent = 0

    def call(method: str, path: str, **options: object) -> requests.Response:
        nonlocal sent
        sent += 1
        response = session.request(method, f"{live.url}/api/v1{path}", timeout=30, **options)
        assert response.status_code < 500, (method, path, options, response.text[:500])
        if response.status_code != 204:
            response.json()  # every answer is JSON
        return response

    number = 0
    while sent < 2000:
        number += 1
        for raw in rng.sample(fuzzing.MALFORMED, 2):
            assert 400 <= call("POST", "/tasks", data=raw).status_code < 500
        body = fuzzing.task_body(rng, number)
        created = call("POST", "/tasks", json=body)
        if created.status_code != 201:
            continue
        assert_reads_back(body, call("GET", f"/tasks/{body['name']}").json())
        change = {"params": fuzzing.task_body(rng, number)["params"], "priority": rng.randrange(10)}
        assert call("PATCH", f"/tasks/{body['name']}", json=change).status_code == 200
        assert_reads_back({**body, **change}, call("GET", f"/tasks/{body['name']}").json())
        run = call(
            "POST",
            f"/tasks/{body['name']}/actions/run",
            json={"params": change["params"], "test_mode": True},
        )
        assert call("GET", f"/executions/{run.json()['id']}").json()["params"] == change["params"]
        if number % 25 == 0:  # the listings that once stopped being JSON
            assert call("GET", "/tasks?limit=500").status_code == 200
    assert number > 100  # most bodies were creatable


def assert_reads_back(sent: dict[str, object], read: dict[str, object]) -> None:
    for name, value in sent.items():
        if name in ("start_at", "end_at"):
            continue  # given in the task's zone, read back in UTC: compared by the unit tests
        assert read[name] == value, (name, value, read[name])
