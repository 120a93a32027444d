"""Evidence bundles stay inside their root, and are complete or absent (issue 11, item 4).

Every attack goes through the public :func:`write_evidence_bundle`: run ids ``.`` and ``..``,
a tampered ``campaign.json`` (a campaign id that is absolute or climbs out, a report file name
with ``../``), a symlink planted under the root, a second write for the same run, a crash in
the middle. The account-id rule (bidi and zero-width characters) is checked at the end.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_boomi.client import ClientConfig
from airflow_provider_boomi.dataset import SnapshotStore, validate_account_id
from airflow_provider_boomi.dataset.paths import local_path_inside, validate_path_component
from airflow_provider_boomi.review import build_campaign
from airflow_provider_boomi.review.evidence import (
    INDEX_JSON,
    bundle_dir,
    is_complete_bundle,
    write_evidence_bundle,
)
from tests.unit import test_warehouse_snapshots as fx


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SnapshotStore:
    return fx.build_store(tmp_path_factory.mktemp("evidence-store"))


def _campaign_dir(store: SnapshotStore, folder: Path, **tamper: Any) -> Path:
    """A campaign folder as ``write_campaign`` leaves it (without the workbooks), maybe tampered.

    ``tamper`` overrides top-level keys of ``campaign.json``; ``report_name`` the report's name.
    """
    campaign = build_campaign(store, fx.ACCOUNT)
    folder.mkdir(parents=True)
    report = f"{campaign.campaign_id}-report.html"
    (folder / report).write_text("<html>report</html>", encoding="utf-8")
    data = campaign.to_dict()
    data["files"] = {"report_html": {"name": tamper.pop("report_name", report)}}
    data.update(tamper)
    (folder / "campaign.json").write_text(json.dumps(data), encoding="utf-8")
    (folder / "decisions.json").write_text('{"decisions": []}', encoding="utf-8")
    return folder


def _write(store: SnapshotStore, root: Path, campaign_dir: Path, run_id: str, **extra: Any) -> dict[str, Any]:
    workbook = campaign_dir.parent / "filled.csv"
    workbook.write_text("item_id,decision\n", encoding="utf-8")
    return write_evidence_bundle(
        root,
        campaign_dir=campaign_dir,
        workbook_path=workbook,
        changes=[],
        verification=None,
        run_id=run_id,
        snapshot_root=store.path,
        **{"ledger_path": None, **extra},
    )


def _tree(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` with its bytes: a before/after picture."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture
def campaign_dir(store: SnapshotStore, tmp_path: Path) -> Path:
    return _campaign_dir(store, tmp_path / "campaign")


def test_a_bundle_is_written_for_an_airflow_run_id(
    store: SnapshotStore, tmp_path: Path, campaign_dir: Path
) -> None:
    run_id = "manual__2026-01-01T00:00:00.123456+00:00"
    result = _write(store, tmp_path / "evidence", campaign_dir, run_id)
    bundle = Path(result["bundle_dir"])
    assert bundle.name == "manual__2026-01-01T00_00_00.123456_00_00"
    assert bundle.parent.name == build_campaign(store, fx.ACCOUNT).campaign_id
    assert is_complete_bundle(bundle)
    index = json.loads((bundle / INDEX_JSON).read_text())
    assert index["run_id"] == run_id
    assert {f["path"] for f in index["files"]} >= {"campaign.json", "decisions.json", "filled-workbook.csv"}
    # No temporary folder is left next to the bundle.
    assert [p.name for p in bundle.parent.iterdir()] == [bundle.name]


def test_run_id_dot_keeps_the_campaigns_earlier_bundle(
    store: SnapshotStore, tmp_path: Path, campaign_dir: Path
) -> None:
    """'.' is a valid Airflow run id; it used to delete every bundle of the campaign."""
    root = tmp_path / "evidence"
    _write(store, root, campaign_dir, "manual__earlier")
    before = _tree(root)
    with pytest.raises(ValueError, match=r"run id '\.'.*a leading '\.'"):
        _write(store, root, campaign_dir, ".")
    assert _tree(root) == before


def test_run_id_dotdot_keeps_the_evidence_root(
    store: SnapshotStore, tmp_path: Path, campaign_dir: Path
) -> None:
    """'..' passed to the public function used to delete the whole evidence root."""
    root = tmp_path / "evidence"
    (root / "other-campaign" / "run-1").mkdir(parents=True)
    (root / "other-campaign" / "run-1" / INDEX_JSON).write_text("{}")
    before = _tree(root)
    with pytest.raises(ValueError, match=r"run id '\.\.'"):
        _write(store, root, campaign_dir, "..")
    assert _tree(root) == before


@pytest.mark.parametrize("kind", ["absolute", "climbing", "bidi"])
def test_a_tampered_campaign_id_cannot_leave_the_root(
    store: SnapshotStore, tmp_path: Path, kind: str
) -> None:
    victim = tmp_path / "victim"
    (victim / "run-1").mkdir(parents=True)
    (victim / "run-1" / "precious.txt").write_text("keep me")
    campaign_id = {"absolute": str(victim), "climbing": "../victim", "bidi": "uar-\u202eevil"}[kind]
    folder = _campaign_dir(store, tmp_path / "campaign", campaign_id=campaign_id)
    root = tmp_path / "evidence"
    with pytest.raises(ValueError, match=r"campaign.id"):
        _write(store, root, folder, "run-1")
    assert _tree(victim) == {"run-1/precious.txt": b"keep me"}
    assert not root.exists(), "nothing is written before every id is checked"


@pytest.mark.parametrize("kind", ["climbing", "absolute", "not-html"])
def test_a_tampered_report_name_neither_reads_nor_writes_outside(
    store: SnapshotStore, tmp_path: Path, kind: str
) -> None:
    secret = tmp_path / "secret.html"
    secret.write_text("<html>not for auditors</html>")
    # From the campaign folder the name reaches the secret; from the bundle, a folder outside
    # the evidence root: the old code copied one to the other.
    folder_in = tmp_path / "c1" / "c2" / "c3" / "campaign"
    name = {"climbing": "../../../../secret.html", "absolute": str(secret), "not-html": "index.json"}[kind]
    folder = _campaign_dir(store, folder_in, report_name=name)
    root = tmp_path / "out" / "e1" / "evidence"
    with pytest.raises(ValueError, match="report file name"):
        _write(store, root, folder, "run-1")
    assert not (tmp_path / "out").exists()
    assert secret.read_text() == "<html>not for auditors</html>"


def test_a_symlink_under_the_root_is_not_followed_out(
    store: SnapshotStore, tmp_path: Path, campaign_dir: Path
) -> None:
    """The check is on the resolved path: a campaign folder linked elsewhere is refused."""
    root = tmp_path / "evidence"
    outside = tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    (root / build_campaign(store, fx.ACCOUNT).campaign_id).symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match="not inside"):
        _write(store, root, campaign_dir, "run-1")
    assert list(outside.iterdir()) == []


def test_a_complete_bundle_is_never_overwritten(
    store: SnapshotStore, tmp_path: Path, campaign_dir: Path
) -> None:
    root = tmp_path / "evidence"
    first = _write(store, root, campaign_dir, "run-1")
    before = _tree(root)
    with pytest.raises(FileExistsError, match="never overwritten"):
        _write(store, root, campaign_dir, "run-1")
    assert _tree(root) == before
    assert is_complete_bundle(first["bundle_dir"])


def test_an_incomplete_folder_is_set_aside_not_deleted(
    store: SnapshotStore, tmp_path: Path, campaign_dir: Path
) -> None:
    """A folder without the completion marker is not a bundle: replaced, but kept for inspection."""
    root = tmp_path / "evidence"
    target = bundle_dir(root, build_campaign(store, fx.ACCOUNT).campaign_id, "run-1")
    target.mkdir(parents=True)
    (target / "changes.json").write_text("half")
    result = _write(store, root, campaign_dir, "run-1")
    assert Path(result["bundle_dir"]) == target and is_complete_bundle(target)
    [aside] = [p for p in target.parent.iterdir() if p.name.startswith(".run-1.incomplete-")]
    assert (aside / "changes.json").read_text() == "half"
    assert not is_complete_bundle(aside)


def test_a_failed_write_leaves_no_bundle(store: SnapshotStore, tmp_path: Path, campaign_dir: Path) -> None:
    """Complete or absent: a failure before the marker leaves nothing at the bundle's place."""
    root = tmp_path / "evidence"
    with pytest.raises(FileNotFoundError):
        _write(store, root, campaign_dir, "run-1", resync_manifest_path=str(tmp_path / "missing.json"))
    target = bundle_dir(root, build_campaign(store, fx.ACCOUNT).campaign_id, "run-1")
    assert not target.exists()
    assert list(target.parent.iterdir()) == [], "the temporary folder was cleaned up"
    # A retry then writes the bundle.
    assert is_complete_bundle(_write(store, root, campaign_dir, "run-1")["bundle_dir"])


# --- the one rule for ids that become paths ---------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "shown"),
    [
        ("acme\u202eKZ7Q", "U+202E"),  # right-to-left override
        ("acme\u200b-Q7R2ZK", "U+200B"),  # zero-width space
        ("acme\u200d", "U+200D"),  # zero-width joiner
        ("\ufeffacme", "U+FEFF"),  # byte order mark
        ("acme\u2066x\u2069", "U+2066"),  # isolate
        ("acme\u061c", "U+061C"),  # Arabic letter mark
    ],
)
def test_account_ids_with_invisible_or_direction_characters_are_refused(bad: str, shown: str) -> None:
    with pytest.raises(ValueError, match=re.escape(shown)):
        validate_account_id(bad)
    with pytest.raises(ValueError, match="account_id"):
        ClientConfig(account_id=bad, email="a@acme.example", api_token="t")


@pytest.mark.parametrize(
    "bad", [".", "..", ".hidden", "-rf", "a..b", "é", "a:b", "x" * 201, "a\x7f", "a\x85"]
)
def test_the_path_component_rule(bad: str) -> None:
    with pytest.raises(ValueError, match="cannot be used in"):
        validate_path_component(bad, "id")


@pytest.mark.parametrize(
    "good", ["acme-Q7R2ZK", "20261127T163512.048113Z-3fa9c1e07b52", "_x", "1", "a.b_c-d"]
)
def test_ordinary_ids_pass(good: str) -> None:
    assert validate_path_component(good, "id") == good


def test_local_path_inside_refuses_what_resolves_outside(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path, target_is_directory=True)
    assert local_path_inside(tmp_path / "root", "a", "b") == (tmp_path / "root" / "a" / "b").resolve()
    with pytest.raises(ValueError, match="not inside"):
        local_path_inside(tmp_path / "root", "link", "x")
    with pytest.raises(ValueError, match="'/'"):
        local_path_inside(tmp_path / "root", "../x")


def test_the_bundles_ledger_csv_runs_no_formula_in_any_locale(
    store: SnapshotStore, tmp_path: Path, campaign_dir: Path
) -> None:
    """Reasons and errors hold reviewers' and Boomi's text: the auditor's ledger.csv is neutralised."""
    import csv

    from airflow_provider_boomi.access.changes import ChangeResult
    from airflow_provider_boomi.access.ledger import LedgerWriter, RunContext
    from airflow_provider_boomi.review.cells import restore_csv_cell

    hostile = '=HYPERLINK("http://x";"y");-1+1\nsecond line'
    ledger = tmp_path / "ledger"
    with LedgerWriter(str(ledger), context=RunContext(account_id=fx.ACCOUNT, run_id="run-1")) as writer:
        writer.record(
            ChangeResult(
                action_id="a1",
                action="revoke_role",
                user_id="@dana@acme.example",
                role_id="r1",
                role_name="+Role",
                account_group_id=None,
                account_group_name=None,
                dry_run=False,
                state_before="present",
                outcome="applied",
                reason=hostile,
            )
        )
    bundle = _write(store, tmp_path / "evidence", campaign_dir, "run-1", ledger_path=str(ledger))
    text = (Path(bundle["bundle_dir"]) / "ledger.csv").read_text(encoding="utf-8")
    assert len(text.splitlines()) == 2  # a header and one row: the newline stayed inside its cell
    for delimiter in (",", ";"):
        for row in csv.reader(text.splitlines(), delimiter=delimiter):
            for cell in row:
                assert not cell.lstrip().startswith(("=", "+", "-", "@", "\t", "\r")), (delimiter, cell)
    rows = list(csv.DictReader(text.splitlines()))
    assert restore_csv_cell(rows[0]["reason"]) == hostile
