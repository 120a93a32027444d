"""A sync imports only what it uses: pandas stays out of the process (issue 15, memory).

pandas is 35 MB of resident memory that a sync never needs, and pyarrow imports it by itself at
the first conversion of Python values (``pa.array``, ``pa.scalar``); so the snapshot's columns are
built from buffers (``dataset.columns``). A fresh interpreter runs a first and a second sync (the
second diffs against the first) and reports what it imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from airflow_provider_boomi.testing.simulator import BoomiSimulator

_SYNC_TWICE = """
import json, sys
from airflow_provider_boomi.access.sync import sync_account
from airflow_provider_boomi.client import BoomiClient, ClientConfig
settings = json.loads(sys.argv[1])
for _ in range(2):
    with BoomiClient(ClientConfig(**settings["client"])) as client:
        result = sync_account(client, settings["out"])
print(json.dumps({"pandas": "pandas" in sys.modules, "rows": result.row_counts}))
"""


def test_a_sync_and_its_diff_never_import_pandas(sim: BoomiSimulator, tmp_path: Path) -> None:
    settings = {
        "client": {
            "base_url": sim.base_url,
            "account_id": sim.account_id,
            "email": sim.email,
            "api_token": sim.token,
        },
        "out": str(tmp_path / "store"),
    }
    done = subprocess.run(
        [sys.executable, "-c", _SYNC_TWICE, json.dumps(settings)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["rows"]["user_role_grants"] > 0 and report["rows"]["grant_changes"] == 0
    assert report["pandas"] is False
