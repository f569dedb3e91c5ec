"""Log lines: readable text by default, one JSON object per line when asked, and the run
they are about on each line logged during it."""

from __future__ import annotations

import json
import logging

import pytest

from taskbeat.logs import configure_logging, run_context


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def test_json_lines_carry_the_task_execution_and_attempt_of_the_run(capsys, restore_logging):
    configure_logging("INFO", "json")
    log = logging.getLogger("taskbeat.test")
    log.info("before any run")
    with run_context("nightly", 42, 3):
        log.warning("inside %s", "the run")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("it failed")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["message"] for line in lines] == ["before any run", "inside the run", "it failed"]
    assert "task" not in lines[0]
    assert {(line["task"], line["execution_id"], line["attempt"]) for line in lines[1:]} == {
        ("nightly", 42, 3)
    }
    assert lines[1]["level"] == "WARNING" and lines[1]["logger"] == "taskbeat.test"
    assert "ValueError: boom" in lines[2]["exception"]


def test_text_is_the_default_and_names_the_run_too(capsys, restore_logging):
    configure_logging("INFO")
    with run_context("nightly", 42, 1):
        logging.getLogger("taskbeat.test").info("hello")
    line = capsys.readouterr().err.strip()
    assert line.endswith("taskbeat.test: hello [task=nightly execution=42 attempt=1]")
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
