"""compute_findings on hand-built snapshot tables: each rule's edges, unknowns, ids and the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from airflow_provider_boomi.access.roles import PrivilegePolicy
from airflow_provider_boomi.dataset import TABLES
from airflow_provider_boomi.findings import (
    FINDINGS_SCHEMA,
    FindingsNotFoundError,
    SnapshotTables,
    compute_findings,
    finding_id,
    flags_by_grant,
    list_findings,
    load_people,
    read_findings,
    write_findings,
)

ACCOUNT, SYNC = "acme-Q7R2ZK", "20260601T000000.000000Z-aaaaaaaaaaaa"
AT = datetime(2026, 6, 1, tzinfo=UTC)
ROLES = [
    # (role id, name, effective privileges or None when unknown)
    ("r-admin", "Administrator", ["ACCOUNT_ADMIN", "API"]),
    ("r-deploy", "Deployer", ["DEPLOY"]),
    ("r-view", "Viewer", ["DASHBOARD"]),
    ("r-mystery", None, None),
]


def _table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    common = {"account_id": ACCOUNT, "sync_id": SYNC, "synced_at": AT}
    return pa.Table.from_pylist([common | r for r in rows], schema=TABLES[name])


def _tables(direct: list[tuple[str, str]], group: list[tuple[str, str, str]] = ()) -> SnapshotTables:  # type: ignore[assignment]
    users = sorted({u for u, _r in direct} | {u for u, _g, _r in group})
    names = {r: n for r, n, _p in ROLES}
    return SnapshotTables(
        ACCOUNT,
        SYNC,
        AT,
        users=_table(
            "users",
            [
                {
                    "user_id": u,
                    "email": u.lower(),
                    "global_role_count": 0,
                    "group_role_count": 0,
                    "is_account_member": True,
                }
                for u in users
            ],
        ),
        roles=_table(
            "roles",
            [
                {"role_id": r, "name": n, "effective_privileges": p, "privileges": p, "is_assignable": True}
                for r, n, p in ROLES
            ],
        ),
        user_role_grants=_table(
            "user_role_grants",
            [
                {
                    "grant_id": f"role:{r}:assigned:user:{u}",
                    "boomi_id": "x",
                    "user_id": u,
                    "role_id": r,
                    "role_name": names[r],
                }
                for u, r in direct
            ],
        ),
        group_role_grants=_table(
            "group_role_grants",
            [
                {
                    "grant_id": f"account_group:{g}:{r}:user:{u}",
                    "boomi_id": "x",
                    "user_id": u,
                    "account_group_id": g,
                    "account_group_name": f"Group {g}",
                    "role_id": r,
                    "role_name": names[r],
                }
                for u, g, r in group
            ],
        ),
    )


def _people(*rows: dict[str, Any]) -> Any:
    return load_people(pd.DataFrame([{"status": "active"} | r for r in rows]))


def _kinds(result: Any, user: str | None = None) -> list[tuple[str, str, str]]:
    return [
        (r["kind"], r["user_id"], r["subject"])
        for r in result.findings.to_pylist()
        if user is None or r["user_id"] == user
    ]


def test_privileged_unknown_and_the_policy_preset() -> None:
    tables = _tables(
        [("a@x.example", "r-admin"), ("a@x.example", "r-view")], [("a@x.example", "g1", "r-mystery")]
    )
    people = _people({"email": "a@x.example"})
    default = compute_findings(tables, people, as_of=AT)
    mystery = "account_group:g1:r-mystery:user:a@x.example"
    assert {(k, s) for k, _u, s in _kinds(default) if k.startswith("privile")} == {
        ("privileged", "role:r-admin:assigned:user:a@x.example"),
        ("privilege_unknown", mystery),
    }
    tables = _tables([("b@x.example", "r-deploy")])
    assert not any(
        k == "privileged"
        for k, _u, _s in _kinds(compute_findings(tables, _people({"email": "b@x.example"}), as_of=AT))
    )
    sox = compute_findings(
        tables, _people({"email": "b@x.example"}), as_of=AT, policy=PrivilegePolicy.preset("sox")
    )
    assert ("privileged", "b@x.example", "role:r-deploy:assigned:user:b@x.example") in _kinds(sox)


def test_unknown_privileges_raise_severity_like_privileges() -> None:
    tables = _tables([("m@x.example", "r-view")], [("m@x.example", "g1", "r-mystery")])
    result = compute_findings(tables, _people({"email": "other@x.example"}), as_of=AT)
    orphan = next(r for r in result.findings.to_pylist() if r["kind"] == "orphan")
    assert orphan["severity"] == "critical"  # possibly privileged is never treated as not privileged


def test_leaver_boundaries() -> None:
    users = ["ended@x.example", "today@x.example", "tomorrow@x.example", "leave@x.example"]
    tables = _tables([(u, "r-view") for u in users])
    people = _people(
        {"email": "ended@x.example", "status": "left"},
        {"email": "today@x.example", "end_date": "2026-06-01"},
        {"email": "tomorrow@x.example", "end_date": "2026-06-02"},
        {"email": "leave@x.example", "status": "suspended"},
    )
    result = compute_findings(tables, people, as_of=AT + timedelta(hours=23))
    assert {u for k, u, _s in _kinds(result) if k == "leaver"} == {"ended@x.example", "today@x.example"}
    row = next(
        r for r in result.findings.to_pylist() if r["kind"] == "leaver" and r["user_id"] == "today@x.example"
    )
    assert json.loads(row["evidence"])["reasons"] == ["end date 2026-06-01 on or before 2026-06-01"]
    assert row["severity"] == "high"


def test_service_account_owners() -> None:
    users = ["svc1@x.example", "svc2@x.example", "svc3@x.example", "svc4@x.example"]
    tables = _tables([(u, "r-view") for u in users])
    people = _people(
        {"email": "owner@x.example"},
        {"email": "gone@x.example", "status": "ended"},
        {"email": "svc1@x.example", "kind": "service", "owner_email": "owner@x.example"},
        {"email": "svc2@x.example", "kind": "service"},
        {"email": "svc3@x.example", "kind": "service", "owner_email": "gone@x.example"},
        {"email": "svc4@x.example", "kind": "service", "owner_email": "stranger@x.example"},
    )
    rows = [
        r
        for r in compute_findings(tables, people, as_of=AT).findings.to_pylist()
        if r["kind"] == "service_account"
    ]
    problems = {r["user_id"]: json.loads(r["evidence"])["owner_problem"] for r in rows}
    assert set(problems) == {"svc2@x.example", "svc3@x.example", "svc4@x.example"}
    assert problems["svc2@x.example"].startswith("no owner")
    assert "has left" in problems["svc3@x.example"]
    assert "not in the identity source" in problems["svc4@x.example"]


def _logins(*rows: tuple[str, datetime | None, datetime]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"user_id": u, "last_login_at": last, "window_start": start} for u, last, start in rows]
    )


def test_dormancy_and_what_cannot_be_told() -> None:
    users = [
        "recent@x.example",
        "old@x.example",
        "none.long@x.example",
        "none.short@x.example",
        "norow@x.example",
    ]
    tables = _tables([(u, "r-view") for u in users])
    people = _people(*({"email": u} for u in users))
    long_window, short_window = AT - timedelta(days=120), AT - timedelta(days=30)
    logins = _logins(
        ("recent@x.example", AT - timedelta(days=89, hours=23), long_window),
        ("old@x.example", AT - timedelta(days=90), long_window),
        ("none.long@x.example", None, long_window),
        ("none.short@x.example", None, short_window),
    )
    result = compute_findings(tables, people, as_of=AT, logins=logins)
    kinds = {(k, u) for k, u, _s in _kinds(result) if k.startswith("dormant")}
    assert kinds == {
        ("dormant", "old@x.example"),
        ("dormant", "none.long@x.example"),
        ("dormant_unknown", "none.short@x.example"),
        ("dormant_unknown", "norow@x.example"),
    }
    never = next(
        r
        for r in result.findings.to_pylist()
        if r["user_id"] == "none.long@x.example" and r["kind"] == "dormant"
    )
    assert never["detail"].startswith("no login since the start of the window read")
    assert never["login_window_start"] == long_window and never["last_login_at"] is None

    absent = compute_findings(tables, people, as_of=AT)
    assert {u for k, u, _s in _kinds(absent) if k == "dormant_unknown"} == set(users)
    empty_window = _logins(*((u, None, long_window) for u in users))
    nobody = compute_findings(tables, people, as_of=AT, logins=empty_window)
    assert {u for k, u, _s in _kinds(nobody) if k == "dormant_unknown"} == set(users)
    assert not any(k == "dormant" for k, _u, _s in _kinds(nobody))


def test_sso_findings_follow_the_inputs_given() -> None:
    tables = _tables(
        [("fed@x.example", "r-view"), ("plain@x.example", "r-admin"), ("blank@x.example", "r-view")]
    )
    people = _people({"email": "fed@x.example"}, {"email": "plain@x.example"}, {"email": "blank@x.example"})
    federation = pa.Table.from_pylist(
        [
            {"user_id": "fed@x.example", "federation_id": "F1"},
            {"user_id": "blank@x.example", "federation_id": None},
        ]
    )
    enforced = compute_findings(tables, people, as_of=AT, sso_enabled=True, federation=federation)
    no_sso = {r["user_id"]: r["severity"] for r in enforced.findings.to_pylist() if r["kind"] == "no_sso"}
    assert no_sso == {"plain@x.example": "high", "blank@x.example": "medium"}
    assert not any(k == "sso_unknown" for k, _u, _s in _kinds(enforced))
    users = {"fed@x.example", "plain@x.example", "blank@x.example"}
    for kwargs in ({}, {"sso_enabled": True}, {"federation": federation}):
        unknown = compute_findings(tables, people, as_of=AT, **kwargs)
        assert {u for k, u, _s in _kinds(unknown) if k == "sso_unknown"} == users
        assert not any(k == "no_sso" for k, _u, _s in _kinds(unknown))
    off = compute_findings(tables, people, as_of=AT, sso_enabled=False, federation=federation)
    assert not any(k in ("no_sso", "sso_unknown") for k, _u, _s in _kinds(off))


def test_regrants_count_revocations_before_the_snapshot_only() -> None:
    tables = _tables([("a@x.example", "r-view")], [("a@x.example", "g1", "r-view")])
    people = _people({"email": "a@x.example"})
    revocations = pa.Table.from_pylist(
        [
            {
                "user_id": "a@x.example",
                "role_id": "r-view",
                "account_group_id": "g1",
                "revoked_at": AT - timedelta(days=1),
                "revoked_in": "uar-1",
            },
            {
                "user_id": "a@x.example",
                "role_id": "r-view",
                "account_group_id": None,
                "revoked_at": AT,
                "revoked_in": "uar-2",
            },
            {
                "user_id": "A@x.example",
                "role_id": "r-view",
                "account_group_id": None,
                "revoked_at": AT - timedelta(days=1),
            },
        ]
    )
    result = compute_findings(tables, people, as_of=AT, previous_revocations=revocations)
    assert [s for k, _u, s in _kinds(result) if k == "regranted"] == [
        "account_group:g1:r-view:user:a@x.example"
    ]


def test_inputs_are_checked() -> None:
    tables = _tables([("a@x.example", "r-view")])
    people = _people({"email": "a@x.example"})
    with pytest.raises(ValueError, match="as_of must be a timezone-aware"):
        compute_findings(tables, people, as_of=datetime(2026, 6, 1))
    with pytest.raises(ValueError, match="dormant_days"):
        compute_findings(tables, people, as_of=AT, dormant_days=0)
    naive = pd.DataFrame(
        {
            "user_id": ["a@x.example"],
            "last_login_at": [datetime(2026, 5, 1)],
            "window_start": [datetime(2026, 1, 1)],
        }
    )
    with pytest.raises(ValueError, match="without a time zone"):
        compute_findings(tables, people, as_of=AT, logins=naive)
    twice = pa.Table.from_pylist([{"user_id": "a@x.example", "federation_id": "1"}] * 2)
    with pytest.raises(ValueError, match="more than once"):
        compute_findings(tables, people, as_of=AT, federation=twice)
    before = _logins(("a@x.example", AT - timedelta(days=10), AT - timedelta(days=5)))
    with pytest.raises(ValueError, match="before their window_start"):
        compute_findings(tables, people, as_of=AT, logins=before)


def test_ids_are_deterministic_and_flags_cover_every_grant() -> None:
    tables = _tables([("a@x.example", "r-admin")], [("a@x.example", "g1", "r-view")])
    people = _people({"email": "b@x.example"})
    first = compute_findings(tables, people, as_of=AT)
    second = compute_findings(tables, people, as_of=AT + timedelta(days=1))
    assert first.findings.column("finding_id").equals(second.findings.column("finding_id"))
    assert first.findings.schema.equals(FINDINGS_SCHEMA)
    assert finding_id(ACCOUNT, "orphan", "a@x.example", "") in first.findings.column("finding_id").to_pylist()
    assert finding_id("a:b", "c", "d", "") != finding_id("a", "b:c", "d", "")
    flags = flags_by_grant(first.findings, kinds=["orphan", "privileged"])
    assert flags == {
        "role:r-admin:assigned:user:a@x.example": ("orphan", "privileged"),
        "account_group:g1:r-view:user:a@x.example": ("orphan",),
    }
    with pytest.raises(ValueError, match="unknown finding kind"):
        flags_by_grant(first.findings, kinds=["leavers"])


def test_store_round_trip_and_tampering(tmp_path: Path) -> None:
    result = compute_findings(
        _tables([("a@x.example", "r-view")]), _people({"email": "b@x.example"}), as_of=AT
    )
    for root in (tmp_path / "findings", "memory://findings-test"):
        stored = write_findings(result, root)
        back = read_findings(root, ACCOUNT, SYNC)
        assert back.findings.equals(result.findings) and back.identities.equals(result.identities)
        assert (
            back.summary["files"]["findings"]["rows"] == result.findings.num_rows == stored.findings.num_rows
        )
        assert list_findings(root, ACCOUNT) == [SYNC]
        assert back.as_of == AT and back.synced_at == AT
    target = tmp_path / "findings" / f"account_id={ACCOUNT}" / f"sync_id={SYNC}" / "findings.parquet"
    target.write_bytes(target.read_bytes() + b"x")
    with pytest.raises(FindingsNotFoundError, match="altered after it was written"):
        read_findings(tmp_path / "findings", ACCOUNT, SYNC)
    with pytest.raises(FindingsNotFoundError, match="no findings"):
        read_findings(tmp_path / "findings", ACCOUNT, "20260602T000000.000000Z-bbbbbbbbbbbb")
    with pytest.raises(ValueError, match="cannot be used in a snapshot path"):
        read_findings(tmp_path / "findings", "../etc", SYNC)
