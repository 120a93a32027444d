"""The wheel built from the repository: what it holds, and that it works installed on its own.

The package is not on PyPI yet, so a wheel built from a clone is one of the two documented ways
to install it (docs/installation.md). The build runs on a copy of the repository, so the working
tree gets no ``build/`` or ``*.egg-info`` from it. It uses pip's build isolation: the venv's own
setuptools (the one ``python -m venv`` bundles) predates the ``license = "Apache-2.0"``
expression of pyproject.toml, so pip fetches ``setuptools>=68,<81`` from PyPI (or its cache) for
the build. Nothing else is downloaded: ``--no-deps``.
"""

from __future__ import annotations

import email.parser
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_provider_boomi"
OPERATOR_MODULES = ["sync", "provisioning", "warehouse", "review", "verification", "evidence"]
# What never belongs in a source copy used for the build (the .gitignore, plus the venv and git).
IGNORED = shutil.ignore_patterns(
    ".venv", ".git", "out", "build", "dist", "_build", "__pycache__", "*.egg-info", ".*_cache",
    ".hypothesis", "*.duckdb", "*.duckdb.wal", "airflow_home",
)  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(the wheel, the source copy it was built from)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    shutil.copytree(REPO, source, ignore=IGNORED)
    dist = base / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q",
         "-w", str(dist), str(source)],
        cwd=base, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, f"pip wheel failed:\n{result.stdout}\n{result.stderr}"
    wheels = sorted(dist.glob(f"{PACKAGE}-*.whl"))
    assert len(wheels) == 1, list(dist.iterdir())
    yield wheels[0], source


def _dist_info(names: list[str]) -> str:
    dirs = {name.split("/", 1)[0] for name in names if name.split("/", 1)[0].endswith(".dist-info")}
    assert len(dirs) == 1, dirs
    return dirs.pop()


def test_wheel_holds_the_package_and_nothing_else(built: tuple[Path, Path]) -> None:
    wheel, source = built
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        info = _dist_info(names)
        top_level = zf.read(f"{info}/top_level.txt").decode().split()
    assert f"{PACKAGE}/py.typed" in names
    assert f"{PACKAGE}/get_provider_info.py" in names
    for module in OPERATOR_MODULES:
        assert f"{PACKAGE}/operators/{module}.py" in names, module
    assert f"{PACKAGE}/testing/simulator/__init__.py" in names
    assert f"{PACKAGE}/testing/simulator/__main__.py" in names
    # Every module of the package is shipped (a subpackage missed by find_packages would not be).
    shipped = {name for name in names if name.endswith(".py")}
    expected = {p.relative_to(source).as_posix() for p in (source / PACKAGE).rglob("*.py")}
    assert expected - shipped == set()
    # Only the package and its metadata: no tests/, dags/, scripts/, benchmarks/ or docs/.
    assert {name.split("/", 1)[0] for name in names} == {PACKAGE, info}
    assert top_level == [PACKAGE]
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_wheel_metadata_declares_the_airflow_provider(built: tuple[Path, Path]) -> None:
    wheel, _ = built
    with zipfile.ZipFile(wheel) as zf:
        info = _dist_info(zf.namelist())
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
        metadata = email.parser.Parser().parsestr(zf.read(f"{info}/METADATA").decode())
    assert "[apache_airflow_provider]" in entry_points
    assert "provider_info = airflow_provider_boomi.get_provider_info:get_provider_info" in entry_points
    assert "boomi-simulator = airflow_provider_boomi.testing.simulator.__main__:main" in entry_points
    assert metadata["Name"] == "airflow-provider-boomi"
    extras = set(metadata.get_all("Provides-Extra") or [])
    assert {"duckdb", "xlsx", "openlineage", "postgres"} <= extras, extras
    assert any(req.startswith("apache-airflow") for req in metadata.get_all("Requires-Dist") or [])


_PROBE = """
import importlib.metadata as md, json
import airflow_provider_boomi, airflow_provider_boomi.get_provider_info as g
import airflow_provider_boomi.testing.simulator as sim
dist = md.distribution("airflow-provider-boomi")
(ep,) = [e for e in dist.entry_points if e.group == "apache_airflow_provider"]
print(json.dumps({
    "package_name": g.get_provider_info()["package-name"],
    "package_file": airflow_provider_boomi.__file__,
    "simulator_file": sim.__file__,
    "dist_files": str(dist.locate_file("")),
    "entry_point_is_it": ep.load() is g.get_provider_info,
}))
"""


def test_installed_wheel_works_on_its_own(built: tuple[Path, Path], tmp_path: Path) -> None:
    wheel, _ = built
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--disable-pip-version-check",
         "-q", "--target", str(target), str(wheel)],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    # The venv's site-packages stay (pyarrow, Airflow), but the repository must not be importable:
    # -P keeps the script's directory off sys.path, the cwd is a temp dir, and PYTHONPATH puts the
    # installed wheel ahead of the venv's editable install of the repository.
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)
    result = subprocess.run(
        [sys.executable, "-P", "-c", _PROBE],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["package_name"] == "airflow-provider-boomi"
    for key in ("package_file", "simulator_file", "dist_files"):
        assert Path(probe[key]).resolve().is_relative_to(target.resolve()), (key, probe[key])
    assert probe["entry_point_is_it"]
