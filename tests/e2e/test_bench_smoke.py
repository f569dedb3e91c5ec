"""The benchmarks run, at tiny sizes: their code cannot rot unseen. The figures they
print are not judged here (bench/README.md holds the last full run's)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.e2e.harness import ROOT

SECTIONS = ("e2e", "dispatch", "lag", "api", "memory", "wake-up")


def test_every_benchmark_runs_and_prints_its_rows():
    finished = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    rows = [line.split("|") for line in finished.stdout.splitlines() if "|" in line]
    header, body = rows[0], rows[2:]
    assert [cell.strip() for cell in header][:3] == ["section", "figure", "taskbeat"]
    assert {row[0].strip() for row in body} == set(SECTIONS)
    for row in body:
        assert re.match(r"[\d,.]+", row[2].strip()), row  # a number, not nan
