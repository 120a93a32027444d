"""Bad input is refused with a message that says what to fix, and changes nothing in Boomi.

Every case runs against the simulator and then checks its request log: no create and no delete
ever reach it (for input checks that run before any call, no request at all).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_boomi.access.changes import AccessChange, load_changes
from airflow_provider_boomi.access.provisioning import (
    Provisioner,
    ProvisioningOptions,
    TooManyChangesError,
)
from airflow_provider_boomi.access.sync import sync_account
from airflow_provider_boomi.access.validation import ProvisioningInputError
from airflow_provider_boomi.client import ClientConfig
from airflow_provider_boomi.dataset import SnapshotWriter, validate_account_id
from airflow_provider_boomi.operators.provisioning import BoomiApplyAccessChangesOperator
from airflow_provider_boomi.testing.simulator import BoomiSimulator
from tests.helpers import make_client

WRITES = ("create", "delete")
LEGACY_ROLE_ID = "fedcba98-7654-3210-fedc-ba9876543c210"


def _provisioner(sim: BoomiSimulator, **options: Any) -> Provisioner:
    return Provisioner(make_client(sim), ProvisioningOptions(provisioning_enabled=True, **options))


def _email(sim: BoomiSimulator, local: str) -> str:
    return f"{local}@{sim.email.split('@')[1]}"


def _writes(sim: BoomiSimulator) -> list[str]:
    return [r.operation for r in sim.requests if r.operation in WRITES]


def _connect(sim: BoomiSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = sim.connection_dict(provisioning_enabled=True)
    conn["extra"]["requests_per_second"] = 1000
    monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", json.dumps(conn))


# --- emails -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "dana.lee",
        "dana.lee@",
        "@acme.example",
        "dana lee@acme.example",
        "dana@acme",
        "dana@@acme.example",
        "dana@acme.example,eve@acme.example",
        "dana@acme.example; eve@acme.example",
        " dana@acme.example",
        "Dana <dana@acme.example>",
        "",
        "x" * 250 + "@acme.example",
    ],
)
def test_malformed_emails_are_refused_before_any_call(sim: BoomiSimulator, email: str) -> None:
    # A typo would invite a stranger (Boomi creates a user for any unknown address).
    with pytest.raises(ProvisioningInputError) as caught:
        _provisioner(sim).apply_all([AccessChange(action="assign_role", user_id=email, role="Auditor")])
    message = str(caught.value)
    assert "nothing was sent to Boomi" in message
    assert "user_id" in message and ("email" in message or "spaces" in message or "longer" in message)
    assert sim.requests == []


def test_one_bad_change_refuses_the_whole_batch(sim: BoomiSimulator) -> None:
    changes = [
        AccessChange(action="assign_role", user_id=_email(sim, "zoe.angstrom"), role="Auditor"),
        AccessChange(action="assign_role", user_id="not-an-email", role="Auditor"),
        AccessChange(action="grant", user_id=_email(sim, "li.lei"), role="Auditor"),
        AccessChange(action="add_group_role", user_id=_email(sim, "li.lei"), role="Auditor"),
        AccessChange(action="assign_role", user_id=_email(sim, "li.lei"), role=" "),
    ]
    with pytest.raises(ProvisioningInputError) as caught:
        _provisioner(sim).apply_all(changes)
    problems = caught.value.problems
    assert any(p.startswith("change #2") and "not an email address" in p for p in problems)
    assert any(p.startswith("change #3") and "unknown action 'grant'" in p for p in problems)
    assert any(p.startswith("change #4") and "needs an account group" in p for p in problems)
    assert any(p.startswith("change #5") and "role is empty" in p for p in problems)
    assert not any(p.startswith("change #1") for p in problems)
    assert sim.requests == []


# --- roles ---------------------------------------------------------------------------------------


def test_unknown_role_name_suggests_the_close_one(sim: BoomiSimulator) -> None:
    [result] = _provisioner(sim).apply_all(
        [AccessChange(action="assign_role", user_id=_email(sim, "zoe.angstrom"), role="Auditr")]
    )
    assert result.outcome == "failed"
    assert "no role named 'Auditr'" in (result.error or "")
    assert "Did you mean: 'Auditor'" in (result.error or "")
    assert _writes(sim) == []


def test_unknown_role_id_says_so(sim: BoomiSimulator) -> None:
    [result] = _provisioner(sim).apply_all(
        [
            AccessChange(
                action="assign_role",
                user_id=_email(sim, "zoe.angstrom"),
                role="00000000-0000-4000-8000-000000000000",
                role_is_id=True,
            )
        ]
    )
    assert result.outcome == "failed"
    assert "no role with id" in (result.error or "")
    assert _writes(sim) == []


def test_ambiguous_role_name_asks_for_the_id(sim: BoomiSimulator) -> None:
    sim.state.add_role("Developer", ["BUILD"])  # a second custom role with the same name
    [result] = _provisioner(sim).apply_all(
        [AccessChange(action="assign_role", user_id=_email(sim, "zoe.angstrom"), role="Developer")]
    )
    assert result.outcome == "failed"
    assert "ambiguous" in (result.error or "") and "Give the role id instead" in (result.error or "")
    assert _writes(sim) == []


@pytest.mark.parametrize("by", ["name", "id"])
@pytest.mark.parametrize("action", ["assign_role", "revoke_role"])
def test_non_canonical_role_ids_are_refused(sim: BoomiSimulator, by: str, action: str) -> None:
    holder = next(r["userId"] for r in sim.state.user_roles() if r["roleId"] == LEGACY_ROLE_ID)
    user = _email(sim, "zoe.angstrom") if action == "assign_role" else holder
    role = "Legacy Partner Role" if by == "name" else LEGACY_ROLE_ID
    [result] = _provisioner(sim).apply_all(
        [AccessChange(action=action, user_id=user, role=role, role_is_id=by == "id")]
    )
    assert result.outcome == "refused"
    assert "not a canonical UUID" in (result.error or "") and "Boomi UI" in (result.error or "")
    assert _writes(sim) == []


# --- account ids that try to leave the output path --------------------------------------------------


@pytest.mark.parametrize(
    "account_id", ["../x", "a/b", "..", ".", "/etc", "a\\b", "acme T36", "acme%2F..", ""]
)
def test_account_ids_cannot_escape_the_output_path(
    sim: BoomiSimulator, tmp_path: Path, account_id: str
) -> None:
    out = tmp_path / "store" / "snapshots"
    with pytest.raises(ValueError, match="account") as caught:
        ClientConfig(base_url=sim.base_url, account_id=account_id, email=sim.email, api_token=sim.token)
    assert "account_id" in str(caught.value)
    with pytest.raises(ValueError):
        validate_account_id(account_id)
    with pytest.raises(ValueError):
        SnapshotWriter(str(out), account_id)
    assert sim.requests == []
    assert [p for p in tmp_path.rglob("*")] == []


def test_a_client_cannot_be_pointed_at_another_account_path(sim: BoomiSimulator, tmp_path: Path) -> None:
    """The account in the snapshot path is the client's validated one, never something from data."""
    with make_client(sim) as client:
        result = sync_account(client, str(tmp_path / "out"))
    assert Path(result.snapshot_path).resolve().is_relative_to((tmp_path / "out").resolve())
    assert f"account_id={sim.account_id}" in result.snapshot_path


# --- change files -----------------------------------------------------------------------------------


def _write(path: Path, rows: list[dict[str, Any]], kind: str) -> Path:
    if kind == "json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    elif kind == "csv":
        columns = sorted({k for row in rows for k in row}) or ["action"]
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    else:
        table = pa.Table.from_pylist(rows) if rows else pa.table({"action": pa.array([], pa.string())})
        pq.write_table(table, path)
    return path


@pytest.mark.parametrize("kind", ["json", "csv", "parquet"])
@pytest.mark.parametrize(
    ("rows", "fix"),
    [
        ([{"user_id": "dana@acme.example", "role": "Auditor"}], "unknown action ''"),
        ([{"action": "assign_role", "role": "Auditor"}], "user_id is empty"),
        ([{"action": "assign_role", "user_id": "dana@acme.example"}], "role is empty"),
        ([{"action": "grant", "user_id": "dana@acme.example", "role": "Auditor"}], "unknown action 'grant'"),
        (
            [{"action": "remove_group_role", "user_id": "dana@acme.example", "role": "Auditor"}],
            "needs an account group",
        ),
        ([{"action": "assign_role", "user_id": "dana", "role": "Auditor"}], "not an email address"),
    ],
)
def test_malformed_change_files_fail_the_task_without_retry(
    sim: BoomiSimulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    kind: str,
    rows: list[dict[str, Any]],
    fix: str,
) -> None:
    _connect(sim, monkeypatch)
    path = _write(tmp_path / f"changes.{kind}", rows, kind)
    operator = BoomiApplyAccessChangesOperator(task_id="apply", changes_path=str(path))
    with pytest.raises(AirflowFailException, match="nothing was sent to Boomi") as caught:
        operator.execute({})  # type: ignore[arg-type]
    assert fix in str(caught.value)
    assert "change #1" in str(caught.value)
    assert sim.requests == []


@pytest.mark.parametrize(
    ("name", "content", "fix"),
    [
        ("changes.json", "{not json", "Expecting property name"),
        ("changes.json", '{"items": []}', "expected a JSON list of changes"),
        ("changes.json", '["assign_role"]', "expected a mapping of fields"),
        ("changes.json", "", "Expecting value"),
        ("changes.csv", "", "No columns to parse"),
        ("changes.parquet", "PAR1 not parquet", "arquet"),
        ("changes.txt", "action,user_id,role\n", "use .json, .csv or .parquet"),
        (
            "changes.json",
            '[{"action": "assign_role", "user_id": "a@b.example", "role": "x", "notify_user": "maybe"}]',
            "notify_user must be true or false",
        ),
    ],
)
def test_unreadable_change_files_say_what_is_wrong(
    sim: BoomiSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, content: str, fix: str
) -> None:
    _connect(sim, monkeypatch)
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    operator = BoomiApplyAccessChangesOperator(task_id="apply", changes_path=str(path))
    with pytest.raises(AirflowFailException, match="invalid access changes") as caught:
        operator.execute({})  # type: ignore[arg-type]
    assert fix in str(caught.value)
    assert sim.requests == []


# --- batch sizes ------------------------------------------------------------------------------------


def test_an_empty_batch_is_a_no_op(
    sim: BoomiSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An empty change set is legitimate (a review where every grant was kept): nothing happens."""
    _connect(sim, monkeypatch)
    for path in (
        _write(tmp_path / "empty.json", [], "json"),
        _write(tmp_path / "empty.csv", [], "csv"),
        _write(tmp_path / "empty.parquet", [], "parquet"),
    ):
        assert load_changes(str(path)) == []
        summary = BoomiApplyAccessChangesOperator(task_id="apply", changes_path=str(path)).execute({})  # type: ignore[arg-type]
        assert summary["outcomes"] == [] and summary["counts"] == {}
    assert sim.requests == []


@pytest.mark.parametrize("size", [26, 10_000])
def test_a_huge_batch_is_refused_whole(
    sim: BoomiSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, size: int
) -> None:
    _connect(sim, monkeypatch)
    changes = [
        {"action": "assign_role", "user_id": f"user{i}@acme.example", "role": "Auditor"} for i in range(size)
    ]
    operator = BoomiApplyAccessChangesOperator(
        task_id="apply", changes=changes, ledger_path=str(tmp_path / "ledger")
    )
    with pytest.raises(AirflowFailException) as caught:
        operator.execute({})  # type: ignore[arg-type]
    message = str(caught.value)
    assert f"batch of {size} changes exceeds max_changes=25" in message
    assert f"Raise max_changes to at least {size}" in message
    assert sim.requests == []
    with pytest.raises(TooManyChangesError):
        _provisioner(sim, max_changes=25).apply_all(
            [AccessChange(action="assign_role", user_id=c["user_id"], role="Auditor") for c in changes]
        )
    assert sim.requests == []


# --- review decisions -------------------------------------------------------------------------------


def test_decisions_naming_unknown_grants_are_refused(sim: BoomiSimulator, tmp_path: Path) -> None:
    from airflow_provider_boomi.review import (
        DecisionValidationError,
        build_campaign,
        read_decisions,
        write_campaign,
    )

    with make_client(sim) as client:
        sync_account(client, str(tmp_path / "snapshots"))
    campaign = build_campaign(
        str(tmp_path / "snapshots"), sim.account_id, default_reviewer="sec@acme.example"
    )
    files = write_campaign(campaign, tmp_path / "campaign")
    first = campaign.items[0]
    workbook = tmp_path / "filled.csv"
    with workbook.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item_id", "decision", "comment"])
        writer.writerow([first.item_id, "revoke", "left the team"])
        writer.writerow(["not-an-item-of-this-campaign", "revoke", ""])
        for item in campaign.items[1:]:
            writer.writerow([item.item_id, "keep", ""])
    sim.clear_requests()
    written = {
        Path(str(path))
        for path in (
            files.workbook_csv,
            files.workbook_xlsx,
            files.report_html,
            files.campaign_json,
            *files.reviewer_workbooks.values(),
        )
    }
    before = {path: path.read_bytes() for path in (tmp_path / "campaign").rglob("*") if path.is_file()}
    with pytest.raises(DecisionValidationError) as caught:
        read_decisions(tmp_path / "campaign", workbook)
    message = str(caught.value)
    assert "'not-an-item-of-this-campaign' is not an item of campaign" in message
    assert "no decision was applied" in message and "Fix them" in message
    # The campaign is left exactly as written: no decisions file, no file changed.
    assert written <= set(before)
    assert {
        path: path.read_bytes() for path in (tmp_path / "campaign").rglob("*") if path.is_file()
    } == before
    assert sim.requests == []
