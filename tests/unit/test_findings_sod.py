"""SoD policies: the file formats, validation messages, and evaluation with the path of each role."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_boomi.findings import (
    Grant,
    SodPolicyError,
    evaluate_sod,
    load_sod_policy,
    parse_sod_policy,
)

ROLES = {
    "r-rel": "Release Manager",
    "r-aud": "Auditor",
    "r-dev": "Developer",
    "r-op": "Operator",
    "r-aud2": "auditor",
}


def _direct(user: str, role: str) -> Grant:
    return Grant(f"role:{role}:assigned:user:{user}", "global_role", user, role, ROLES[role], None, None)


def _group(user: str, group: str, role: str) -> Grant:
    return Grant(
        f"account_group:{group}:{role}:user:{user}",
        "group_role",
        user,
        role,
        ROLES[role],
        group,
        f"Group {group}",
    )


def _policy(*rules: dict[str, object]) -> object:
    return parse_sod_policy({"version": 1, "rules": list(rules)})


def test_toml_and_json_files_read_the_same(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(
        'version = 1\n[[rules]]\nname = "r"\nroles = ["Release Manager", "r-aud"]\nscope = "group"\n'
        'severity = "critical"\ndescription = "why"\n'
    )
    (tmp_path / "p.json").write_text(
        json.dumps(
            {
                "rules": [
                    {
                        "name": "r",
                        "roles": ["Release Manager", "r-aud"],
                        "scope": "group",
                        "severity": "critical",
                        "description": "why",
                    }
                ]
            }
        )
    )
    toml, js = load_sod_policy(tmp_path / "p.toml"), load_sod_policy(tmp_path / "p.json")
    assert toml.rules == js.rules
    assert toml.rules[0].scope == "group" and toml.rules[0].severity == "critical"
    assert len(toml.sha256) == 64 and toml.sha256 != js.sha256  # pins the bytes read


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rules": []}, "non-empty list"),
        ({"rule": []}, "unknown key"),
        ({"version": 2, "rules": [{"name": "a", "roles": ["x", "y"]}]}, "version 2 is not supported"),
        ({"rules": [{"name": "a", "roles": ["x"]}]}, "at least two different roles"),
        ({"rules": [{"name": "a", "roles": ["x", "X"]}]}, "at least two different roles"),
        ({"rules": [{"name": "a", "roles": "x,y"}]}, "roles must be a list"),
        ({"rules": [{"name": "a", "roles": ["x", "y"], "scope": "tenant"}]}, "scope must be one of"),
        ({"rules": [{"name": "a", "roles": ["x", "y"], "severity": "urgent"}]}, "severity must be one of"),
        ({"rules": [{"name": "a", "roles": ["x", "y"], "role": "z"}]}, "unknown key"),
        (
            {"rules": [{"name": "a", "roles": ["x", "y"]}, {"name": "A", "roles": ["x", "y"]}]},
            "must be unique",
        ),
        ({"rules": [{"name": " ", "roles": ["x", "y"]}]}, "name must be non-empty"),
    ],
)
def test_invalid_policies_say_what_to_fix(data: dict[str, object], message: str) -> None:
    with pytest.raises(SodPolicyError, match=message):
        parse_sod_policy(data)


def test_unreadable_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text("rules = [")
    with pytest.raises(SodPolicyError, match="not valid TOML"):
        load_sod_policy(tmp_path / "p.toml")
    (tmp_path / "p.yaml").write_text("rules: []")
    with pytest.raises(SodPolicyError, match=r"\.json or \.toml"):
        load_sod_policy(tmp_path / "p.yaml")
    with pytest.raises(SodPolicyError, match="does not exist"):
        load_sod_policy(tmp_path / "missing.json")


def test_account_scope_counts_direct_and_group_grants_with_their_paths() -> None:
    policy = _policy({"name": "rel-aud", "roles": ["r-rel", "Auditor"]})
    grants = [
        _direct("both.direct@x", "r-rel"),
        _direct("both.direct@x", "r-aud"),
        _direct("mixed@x", "r-rel"),
        _group("mixed@x", "g1", "r-aud"),
        _group("mixed@x", "g2", "r-aud2"),  # a second role named "auditor": the name counts, any case
        _direct("one@x", "r-rel"),
        _direct("other@x", "r-dev"),
    ]
    conflicts, warnings = evaluate_sod(policy, grants, ROLES)  # type: ignore[arg-type]
    assert warnings == []
    assert [c.user_id for c in conflicts] == ["both.direct@x", "mixed@x"]
    mixed = conflicts[1]
    assert mixed.account_group_id is None
    held = {entry: [g.path for g in gs] for entry, gs in mixed.held}
    assert held == {
        "r-rel": ["direct"],
        "Auditor": ["through account group Group g1 (g1)", "through account group Group g2 (g2)"],
    }
    assert len(mixed.grants) == 3


def test_group_scope_needs_the_roles_within_one_group() -> None:
    policy = _policy({"name": "dev-op", "roles": ["Developer", "Operator"], "scope": "group"})
    grants = [
        _group("same@x", "g1", "r-dev"),
        _group("same@x", "g1", "r-op"),
        _group("same@x", "g2", "r-dev"),
        _group("split@x", "g1", "r-dev"),
        _group("split@x", "g2", "r-op"),
        _direct("direct@x", "r-dev"),
        _direct("direct@x", "r-op"),  # global roles apply to the account, not to a group's accounts
    ]
    conflicts, _ = evaluate_sod(policy, grants, ROLES)  # type: ignore[arg-type]
    assert [(c.user_id, c.account_group_id) for c in conflicts] == [("same@x", "g1")]


def test_a_role_the_snapshot_lacks_fails_unless_warned() -> None:
    policy = _policy({"name": "typo", "roles": ["Release Manger", "Auditor"]})
    with pytest.raises(SodPolicyError, match="no role of the snapshot has the id or name 'Release Manger'"):
        evaluate_sod(policy, [_direct("a@x", "r-aud")], ROLES)  # type: ignore[arg-type]
    conflicts, warnings = evaluate_sod(policy, [_direct("a@x", "r-aud")], ROLES, on_unknown_role="warn")  # type: ignore[arg-type]
    assert conflicts == [] and "Release Manger" in warnings[0]


def test_two_entries_naming_one_role_are_refused() -> None:
    policy = _policy({"name": "dup", "roles": ["r-rel", "Release Manager"]})
    with pytest.raises(SodPolicyError, match="name the same role"):
        evaluate_sod(policy, [], ROLES)  # type: ignore[arg-type]
