"""The benchmark scripts still run end to end (no timing is asserted: speed is measured by the
scripts themselves, see benchmarks/RESULTS.md)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_sync_benchmark_runs() -> None:
    out = _run(
        "benchmarks/sync_benchmark.py",
        "--setting",
        "scaled",
        "--profile",
        "skewed",
        "--strategies",
        "provider",
        "--previous",  # the daily sync: its first snapshot comes from a process of its own
    )
    rows = [line for line in out.splitlines() if line.startswith("| scaled | skewed")]
    assert len(rows) == 2 and "| provider |" in rows[0] and "| provider@2nd sync |" in rows[1]


def test_the_provisioning_benchmark_runs() -> None:
    out = _run(
        "benchmarks/provisioning_benchmark.py",
        "--setting",
        "scaled",
        "--size",
        "20",
        "--strategies",
        "provider",
    )
    rows = [line for line in out.splitlines() if line.startswith("| scaled (global) | provider")]
    assert len(rows) == 1 and "applied 20" in rows[0]
