"""The review cycle on object storage: a real S3-compatible server on loopback (issue 12, item 4).

moto's server mode (``ThreadedMotoServer``, from PyPI) listens on an ephemeral port of 127.0.0.1
for the length of this module; ``s3fs`` talks to it through fsspec like to any S3 endpoint. The
provider gets no special option: the endpoint and credentials come from the environment a user
would set (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``), and every path is an ``s3://`` URL.

The flow is the docs' example (``docs/examples/review_cycle_dags.py``) with ``data`` set to
``s3://<bucket>/boomi``: snapshots, campaigns, decisions, the ledger and the evidence bundle are
objects in the bucket; only the DuckDB warehouse file is local. Then the library functions are
checked on the same server: evidence is append-only and complete-or-absent by its marker, ids
that become keys are validated, and a workbook is sized before it is read.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

s3fs = pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

from airflow_provider_boomi.access.ledger import read_ledger  # noqa: E402
from airflow_provider_boomi.review import (  # noqa: E402
    DecisionFileLimits,
    WorkbookRefusedError,
    find_campaigns,
    load_campaign,
    read_decisions,
)
from airflow_provider_boomi.review._storage import folder  # noqa: E402
from airflow_provider_boomi.review.evidence import (  # noqa: E402
    INDEX_JSON,
    bundle_dir,
    is_complete_bundle,
    write_evidence_bundle,
)
from airflow_provider_boomi.testing.simulator import BoomiSimulator  # noqa: E402
from tests.conftest import REPO, load_dag  # noqa: E402

EXAMPLE = REPO / "docs" / "examples" / "review_cycle_dags.py"
STANDARD_USER = "fcb6e2d0-0ca8-11e2-a477-1231381987a5"
BUCKET = "boomi-review"
DATA = f"s3://{BUCKET}/boomi"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, on a port the OS picks; stopped after the module."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """What a user sets for an S3-compatible store, and a fresh bucket; yields the filesystem."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # fsspec caches filesystems by their options: none may outlive this test's environment.
    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem()
    if fs.exists(BUCKET):
        fs.rm(BUCKET, recursive=True)
    fs.mkdir(BUCKET)
    yield fs
    s3fs.S3FileSystem.clear_instance_cache()


def _states(run: Any) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def _keys(fs: Any, pattern: str) -> list[str]:
    fs.invalidate_cache()
    return sorted(fs.glob(f"{BUCKET}/boomi/{pattern}"))


def _fill(fs: Any, campaign_url: str, revoke: set[str], out_url: str) -> str:
    """Fill the campaign's CSV workbook as a reviewer would, and put it back on the store."""
    (csv_key,) = fs.glob(campaign_url.removeprefix("s3://") + "/*-review.csv")
    reader = csv.DictReader(io.StringIO(fs.cat_file(csv_key).decode("utf-8-sig"), newline=""))
    fields, rows = list(reader.fieldnames or []), list(reader)
    for row in rows:
        row["decision"] = "revoke" if row["item_id"] in revoke else "keep"
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    fs.pipe_file(out_url.removeprefix("s3://"), text.getvalue().encode("utf-8"))
    return out_url


def _local_files(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()}


def test_the_review_cycle_writes_everything_to_the_s3_server(
    s3: Any, connected_sim: BoomiSimulator, dag_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(EXAMPLE, dag_folder / EXAMPLE.name)
    campaign_dag = load_dag(dag_folder / EXAMPLE.name, "my_boomi_campaign")
    apply_dag = load_dag(dag_folder / EXAMPLE.name, "my_boomi_apply")
    local = tmp_path / "local"
    local.mkdir()
    monkeypatch.chdir(local)  # a URL mistaken for a relative path would land here
    warehouse = tmp_path / "warehouse.duckdb"
    conf = {"data": DATA, "warehouse": str(warehouse)}

    first = campaign_dag.test(run_conf=conf)
    assert first.state == "success", _states(first)
    (campaign_key,) = [k.rsplit("/", 1)[0] for k in _keys(s3, "reviews/*/campaign.json")]
    campaign_url = f"s3://{campaign_key}"
    items = json.loads(s3.cat_file(f"{campaign_key}/campaign.json"))["items"]
    revoked = [i for i in items if i["grant_kind"] == "global_role" and i["role_id"] != STANDARD_USER][:3]
    revoked += [next(i for i in items if i["grant_kind"] == "group_role")]
    revoked_ids = {i["item_id"] for i in revoked}
    workbook = _fill(s3, campaign_url, revoked_ids, f"{DATA}/inbox/filled.csv")

    applied = apply_dag.test(run_conf={**conf, "campaign_dir": campaign_url, "workbook_path": workbook})
    assert applied.state == "success", _states(applied)

    # Snapshots: the first sync and the resync, each with its manifest.
    assert len(_keys(s3, "snapshots/account_id=*/sync_id=*/manifest.json")) == 2
    # The campaign and the reviewer's decisions.
    assert {k.rsplit("/", 1)[1] for k in _keys(s3, "reviews/*/*")} >= {"campaign.json", "decisions.json"}
    assert not [k for k in _keys(s3, "reviews/**") if k.rsplit("/", 1)[1].startswith(".")], "no temp files"
    # The ledger: part files of the dry run and the apply.
    assert _keys(s3, "ledger/part-*.parquet")
    ledger = read_ledger(f"{DATA}/ledger")
    assert sorted(ledger[ledger["task_id"] == "apply"]["outcome"]) == ["applied"] * 4
    # The evidence bundle, complete by its marker, with the workbook read from the store.
    (index_key,) = _keys(s3, f"evidence/*/*/{INDEX_JSON}")
    index = json.loads(s3.cat_file(index_key))
    assert index["verified"] == 4
    bundle_key = index_key.rsplit("/", 1)[0]
    assert is_complete_bundle(f"s3://{bundle_key}")
    for entry in index["files"]:
        assert s3.size(f"{bundle_key}/{entry['path']}") == entry["bytes"], entry["path"]
    assert "filled-workbook.csv" in {f["path"] for f in index["files"]}

    # Only the warehouse is local, and it shows the revocations.
    with duckdb.connect(str(warehouse), read_only=True) as con:
        removed = con.execute(
            "SELECT grant_id FROM access_review.boomi_access_changes WHERE change_type = 'removed'"
        ).fetchall()
    assert {g for (g,) in removed} == revoked_ids
    assert _local_files(local) == set(), "nothing was written to the working directory"
    assert {p.name for p in tmp_path.iterdir()} <= {"local", "warehouse.duckdb", "warehouse.duckdb.wal"}

    # The next campaign reads the earlier one (and its decisions) back from the store.
    second = campaign_dag.test(run_conf=conf)
    assert second.state == "success", _states(second)
    campaigns = find_campaigns(f"{DATA}/reviews")
    assert len(campaigns) == 2
    newest = max((load_campaign(c) for c in campaigns), key=lambda c: c.created_at)
    assert newest.previous_campaign_id == load_campaign(campaign_url).campaign_id
    (report_key,) = s3.glob(f"{BUCKET}/boomi/reviews/{newest.campaign_id}/*-report.html")
    report = s3.cat_file(report_key).decode("utf-8")
    assert "since the last review" in report
    for item in revoked:
        assert item["role_name"] in report


# --- the library functions on the same server ---------------------------------------------------


@pytest.fixture
def reviewed(s3: Any, tmp_path: Path) -> dict[str, str]:
    """A store, a campaign with its decisions, and a filled workbook, all on the S3 server."""
    from airflow_provider_boomi.review import build_campaign, write_campaign
    from tests.unit import test_warehouse_snapshots as fx

    local_store = fx.build_store(tmp_path / "store")
    s3.put(str(local_store.path), f"{BUCKET}/boomi/snapshots", recursive=True)
    store_url = f"{DATA}/snapshots"
    campaign = build_campaign(store_url, fx.ACCOUNT)
    campaign_url = f"{DATA}/reviews/{campaign.campaign_id}"
    files = write_campaign(campaign, campaign_url)
    assert files.campaign_json == f"{campaign_url}/campaign.json"
    workbook = _fill(s3, campaign_url, set(), f"{DATA}/inbox/filled.csv")
    return {"store": store_url, "campaign": campaign_url, "workbook": workbook, "id": campaign.campaign_id}


def _bundle(reviewed: dict[str, str], run_id: str, **extra: Any) -> dict[str, Any]:
    return write_evidence_bundle(
        f"{DATA}/evidence",
        campaign_dir=reviewed["campaign"],
        workbook_path=reviewed["workbook"],
        changes=[],
        verification=None,
        ledger_path=None,
        run_id=run_id,
        snapshot_root=reviewed["store"],
        **extra,
    )


def _objects(fs: Any) -> dict[str, bytes]:
    fs.invalidate_cache()
    return {key: fs.cat_file(key) for key in fs.find(BUCKET)}


def test_a_complete_bundle_on_s3_is_never_overwritten(s3: Any, reviewed: dict[str, str]) -> None:
    result = _bundle(reviewed, "manual__2026-01-01T00:00:00+00:00")
    assert result["bundle_dir"] == f"{DATA}/evidence/{reviewed['id']}/manual__2026-01-01T00_00_00_00_00"
    assert result["index"] == result["bundle_dir"] + "/" + INDEX_JSON
    before = _objects(s3)
    with pytest.raises(FileExistsError, match="never overwritten"):
        _bundle(reviewed, "manual__2026-01-01T00:00:00+00:00")
    assert _objects(s3) == before


def test_an_incomplete_prefix_on_s3_is_no_bundle_and_is_written_over(
    s3: Any, reviewed: dict[str, str], tmp_path: Path
) -> None:
    target = bundle_dir(f"{DATA}/evidence", reviewed["id"], "run-1")
    assert target == f"{DATA}/evidence/{reviewed['id']}/run-1"
    # A crash after some files and before the marker: not a bundle; a retry completes it.
    with pytest.raises(FileNotFoundError):
        _bundle(reviewed, "run-1", resync_manifest_path=str(tmp_path / "missing.json"))
    assert s3.exists(target.removeprefix("s3://") + "/campaign.json")
    assert not is_complete_bundle(target)
    _bundle(reviewed, "run-1")
    assert is_complete_bundle(target)


@pytest.mark.parametrize("run_id", [".", "..", "../../other-bucket"])
def test_ids_that_cannot_be_keys_write_nothing(s3: Any, reviewed: dict[str, str], run_id: str) -> None:
    before = _objects(s3)
    with pytest.raises(ValueError, match="run id"):
        _bundle(reviewed, run_id)
    assert _objects(s3) == before


def test_a_tampered_campaign_id_on_s3_writes_nothing(s3: Any, reviewed: dict[str, str]) -> None:
    key = reviewed["campaign"].removeprefix("s3://") + "/campaign.json"
    data = json.loads(s3.cat_file(key))
    data["campaign_id"] = "../../escaped"
    s3.pipe_file(key, json.dumps(data).encode())
    before = _objects(s3)
    with pytest.raises(ValueError, match="campaign"):
        _bundle(reviewed, "run-1")
    assert _objects(s3) == before


def test_a_workbook_on_s3_is_sized_before_it_is_read(
    s3: Any, reviewed: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    decisions = read_decisions(reviewed["campaign"], reviewed["workbook"])
    assert decisions.workbook == reviewed["workbook"] and len(decisions.kept) == len(decisions.decisions)
    opened: list[str] = []
    real_open = s3fs.S3FileSystem.open
    monkeypatch.setattr(
        s3fs.S3FileSystem,
        "open",
        lambda self, path, *a, **k: opened.append(path) or real_open(self, path, *a, **k),
    )
    with pytest.raises(WorkbookRefusedError, match="more than the"):
        read_decisions(reviewed["campaign"], reviewed["workbook"], limits=DecisionFileLimits(max_bytes=10))
    assert opened == [], "the object was refused from its size, without being read"


class _StoragePath:
    """Duck-typed like Airflow's ``ObjectStoragePath``: a configured fsspec ``fs``, its ``path``,
    and ``str()`` the URL. (Airflow's own needs a provider for ``s3``, which is not installed.)"""

    def __init__(self, fs: Any, path: str) -> None:
        self.fs, self.path = fs, path

    def __str__(self) -> str:
        return f"s3://{self.path}"


def test_an_object_storage_path_brings_its_own_filesystem(
    s3: Any, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No endpoint in the environment: the path's filesystem (its connection) is what is used."""
    from airflow_provider_boomi.review import build_campaign, write_campaign
    from tests.unit import test_warehouse_snapshots as fx

    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem(endpoint_url=s3_endpoint, key="testing", secret="testing")
    campaign = build_campaign(fx.build_store(tmp_path / "store"), fx.ACCOUNT)
    reviews = _StoragePath(fs, f"{BUCKET}/osp/reviews")
    files = write_campaign(campaign, folder(reviews).child(campaign.campaign_id))
    assert files.campaign_json == f"s3://{BUCKET}/osp/reviews/{campaign.campaign_id}/campaign.json"
    (found,) = find_campaigns(reviews)
    assert str(found) == f"s3://{BUCKET}/osp/reviews/{campaign.campaign_id}"
    assert load_campaign(found).campaign_id == campaign.campaign_id
    assert fs.exists(f"{BUCKET}/osp/reviews/{campaign.campaign_id}/{campaign.campaign_id}-review.xlsx")
