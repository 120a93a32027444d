"""Dependencies point one way (DESIGN §2, docs/architecture.md): the core never imports Airflow,
each layer imports only the layers below it, no two modules import each other (directly or in
a circle, even inside a function or under ``TYPE_CHECKING``), and the example DAGs compose
operators without reaching into the core."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "airflow_provider_boomi"
CORE = ("access", "client", "dataset", "findings", "review", "warehouse", "testing")
# Modules at the top of the package that must stay Airflow-free too: Airflow imports the package
# and get_provider_info in every component, and every layer imports _rules.
CORE_MODULES = ("__init__.py", "_rules.py", "get_provider_info.py", "retention.py", "verify_chain.py")

# What each layer may import from the package (besides itself). docs/architecture.md draws this.
ALLOWED: dict[str, set[str]] = {
    "_rules": set(),
    "(package)": set(),
    "get_provider_info": {"(package)", "_rules"},
    "client": {"(package)", "_rules"},
    "dataset": {"_rules"},
    "access": {"_rules", "client", "dataset"},
    # findings: warehouse/findings.py loads the findings table with its schema from findings/.
    "warehouse": {"_rules", "dataset", "findings"},
    "findings": {"_rules", "access", "dataset"},
    # findings: a campaign flags its items with the findings of its snapshot and routes items
    # to managers from their identities (review/campaign.py); history feeds regrants back.
    "review": {"_rules", "access", "dataset", "findings"},
    "hooks": {"_rules", "client", "get_provider_info"},
    # client: the operators scrub credentials from the failure records they write with the
    # client's own helpers (client.errors.secret_forms, scrub_secrets); they build no client.
    "operators": {
        "_rules",
        "access",
        "client",
        "dataset",
        "findings",
        "hooks",
        "retention",
        "review",
        "warehouse",
    },
    # The command line verifying the tamper-evidence chains of snapshots and ledger.
    "verify_chain": {"_rules", "access", "dataset"},
    # The retention policy: what it deletes lives in these layers' stores.
    "retention": {"_rules", "access", "dataset", "findings", "review"},
    "testing": set(),  # the simulator shares no code with the client it is a fake server for
}


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


def test_the_top_modules_never_import_airflow() -> None:
    offenders = {
        name: sorted(n for n in _imports(PACKAGE / name) if n == "airflow" or n.startswith("airflow."))
        for name in CORE_MODULES
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _package_imports(name: str, path: Path) -> set[str]:
    """Modules of the package that ``name`` imports anywhere: top level, functions, TYPE_CHECKING."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:
                if f"{module}.{alias.name}" in MODULES:  # ``from pkg import submodule``
                    found.add(f"{module}.{alias.name}")
                elif module in MODULES:
                    found.add(module)
    found.discard(name)
    return found


GRAPH = {name: _package_imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "(package)"


def test_each_layer_imports_only_the_layers_below_it() -> None:
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if _layer(target) != _layer(module) and _layer(target) not in ALLOWED[_layer(module)]
    )
    assert upward == []


def test_no_import_circles() -> None:
    """Tarjan's strongly connected components: any component of two or more modules is a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(GRAPH[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = [stack.pop()]
            while component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert circles == []


def test_the_graph_sees_every_kind_of_import() -> None:
    """The checks above are only as good as the graph: it must see relative and absolute imports."""
    assert "airflow_provider_boomi.dataset.reader" in GRAPH["airflow_provider_boomi.dataset.writer"]
    assert (
        "airflow_provider_boomi.dataset.reader" in GRAPH["airflow_provider_boomi.dataset.diff"]
    )  # TYPE_CHECKING
    assert "airflow_provider_boomi.warehouse.schema" in GRAPH["airflow_provider_boomi.warehouse.views"]
    assert "airflow_provider_boomi._rules" in GRAPH["airflow_provider_boomi.client.config"]
    assert "airflow_provider_boomi.dataset" in GRAPH["airflow_provider_boomi.warehouse.loader"]


@pytest.mark.parametrize("dag_file", sorted((REPO / "dags").glob("*.py")), ids=lambda p: p.name)
def test_example_dags_compose_operators_only(dag_file: Path) -> None:
    core = tuple(f"airflow_provider_boomi.{layer}" for layer in CORE if layer != "testing")
    reached = sorted(n for n in _imports(dag_file) if n.startswith(core))
    assert reached == [], f"{dag_file.name} imports the core: {reached}; use an operator"
