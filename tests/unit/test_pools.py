"""The per-account pool rule (``operators/pools.py``): one name per connection, a switch, and
the DAGs using it on every task that calls Boomi."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_boomi.operators.pools import (
    DEFAULT_POOL,
    POOLS_ENV_VAR,
    boomi_pool,
    boomi_pools_enabled,
    main,
    pool_definitions,
)

REPO = Path(__file__).resolve().parents[2]


def test_one_pool_per_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POOLS_ENV_VAR, raising=False)
    assert boomi_pool("boomi_acme") == "boomi:boomi_acme"
    assert boomi_pool("boomi_emea") == "boomi:boomi_emea"
    assert boomi_pool("boomi_acme") != boomi_pool("boomi_Acme")


@pytest.mark.parametrize("word", ["false", "No", " off ", "0"])
def test_the_switch_turns_pools_off(monkeypatch: pytest.MonkeyPatch, word: str) -> None:
    monkeypatch.setenv(POOLS_ENV_VAR, word)
    assert not boomi_pools_enabled()
    assert boomi_pool("boomi_acme") == DEFAULT_POOL
    assert boomi_pool("boomi_acme", enabled=True) == "boomi:boomi_acme"


@pytest.mark.parametrize("word", ["true", "yes", "", "  "])
def test_the_switch_on_or_unset_keeps_pools(monkeypatch: pytest.MonkeyPatch, word: str) -> None:
    monkeypatch.setenv(POOLS_ENV_VAR, word)
    assert boomi_pool("boomi_acme") == "boomi:boomi_acme"
    assert boomi_pool("boomi_acme", enabled=False) == DEFAULT_POOL


def test_a_mistyped_switch_is_loud(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POOLS_ENV_VAR, "disabled")
    with pytest.raises(ValueError, match=f"{POOLS_ENV_VAR} must be true or false"):
        boomi_pool("boomi_acme")


@pytest.mark.parametrize(
    ("conn_id", "message"),
    [
        ("", "needs a Boomi connection id"),
        ("   ", "needs a Boomi connection id"),
        ("{{ params.boomi_conn_id }}", "before any template is rendered"),
        (" boomi_acme", "needs the connection id itself"),
        ("x" * 300, "at most 256"),
    ],
)
def test_ids_that_cannot_name_a_pool_are_refused(conn_id: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        boomi_pool(conn_id)
    # Refused even when pools are off: the DAG is wrong either way.
    with pytest.raises(ValueError, match=message):
        boomi_pool(conn_id, enabled=False)


def test_pool_definitions_are_what_airflow_pools_import_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POOLS_ENV_VAR, "false")  # the file is for creating the pools: always named
    pools = pool_definitions(["boomi_acme", "boomi_emea", "boomi_acme"])
    assert list(pools) == ["boomi:boomi_acme", "boomi:boomi_emea"]
    for spec in pools.values():
        assert spec["slots"] == 1 and spec["include_deferred"] is False
        assert isinstance(spec["description"], str)
    with pytest.raises(ValueError, match="at least one"):
        pool_definitions([])


def test_the_command_line_prints_the_import_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["boomi_acme"]) == 0
    assert json.loads(capsys.readouterr().out) == pool_definitions(["boomi_acme"])
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err
    assert main(["{{ x }}"]) == 2
    assert "template" in capsys.readouterr().err


# The operators that call Boomi: each task built from one must run in its account's pool.
BOOMI_CALLERS = {
    "BoomiSyncOperator",
    "BoomiApplyAccessChangesOperator",
    "BoomiAssignRoleOperator",
    "BoomiRevokeRoleOperator",
    "BoomiAddGroupRoleOperator",
    "BoomiRemoveGroupRoleOperator",
}


def test_every_example_dag_task_calling_boomi_runs_in_its_account_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.delenv(POOLS_ENV_VAR, raising=False)
    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert not bag.import_errors, bag.import_errors
    checked, mapped = [], []
    for dag in bag.dags.values():
        default_conn = dag.params.get_param("boomi_conn_id").value if "boomi_conn_id" in dag.params else None
        for task in dag.tasks:
            if task.task_type not in BOOMI_CALLERS:
                continue
            if getattr(task, "is_mapped", False) or type(task).__name__ == "MappedOperator":
                # Airflow 3.3 gives every instance of a mapped task the same pool (documented in
                # operators/pools.py and docs/scale.md): no per-account pool is possible there.
                mapped.append(f"{dag.dag_id}.{task.task_id}")
                continue
            assert default_conn, f"{dag.dag_id} has no boomi_conn_id parameter to derive a pool from"
            assert task.pool == boomi_pool(default_conn), f"{dag.dag_id}.{task.task_id} runs in {task.pool}"
            checked.append(f"{dag.dag_id}.{task.task_id}")
    assert sorted(checked) == [
        "boomi_access_sync.sync",
        "boomi_apply_review_decisions.apply",
        "boomi_apply_review_decisions.plan",
        "boomi_apply_review_decisions.resync",
        "boomi_jit_access.grant",
        "boomi_jit_access.revoke",
        "boomi_jit_catch_up.revoke",
    ]
    assert mapped == ["boomi_multi_account_sync.sync"]
