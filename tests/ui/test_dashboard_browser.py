"""The dashboard in a real headless Chromium (Debian's, driven by Playwright), against a
live `taskbeat dev`: its API, scheduler and worker, with real data.

Each page's screenshot is saved under the test's temporary folder; the paths are printed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.harness import BIN, Api, Service, banner, dev_env, free_port, wait_until

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TIMEOUT_MS = 20_000


@dataclass
class Live:
    site: str
    api: Api
    admin_key: str
    viewer_key: str
    service: Service


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    data = tmp_path / "data"
    port = free_port()
    argv = [str(BIN / "taskbeat"), "dev", "--port", str(port), "--data-dir", str(data)]
    # Every process logs JSON here; the log is checked at the end of the test.
    service = Service("dev", argv, {**dev_env(), "TASKBEAT_LOG_FORMAT": "json"}, tmp_path)
    try:
        url, admin_key, _ = banner(service)
        viewer_key = subprocess.run(
            [str(BIN / "taskbeat"), "keys", "create", "--role", "viewer", "--name", "watcher"],
            env={**dev_env(), "TASKBEAT_DATABASE_URL": f"sqlite:///{data / 'taskbeat.db'}"},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
        yield Live(f"http://127.0.0.1:{port}", Api(url, admin_key), admin_key, viewer_key, service)
    finally:
        assert service.stop(signal.SIGINT) == 0, service.log()[-3000:]


@pytest.fixture
def browser(tmp_path: Path):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a new, empty user-data-dir
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


class Shots:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def take(self, page, name: str) -> None:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")


def sign_in(page, site: str, key: str) -> None:
    page.goto(f"{site}/")
    page.fill("input[name=key]", key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site}/")


def test_the_dashboard_in_chromium_signs_in_shows_runs_acts_and_refuses_forged_posts(
    live, browser, tmp_path
):
    shots = Shots(tmp_path / "screenshots")
    page = browser.new_page()

    # 1. A viewer sees everything and no action button.
    sign_in(page, live.site, live.viewer_key)
    expect(page.locator("h1")).to_have_text("Overview")
    live.api.post("/tasks", {"name": "ui-report", "handler": "echo", "schedule": "@yearly",
                             "params": {"from": "the browser test"}}, expect=201)  # fmt: skip
    page.goto(f"{live.site}/tasks")
    expect(page.locator('tr[data-task="ui-report"]')).to_be_visible()
    assert page.locator("button.action").count() == 0
    shots.take(page, "viewer-tasks")
    page.click("button:has-text('Sign out')")
    page.wait_for_url(f"{live.site}/sign-in")

    # 2. An admin signs in.
    sign_in(page, live.site, live.admin_key)
    expect(page.locator("#workers-online")).to_have_text("1")
    expect(page.locator("#schedulers-alive")).to_have_text("1")
    shots.take(page, "overview")

    # 3. The task created through the API is in the table; its page opens.
    page.goto(f"{live.site}/tasks")
    row = page.locator('tr[data-task="ui-report"]')
    expect(row.locator("button[data-action=run]")).to_be_visible()
    shots.take(page, "admin-tasks")
    row.locator("a", has_text="ui-report").click()
    expect(page.locator("h1")).to_contain_text("ui-report")
    expect(page.locator("#next-runs li")).to_have_count(10)
    shots.take(page, "task")

    # 4. Run it from the page: the new execution appears, finished, without a reload.
    page.evaluate("window.notReloaded = true")
    assert page.locator("#history tbody tr[data-id]").count() == 0
    page.click("button[data-action=run]")
    newest = page.locator("#history tbody tr[data-id]").first
    expect(newest.locator(".badge")).to_have_text("succeeded")
    expect(newest).to_contain_text("manual")
    assert page.evaluate("window.notReloaded") is True
    shots.take(page, "task-after-run")

    # 5. Pause, then resume.
    page.click("button[data-action=pause]")
    expect(page.locator("h1 .badge")).to_have_text("paused")
    expect(page.locator("#next-runs")).to_contain_text("none (paused)")
    assert live.api.get("/tasks/ui-report")["status"] == "paused"
    shots.take(page, "task-paused")
    page.click("button[data-action=resume]")
    expect(page.locator("h1 .badge")).to_have_text("active")
    assert live.api.get("/tasks/ui-report")["status"] == "active"

    # 6. A failure's traceback.
    live.api.post("/tasks", {"name": "ui-broken", "handler": "fail-n-times", "schedule": "@yearly",
                             "params": {"failures": 99}}, expect=201)  # fmt: skip
    failed = live.api.post("/tasks/ui-broken/actions/run", {}, expect=202)
    wait_until(
        lambda: live.api.get(f"/executions/{failed['id']}")["status"] == "failed", 30, "a failure"
    )
    page.goto(f"{live.site}/executions?status=failed")
    expect(page.locator("#executions tbody tr[data-id]")).to_have_count(1)
    shots.take(page, "executions-failed")
    page.click(f"#executions a:has-text('#{failed['id']}')")
    expect(page.locator("#traceback pre")).to_contain_text("Traceback (most recent call last)")
    expect(page.locator("#traceback pre")).to_contain_text("RetryableError: planned failure")
    expect(page.locator("#logs")).to_contain_text("planned failures")
    shots.take(page, "execution-traceback")
    page.goto(f"{live.site}/workers")
    expect(page.locator("#workers tbody tr")).to_have_count(1)
    shots.take(page, "workers")

    # 7. A POST without the CSRF token is refused, even with the session cookie.
    forged = page.request.post(f"{live.site}/tasks/ui-report/pause", form={"back": "/"})
    assert forged.status == 400
    assert live.api.get("/tasks/ui-report")["status"] == "active"
    print(f"screenshots: {shots.folder} ({shots.count} pages)")
    assert_json_logs(live.service.log(), failed["id"])


def assert_json_logs(log: str, execution_id: int) -> None:
    """Each process's lines are JSON objects (`taskbeat dev`'s own banner aside), and the
    lines about a run name it."""
    banner = log.index("taskbeat dev is running")
    lines = [line for line in log[:banner].splitlines() if line.strip()]
    after = log[banner:].split("Press Ctrl-C to stop.", 1)[1]
    lines += [line for line in after.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    about_run = [r for r in records if r.get("execution_id") == execution_id]
    assert {r["logger"] for r in about_run} >= {
        "workers.execution",
        "taskbeat.handler.fail-n-times",
    }
    assert {(r["task"], r["attempt"]) for r in about_run} == {("ui-broken", 1)}
    assert any(r["logger"] == "gunicorn.access" for r in records)
