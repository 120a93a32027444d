"""Validation of access changes and loading them from records and files (no network, no Airflow DB)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_boomi.access.changes import (
    ADD_GROUP_ROLE,
    ASSIGN_ROLE,
    REVOKE_ROLE,
    AccessChange,
    changes_from_records,
    load_changes,
)
from airflow_provider_boomi.access.validation import (
    ProvisioningInputError,
    check_email,
    validate_change,
    validate_changes,
)


@pytest.mark.parametrize(
    "email",
    ["dana.lee@acme.example", "a+ops@acme.example", "Mixed.Case@Example.COM", "x@sub.domain-1.co"],
)
def test_plausible_emails_pass(email: str) -> None:
    assert check_email(email) is None


@pytest.mark.parametrize(
    ("email", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("dana", "not an email"),
        ("dana@", "not an email"),
        ("@acme.example", "not an email"),
        ("dana@@acme.example", "not an email"),
        ("dana lee@acme.example", "not an email"),
        ("dana@acme", "not an email"),
        ("a@b.example,c@d.example", "not an email"),
        (" dana@acme.example", "spaces"),
        ("d" * 250 + "@acme.example", "longer than"),
    ],
)
def test_bad_emails_are_described(email: str, fragment: str) -> None:
    problem = check_email(email)
    assert problem is not None and fragment in problem


def test_validation_lists_every_problem_of_a_batch() -> None:
    changes = [
        AccessChange(ASSIGN_ROLE, "ok@acme.example", "Auditor"),
        AccessChange("grant", "ok@acme.example", "Auditor"),
        AccessChange(REVOKE_ROLE, "ok@acme.example", ""),
        AccessChange(ADD_GROUP_ROLE, "ok@acme.example", "Auditor"),
        AccessChange(ASSIGN_ROLE, "ok@acme.example", "Auditor", account_group="Sandbox"),
    ]
    with pytest.raises(ProvisioningInputError) as caught:
        validate_changes(changes)
    message = str(caught.value)
    assert "nothing was sent to Boomi" in message
    assert "change #2: unknown action 'grant'" in message and "assign_role" in message
    assert "change #3: role is empty" in message
    assert "change #4: add_group_role needs an account group" in message
    assert "change #5" in message and "takes no account group" in message
    assert "change #1" not in message
    assert len(caught.value.problems) == 4


def test_validate_change_accepts_a_good_change() -> None:
    validate_change(AccessChange(ADD_GROUP_ROLE, "ok@acme.example", "Auditor", account_group="Sandbox"))


def test_records_accept_role_or_role_id_and_parse_flags() -> None:
    changes = changes_from_records(
        [
            {"action": "Assign_Role", "user_id": " a@b.example ", "role": "Auditor", "notify_user": "false"},
            {
                "action": "remove_group_role",
                "user_id": "a@b.example",
                "role_id": "r-1",
                "account_group_id": "g-1",
            },
            {"action": "revoke_role", "user_id": "a@b.example", "role": "X", "notify_user": None, "extra": 1},
        ]
    )
    assert changes[0] == AccessChange(ASSIGN_ROLE, "a@b.example", "Auditor", notify_user=False)
    assert changes[1].role == "r-1" and changes[1].role_is_id
    assert changes[1].account_group == "g-1" and changes[1].account_group_is_id
    assert changes[2].notify_user is True


def test_records_reject_bad_flags_and_non_mappings() -> None:
    with pytest.raises(ValueError, match="notify_user"):
        changes_from_records([{"action": "assign_role", "notify_user": "maybe"}])
    with pytest.raises(ValueError, match="change #1"):
        changes_from_records(["assign_role"])  # type: ignore[list-item]


ROWS = [
    {"action": "revoke_role", "user_id": "a@b.example", "role": "Auditor", "reason": "review 2026-Q1"},
    {
        "action": "add_group_role",
        "user_id": "c@b.example",
        "role": "Developer",
        "account_group": "Sandbox",
        "notify_user": "",
    },
]


def _expected() -> list[AccessChange]:
    return [
        AccessChange(REVOKE_ROLE, "a@b.example", "Auditor", reason="review 2026-Q1"),
        AccessChange(ADD_GROUP_ROLE, "c@b.example", "Developer", account_group="Sandbox"),
    ]


def test_load_json_list_and_object(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(ROWS))
    (tmp_path / "b.json").write_text(json.dumps({"changes": ROWS}))
    assert load_changes(str(tmp_path / "a.json")) == _expected()
    assert load_changes(str(tmp_path / "b.json")) == _expected()
    (tmp_path / "c.json").write_text(json.dumps({"rows": ROWS}))
    with pytest.raises(ValueError, match="changes"):
        load_changes(str(tmp_path / "c.json"))


def test_load_csv_keeps_empty_cells_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "decisions.csv"
    path.write_text(
        "action,user_id,role,account_group,notify_user,reason\n"
        "revoke_role,a@b.example,Auditor,,,review 2026-Q1\n"
        "add_group_role,c@b.example,Developer,Sandbox,,\n"
    )
    assert load_changes(str(path)) == _expected()


def test_load_parquet_with_nulls(tmp_path: Path) -> None:
    path = tmp_path / "decisions.parquet"
    table = pa.table(
        {
            "action": ["revoke_role", "add_group_role"],
            "user_id": ["a@b.example", "c@b.example"],
            "role": ["Auditor", "Developer"],
            "account_group": [None, "Sandbox"],
            "notify_user": pa.array([None, None], pa.bool_()),
            "reason": ["review 2026-Q1", None],
        }
    )
    pq.write_table(table, path)
    assert load_changes(str(path)) == _expected()


def test_load_from_fsspec_url() -> None:
    import fsspec

    with fsspec.open("memory://changes/batch.json", "w") as handle:
        handle.write(json.dumps(ROWS))
    assert load_changes("memory://changes/batch.json") == _expected()


def test_unknown_file_type(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.json, \.csv or \.parquet"):
        load_changes(str(tmp_path / "changes.xlsx"))
