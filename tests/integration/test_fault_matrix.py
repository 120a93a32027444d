"""The fault matrix of ``scripts/fault_matrix.py``, run as a test: every row must pass.

The script is what writes ``docs/reliability.md``; running the same function here keeps the
published matrix honest. Fast settings: the simulator's rate limit is off and the client backs
off for at most 0.1 s, so the whole matrix (one SIGKILL row included) takes well under a minute.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fault_matrix.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fault_matrix", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fault_matrix"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_every_row_of_the_fault_matrix_passes(tmp_path: Path) -> None:
    matrix = _load_script()
    settings = matrix.MatrixSettings(backoff_initial=0.01, backoff_max=0.1, profile="demo")
    rows = matrix.run_matrix(settings, workdir=tmp_path)
    failed = [f"{r.operation} / {r.fault}: {r.observed}" for r in rows if not r.passed]
    assert not failed, "\n".join(failed)
    operations = {r.operation.split(" ")[0] for r in rows}
    assert {"sync", "provisioning"} <= operations
    assert len(rows) >= 25
    # The page renders every row.
    page = matrix.render_markdown(rows, settings, 1.0)
    assert page.count("| ✅ |") == len(rows)


def test_the_published_matrix_is_complete_and_passing() -> None:
    """docs/reliability.md is the script's output, committed with every row passing."""
    matrix = _load_script()
    text = (SCRIPT.parent.parent / "docs" / "reliability.md").read_text(encoding="utf-8")
    assert "Written by scripts/fault_matrix.py" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and line.endswith(" |")][1:]
    scenarios = list(matrix._scenarios(matrix._Context(matrix.MatrixSettings(), Path("."), None)))
    assert len(rows) == len(scenarios)
    assert all(row.endswith("| ✅ |") for row in rows)
