"""The simulator's command line, run as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_boomi.testing.simulator", "--profile", "demo", "--port", "0",
         "--rate-limit", "0", "--seed", "0", "--fault", "503:count=1,object=AccountGroup",
         "--ready-file", str(ready)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the simulator did not become ready"
            time.sleep(0.05)
        facts = json.loads(ready.read_text())
        assert set(facts) == {"base_url", "account_id", "email", "token", "connection_json"}
        assert json.loads(facts["connection_json"])["extra"]["account_id"] == facts["account_id"]
        base = f"{facts['base_url']}/{facts['account_id']}"
        auth = (f"BOOMI_TOKEN.{facts['email']}", facts["token"])
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        page = requests.post(f"{base}/AccountUserRole/query", auth=auth, headers=headers, timeout=5)
        assert page.status_code == 200 and page.json()["@type"] == "QueryResult"
        groups = [
            requests.post(f"{base}/AccountGroup/query", auth=auth, headers=headers, timeout=5) for _ in "ab"
        ]
        assert [g.status_code for g in groups] == [503, 200]
        denied = requests.post(f"{base}/Role/query", auth=(auth[0], "wrong"), headers=headers, timeout=5)
        assert denied.status_code == 401 and denied.json()["@type"] == "Error"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    lines = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert lines["BOOMI_BASE_URL"] == facts["base_url"]
    assert lines["BOOMI_ACCOUNT_ID"] == facts["account_id"]
    assert lines["BOOMI_EMAIL"] == facts["email"] and lines["BOOMI_TOKEN"] == facts["token"]
    assert json.loads(lines["AIRFLOW_CONN_BOOMI_DEFAULT"].strip("'")) == json.loads(facts["connection_json"])


def test_cli_rejects_bad_fault_spec() -> None:
    from airflow_provider_boomi.testing.simulator.__main__ import build_parser

    parser = build_parser()
    args = parser.parse_args(
        ["--fault", "drop:object=Role", "--rate-limit", "none", "--groups-mode", "forbidden"]
    )
    assert args.fault[0].kind == "drop" and args.rate_limit is None and args.groups_mode == "forbidden"
    proc = subprocess.run(
        [sys.executable, "-m", "airflow_provider_boomi.testing.simulator", "--fault", "418"],
        cwd=REPO, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 2 and "--fault" in proc.stderr
