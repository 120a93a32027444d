"""Dependencies point one way (DESIGN §2): the core never imports Airflow, and the example DAGs
compose operators without reaching into the core."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "airflow_provider_boomi"
CORE = ("access", "client", "dataset", "review", "warehouse", "testing")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", CORE)
def test_the_core_never_imports_airflow(layer: str) -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(
            n for n in _imports(path) if n == "airflow" or n.startswith("airflow.")
        )
        for path in (PACKAGE / layer).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize("dag_file", sorted((REPO / "dags").glob("*.py")), ids=lambda p: p.name)
def test_example_dags_compose_operators_only(dag_file: Path) -> None:
    core = tuple(f"airflow_provider_boomi.{layer}" for layer in CORE if layer != "testing")
    reached = sorted(n for n in _imports(dag_file) if n.startswith(core))
    assert reached == [], f"{dag_file.name} imports the core: {reached}; use an operator"
