"""Property: the diff between two account states is exactly the set difference of their grants.

Grant ids encode user, role and group, so ``grant_changes`` must report every grant id present
only in the current state as ``added``, every one present only in the previous state as
``removed``, and nothing else, for any pair of states, with the grant's parts in its columns.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_boomi.dataset import (
    grant_changes,
    grant_id,
    group_entitlement_id,
    parse_grant_id,
    role_entitlement_id,
    schema_for,
)

USERS = ["dana@acme.example", "Mixed.Case@Example.COM", "a+ops@acme.example", "zoë@acme.example"]
ROLES = ["r-admin", "r-dev", "fedcba98-7654-3210-fedc-ba9876543c210"]
GROUPS = ["g-all", "g-emea"]

_global = st.frozensets(st.tuples(st.sampled_from(USERS), st.sampled_from(ROLES)), max_size=12)
_group = st.frozensets(
    st.tuples(st.sampled_from(USERS), st.sampled_from(GROUPS), st.sampled_from(ROLES)), max_size=12
)
_states = st.tuples(_global, _group)


def _user_table(grants: frozenset[tuple[str, str]]) -> pa.Table:
    rows = sorted(grants)
    return pa.table(
        {
            "grant_id": [grant_id(role_entitlement_id(r), u) for u, r in rows],
            "user_id": [u for u, _ in rows],
            "role_id": [r for _, r in rows],
        }
    )


def _group_table(grants: frozenset[tuple[str, str, str]]) -> pa.Table:
    rows = sorted(grants)
    return pa.table(
        {
            "grant_id": [grant_id(group_entitlement_id(g, r), u) for u, g, r in rows],
            "user_id": [u for u, _, _ in rows],
            "role_id": [r for _, _, r in rows],
            "account_group_id": [g for _, g, _ in rows],
        }
    )


def _ids(state: tuple[frozenset[tuple[str, str]], frozenset[tuple[str, str, str]]]) -> set[str]:
    user_grants, group_grants = state
    return {grant_id(role_entitlement_id(r), u) for u, r in user_grants} | {
        grant_id(group_entitlement_id(g, r), u) for u, g, r in group_grants
    }


@given(previous=_states, current=_states)
def test_diff_is_the_set_difference_of_grants(previous, current) -> None:  # type: ignore[no-untyped-def]
    changes = grant_changes(
        _user_table(previous[0]),
        _group_table(previous[1]),
        _user_table(current[0]),
        _group_table(current[1]),
        "sync-prev",
        account_id="acme-T36WFB",
        sync_id="sync-cur",
        synced_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert changes.schema.equals(schema_for("grant_changes"))
    rows = changes.to_pylist()
    added = {r["grant_id"] for r in rows if r["change_type"] == "added"}
    removed = {r["grant_id"] for r in rows if r["change_type"] == "removed"}
    assert added == _ids(current) - _ids(previous)
    assert removed == _ids(previous) - _ids(current)
    assert len(rows) == len(added) + len(removed)  # no duplicates
    for row in rows:
        parsed = parse_grant_id(row["grant_id"])
        assert row["grant_kind"] == parsed.kind
        assert (row["user_id"], row["role_id"], row["account_group_id"]) == (
            parsed.user_id,
            parsed.role_id,
            parsed.account_group_id,
        )
        assert row["previous_sync_id"] == "sync-prev"
        assert (row["account_id"], row["sync_id"]) == ("acme-T36WFB", "sync-cur")


@given(current=_states)
def test_without_a_previous_state_everything_is_added(current) -> None:  # type: ignore[no-untyped-def]
    changes = grant_changes(
        None,
        None,
        _user_table(current[0]),
        _group_table(current[1]),
        "ignored",
        account_id="acme-T36WFB",
        sync_id="sync-cur",
        synced_at=datetime(2026, 1, 1, tzinfo=UTC),
    ).to_pylist()
    assert {r["grant_id"] for r in changes} == _ids(current)
    assert {r["change_type"] for r in changes} <= {"added"}
    assert all(r["previous_sync_id"] is None for r in changes)


@given(state=_states)
def test_a_state_against_itself_has_no_changes(state) -> None:  # type: ignore[no-untyped-def]
    user_table, group_table = _user_table(state[0]), _group_table(state[1])
    changes = grant_changes(
        user_table,
        group_table,
        user_table,
        group_table,
        "sync-prev",
        account_id="acme-T36WFB",
        sync_id="sync-cur",
        synced_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert changes.num_rows == 0
