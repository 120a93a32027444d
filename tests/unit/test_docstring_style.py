"""One docstring style: Sphinx fields (``:param x:``, ``:returns:``, ``:raises E:``, ``:ivar x:``).

Napoleon (``docs/conf.py``) renders Google sections (``Args:``, ``Returns:``...) too, so nothing
but this test keeps a second style from spreading. It covers every module of the package.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "airflow_provider_boomi"


def _parts() -> list[str]:
    """Every subpackage (a folder with ``__init__.py``) and top-level module of the package."""
    packages = [p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    return sorted(packages + [p.name for p in PACKAGE.glob("*.py")])


#: What the style check covers: the whole package, found on disk so that a new part is covered too.
PARTS = _parts()

# The section headers napoleon reads as Google style, alone on their line.
GOOGLE_SECTION = re.compile(
    r"^\s*(Args|Arguments|Attributes|Example|Examples|Keyword Args|Keyword Arguments|Methods|Note|"
    r"Notes|Other Parameters|Parameters|Raises|Return|Returns|Todo|Warning|Warnings|Warns|Yield|"
    r"Yields):\s*$"
)


def _modules(entry: str) -> Iterator[Path]:
    path = PACKAGE / entry
    if path.is_dir():
        yield from sorted(path.rglob("*.py"))
    else:
        yield path


def _docstrings(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of the module's docstring and of every class's and function's."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            docstring = ast.get_docstring(node, clean=False)
            if docstring is not None:
                yield (node.body[0].lineno, docstring)


def google_sections(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """``file:line: Header:`` for every Google section header in the docstrings of ``path``.

    :param root: what the file names in the answer are relative to.
    """
    found = []
    for first_line, docstring in _docstrings(path):
        for offset, line in enumerate(docstring.splitlines()):
            if GOOGLE_SECTION.match(line):
                where = path.relative_to(root)
                found.append(f"{where}:{first_line + offset}: {line.strip()}")
    return found


@pytest.mark.parametrize("part", PARTS)
def test_docstrings_use_sphinx_fields(part: str) -> None:
    found = [hit for path in _modules(part) for hit in google_sections(path)]
    assert not found, (
        "Google-style docstring sections; write them as Sphinx fields (Args -> :param name:, "
        "Returns -> :returns:, Raises -> :raises Error:, Attributes -> :ivar name:):\n" + "\n".join(found)
    )


def test_the_parts_cover_every_module_of_the_package() -> None:
    """The discovery is not vacuous: it finds the known parts, and every ``.py`` file is in one."""
    assert {"access", "client", "dataset", "review", "warehouse", "_rules.py"} <= set(PARTS)
    covered = {path for part in PARTS for path in _modules(part)}
    uncovered = sorted(str(p.relative_to(PACKAGE)) for p in set(PACKAGE.rglob("*.py")) - covered)
    assert not uncovered, f"modules outside any subpackage with an __init__.py: {uncovered}"


def test_the_check_finds_a_google_section(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        'def f(x):\n    """Do.\n\n    Args:\n        x: a thing.\n    """\n\n'
        'def g(x):\n    """Do.\n\n    :param x: a thing.\n    """\n',
        encoding="utf-8",
    )
    assert google_sections(module, root=tmp_path) == ["module.py:4: Args:"]
