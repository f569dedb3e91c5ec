"""A task's alert fields through the API: the webhook's host must be on the allow-list."""

from __future__ import annotations

import pytest

from tests.unit.api.conftest import error_fields, new_task

BODY = {"name": "t", "handler": "echo", "schedule": "@daily"}


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"webhook_allowed_hosts": ("hooks.example.com",)})


def test_a_webhook_on_the_allow_list_is_kept_and_shown_with_pause_on_failure(api):
    task = new_task(api, webhook_url="https://hooks.example.com/taskbeat", pause_on_failure=True)
    assert task["webhook_url"] == "https://hooks.example.com/taskbeat"
    assert task["pause_on_failure"] is True
    assert task["last_success_at"] is None
    cleared = api.patch(f"/tasks/{task['id']}", json={"webhook_url": None}).get_json()
    assert cleared["webhook_url"] is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",  # an internal service
        "http://169.254.169.254/latest/meta-data",  # a cloud metadata endpoint
        "https://hooks.example.com@10.0.0.8/",  # the host is what follows the @
        "javascript:alert(1)",
        "ftp://hooks.example.com/x",
    ],
)
def test_a_webhook_off_the_allow_list_is_a_422_naming_the_field(api, url):
    assert error_fields(api.post("/tasks", json={**BODY, "webhook_url": url})) == ["webhook_url"]
