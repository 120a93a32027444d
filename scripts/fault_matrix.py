"""Run the fault matrix and rewrite ``docs/reliability.md`` from what its cases saw.

The matrix is a test module: its cases are defined in ``tests/fault_cases.py`` and checked by
``tests/integration/test_fault_matrix.py``, which (with ``BOOMI_WRITE_DOCS=1``) writes the page
once every case has passed. This script is that command: ``python scripts/fault_matrix.py``
(``make reliability``); extra arguments go to pytest (``-x``, ``-v``...). The exit status is
pytest's: 0 when every row passes and the page was written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MATRIX = REPO / "tests" / "integration" / "test_fault_matrix.py"


def main(argv: Sequence[str] | None = None) -> int:
    """Run every case of the matrix with ``BOOMI_WRITE_DOCS=1``; pytest's exit status."""
    extra = list(sys.argv[1:] if argv is None else argv)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(MATRIX), *extra]
    status = subprocess.call(command, cwd=REPO, env={**os.environ, "BOOMI_WRITE_DOCS": "1"})
    if status == 0:
        print(f"every row passed; wrote {REPO / 'docs' / 'reliability.md'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
