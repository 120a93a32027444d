"""The warehouse views over the governance tables, exact on DuckDB and on a real PostgreSQL.

The demo account (a partner with three sub-accounts, account groups covering some of them, and
environments) is synced from the simulator with every resource; the views are checked row by row
against the simulator's raw objects. Two more snapshots show which snapshot each view reads: a
default sync (no governance table) must not empty the views, and a newer snapshot that read the
coverage but not the sub-accounts is the one shown, with the sub-accounts unknown (null).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_boomi.access.sync import ALL_RESOURCES, DEFAULT_RESOURCES, SyncOptions, sync_account
from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.testing.simulator import BoomiSimulator
from airflow_provider_boomi.warehouse import (
    DuckDBTarget,
    SqlAlchemyTarget,
    WarehouseTarget,
    create_views,
    load_snapshot,
)
from airflow_provider_boomi.warehouse.tables import SNAPSHOTS_TABLE, snapshots_columns
from tests.helpers import make_client

GOVERNANCE_VIEWS = ("boomi_group_reach", "boomi_user_account_reach", "boomi_environment_access")
WITHOUT_SUB_ACCOUNTS = tuple(r for r in ALL_RESOURCES if r != "sub_accounts")


@dataclass(frozen=True)
class Synced:
    """Three snapshots of one demo account and the simulator's raw objects behind them."""

    store: SnapshotStore
    account_id: str
    full: str  # every resource
    default: str  # the five core tables only, taken after ``full``
    no_subs: str  # every resource but sub_accounts, taken last
    groups: dict[str, str]  # account group id -> name
    coverage: list[tuple[str, str]]  # (account group id, covered account id)
    sub_accounts: dict[str, dict[str, Any]]  # sub-account id -> Account object
    group_roles: list[tuple[str, str, str]]  # (user id, account group id, role id)
    role_names: dict[str, str]
    environments: dict[str, dict[str, Any]]
    environment_roles: list[tuple[str, str]]  # (environment id, role id)


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Synced:
    root = tmp_path_factory.mktemp("governance-views")
    with BoomiSimulator(profile="demo", seed=5, rate_limit=None) as sim:
        ids = []
        for resources in (ALL_RESOURCES, DEFAULT_RESOURCES, WITHOUT_SUB_ACCOUNTS):
            with make_client(sim) as client:
                ids.append(sync_account(client, root, options=SyncOptions(resources=resources)).sync_id)
        gov, state = sim.governance, sim.state
        return Synced(
            store=SnapshotStore(root),
            account_id=sim.account_id,
            full=ids[0],
            default=ids[1],
            no_subs=ids[2],
            groups={g["id"]: g["name"] for g in state.account_groups()},
            coverage=[(r["accountGroupId"], r["accountId"]) for r in gov.rows("AccountGroupAccount")],
            sub_accounts={a["accountId"]: a for a in gov.rows("Account")},
            group_roles=[(r["userId"], r["accountGroupId"], r["roleId"]) for r in state.group_roles()],
            role_names={r["id"]: r["name"] for r in state.roles()},
            environments={e["id"]: e for e in gov.rows("Environment")},
            environment_roles=[(r["environmentId"], r["roleId"]) for r in gov.rows("EnvironmentRole")],
        )


@pytest.fixture(params=["duckdb", "postgresql"])
def make_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], WarehouseTarget]]:
    """A fresh, empty warehouse of each kind (PostgreSQL: a schema of the test's own)."""
    if request.param == "duckdb":
        yield lambda: DuckDBTarget(tmp_path / "warehouse.duckdb")
    else:
        engine = request.getfixturevalue("pg_engine")
        schema = request.getfixturevalue("pg_schema")
        yield lambda: SqlAlchemyTarget(engine, schema=schema)


def _load(target: WarehouseTarget, synced: Synced, *sync_ids: str) -> None:
    for sync_id in sync_ids:
        load_snapshot(target, synced.store, synced.account_id, sync_id)


def _select(target: WarehouseTarget, view: str, columns: str, *, key: bool = True) -> set[tuple[Any, ...]]:
    """The rows of ``columns`` of a view; with ``key``, the columns identify a row (no repeats)."""
    rows = target.query(f"SELECT {columns} FROM {target.qualified(view)}")
    if key:
        assert len(rows) == len(set(rows)), f"{view} repeats a row"
    return set(rows)


def _privileged(target: WarehouseTarget, synced: Synced, sync_id: str) -> dict[str, Any]:
    """Each role's privilege as the snapshot's roles table says (the rule is the catalog's)."""
    roles = synced.store.read_table(synced.account_id, sync_id, "roles").to_pylist()
    return {r["role_id"]: r["is_privileged"] for r in roles}


def test_the_views_read_the_newest_snapshot_with_their_tables_exactly(
    synced: Synced, make_target: Callable[[], WarehouseTarget]
) -> None:
    target = make_target()
    _load(target, synced, synced.full, synced.default)  # the default sync is newer, and has none
    account = synced.account_id

    reach = _select(
        target,
        "boomi_group_reach",
        "sync_id, account_group_id, account_group_name, covered_account_id, is_own_account, "
        "covered_account_name, covered_account_status, is_sub_account",
    )
    subs = synced.sub_accounts
    assert reach == {
        (
            synced.full,
            group,
            synced.groups[group],
            covered,
            covered == account,
            subs[covered]["name"] if covered in subs else None,
            subs[covered]["status"] if covered in subs else None,
            covered in subs,
        )
        for group, covered in synced.coverage
    }
    # The data has what the view must tell apart: the account itself, covered sub-accounts, a
    # sub-account no group covers, and a group covering nothing.
    assert {r[4] for r in reach} == {True, False} and {r[7] for r in reach} == {True, False}
    assert set(subs) - {r[3] for r in reach}
    assert set(synced.groups) - {r[1] for r in reach}

    privileged = _privileged(target, synced, synced.full)
    covers: dict[str, list[str]] = {}
    for group, covered in synced.coverage:
        covers.setdefault(group, []).append(covered)
    user_reach = _select(
        target,
        "boomi_user_account_reach",
        "sync_id, user_id, account_group_id, account_group_name, role_id, role_name, is_privileged, "
        "covered_account_id, is_own_account, covered_account_name, is_sub_account",
    )
    assert user_reach == {
        (
            synced.full,
            user,
            group,
            synced.groups[group],
            role,
            synced.role_names[role],
            privileged[role],
            covered,
            covered == account,
            subs[covered]["name"] if covered in subs else None,
            covered in subs,
        )
        for user, group, role in synced.group_roles
        for covered in covers.get(group, [])
    }
    assert any(r[6] for r in user_reach if not r[8])  # privileged roles reach sub-accounts

    access = _select(
        target,
        "boomi_environment_access",
        "sync_id, environment_id, environment_name, environment_classification, role_id, role_name, "
        "is_privileged",
    )
    environments = synced.environments
    assert access == {
        (
            synced.full,
            environment,
            environments[environment]["name"],
            environments[environment]["classification"],
            role,
            synced.role_names[role],
            privileged[role],
        )
        for environment, role in synced.environment_roles
    }
    assert {r[2] for r in access} == {"Production", "Test", "Development"}


def test_a_newer_snapshot_without_sub_accounts_leaves_them_unknown(
    synced: Synced, make_target: Callable[[], WarehouseTarget]
) -> None:
    target = make_target()
    _load(target, synced, synced.full, synced.default, synced.no_subs)
    for view in ("boomi_group_reach", "boomi_user_account_reach"):
        rows = _select(
            target, view, "sync_id, covered_account_name, covered_account_status, is_sub_account", key=False
        )
        assert rows == {(synced.no_subs, None, None, None)}, view
    assert _select(target, "boomi_group_reach", "account_group_id, covered_account_id, is_own_account") == {
        (group, covered, covered == synced.account_id) for group, covered in synced.coverage
    }
    assert _select(target, "boomi_environment_access", "sync_id", key=False) == {(synced.no_subs,)}


def test_without_governance_tables_the_views_are_empty_not_broken(
    synced: Synced, make_target: Callable[[], WarehouseTarget]
) -> None:
    target = make_target()
    # Before any load: the views exist over empty tables.
    assert set(GOVERNANCE_VIEWS) <= set(create_views(target))
    for view in GOVERNANCE_VIEWS:
        assert target.query(f"SELECT COUNT(*) FROM {target.qualified(view)}") == [(0,)]
    _load(target, synced, synced.default)  # a snapshot without any governance table
    for view in GOVERNANCE_VIEWS:
        assert target.query(f"SELECT COUNT(*) FROM {target.qualified(view)}") == [(0,)], view
    # The grant views still see that snapshot: only the governance views are empty.
    ((grants,),) = target.query(f"SELECT COUNT(*) FROM {target.qualified('boomi_current_access')}")
    assert grants > 0


def test_a_warehouse_from_before_the_sub_accounts_table_gains_it_on_load(
    synced: Synced, make_target: Callable[[], WarehouseTarget]
) -> None:
    target = make_target()
    with target.transaction() as session:
        # boomi_snapshots as version 3 created it before sub_accounts joined: one column fewer.
        columns = [c for c in snapshots_columns(session.dialect) if c[0] != "sub_accounts_rows"]
        if target.schema:
            session.execute(f"CREATE SCHEMA IF NOT EXISTS {target.schema}")
        body = ", ".join(
            f"{name} {type_}{'' if nullable else ' NOT NULL'}" for name, type_, nullable in columns
        )
        session.execute(
            f"CREATE TABLE {target.qualified(SNAPSHOTS_TABLE)} ({body}, PRIMARY KEY (account_id, sync_id))"
        )
    _load(target, synced, synced.full)
    assert target.query(f"SELECT sub_accounts_rows FROM {target.qualified(SNAPSHOTS_TABLE)}") == [
        (len(synced.sub_accounts),)
    ]
    subs = synced.sub_accounts
    assert _select(target, "boomi_group_reach", "covered_account_name", key=False) == {
        (subs[covered]["name"] if covered in subs else None,) for _, covered in synced.coverage
    }
