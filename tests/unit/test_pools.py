"""The per-account pool rule (``operators/pools.py``): one name per connection, a switch, and
the DAGs using it on every task that calls Boomi."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_boomi.operators.pools import (
    ACCOUNTS_ENV_VAR,
    DEFAULT_POOL,
    POOLS_ENV_VAR,
    account_conn_ids,
    account_task_ids,
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


def test_the_command_line_prints_the_pools_of_the_accounts_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(ACCOUNTS_ENV_VAR, "boomi_acme, boomi_emea")
    assert main(["--from-env"]) == 0
    assert list(json.loads(capsys.readouterr().out)) == ["boomi:boomi_acme", "boomi:boomi_emea"]
    assert main(["--from-env", "boomi_x"]) == 2
    assert "give no ids" in capsys.readouterr().err
    monkeypatch.setenv(ACCOUNTS_ENV_VAR, "boomi_acme,")
    assert main(["--from-env"]) == 2
    assert "stray comma" in capsys.readouterr().err


# --- the accounts of a DAG: one task and one pool each ------------------------------------------


def test_the_accounts_are_the_variable_or_the_default() -> None:
    assert account_conn_ids({}) == ["boomi_default"]
    assert account_conn_ids({}, default=["boomi_acme"]) == ["boomi_acme"]
    listed = {ACCOUNTS_ENV_VAR: " boomi_acme_prod,boomi_acme_emea , boomi:eu/1 "}
    assert account_conn_ids(listed) == ["boomi_acme_prod", "boomi_acme_emea", "boomi:eu/1"]
    # A copy of a DAG reading its own part of the accounts; its errors name its variable.
    emea = {ACCOUNTS_ENV_VAR: "boomi_acme_prod", "BOOMI_ACCOUNTS_EMEA": "boomi_acme_emea"}
    assert account_conn_ids(emea, variable="BOOMI_ACCOUNTS_EMEA") == ["boomi_acme_emea"]
    with pytest.raises(ValueError, match="BOOMI_ACCOUNTS_EMEA is set but empty"):
        account_conn_ids({"BOOMI_ACCOUNTS_EMEA": ""}, variable="BOOMI_ACCOUNTS_EMEA")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "set but empty"),
        ("   ", "set but empty"),
        ("boomi_a,,boomi_b", r"empty entry \(entry 2\): remove the stray comma"),
        ("boomi_a,", r"empty entry \(entry 2\)"),
        ("boomi_a,boomi_b, boomi_a", "the connection 'boomi_a' is listed twice"),
        ("boomi_a,{{ var.value.acct }}", "before any template is rendered"),
        ("x" * 300, "at most 256"),
    ],
)
def test_a_bad_accounts_variable_is_loud(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        account_conn_ids({ACCOUNTS_ENV_VAR: value})
    assert ACCOUNTS_ENV_VAR in str(refused.value), "the message names the variable to fix"


def test_one_task_id_per_account() -> None:
    assert account_task_ids(["boomi_acme", "boomi.emea-2", "boomi:eu/1", "Boomi#7"], prefix="sync_") == {
        "boomi_acme": "sync_boomi_acme",
        "boomi.emea-2": "sync_boomi.emea-2",
        "boomi:eu/1": "sync_boomi_eu_1",
        "Boomi#7": "sync_Boomi_7",
    }
    # Letters of other scripts are word characters to Airflow, but not in these ids.
    assert account_task_ids(["böomi"], prefix="sync_") == {"böomi": "sync_b_omi"}


@pytest.mark.parametrize(
    ("conn_ids", "prefix", "message"),
    [
        (
            ["boomi:acme", "boomi/acme"],
            "sync_",
            "'boomi:acme' and 'boomi/acme' both give the task id 'sync_boomi_acme'",
        ),
        (["boomi_acme", "boomi:acme"], "sync_", "rename one of the connections"),
        (["boomi_acme", "boomi_acme"], "sync_", "listed twice"),
        (["x" * 248], "sync_", "Airflow accepts at most 250"),
        (["{{ params.c }}"], "sync_", "before any template is rendered"),
        (["boomi_acme"], "", "task id prefix"),
        (["boomi_acme"], "sync ", "task id prefix"),
    ],
)
def test_task_ids_airflow_would_refuse_are_refused_here(
    conn_ids: list[str], prefix: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        account_task_ids(conn_ids, prefix=prefix)


def test_the_task_ids_made_here_are_ones_airflow_accepts() -> None:
    from airflow.sdk import DAG
    from airflow.sdk.bases.operator import BaseOperator

    odd = ["boomi:eu/1", "a(b)!c", "boomi.x-y", "z" * 245]
    with DAG("ids"):
        for task_id in account_task_ids(odd, prefix="sync_").values():
            BaseOperator(task_id=task_id)


# --- the example DAGs ----------------------------------------------------------------------------

# The operators that call Boomi: each task built from one must run in its account's pool.
BOOMI_CALLERS = {
    "BoomiSyncOperator",
    "BoomiApplyAccessChangesOperator",
    "BoomiAssignRoleOperator",
    "BoomiRevokeRoleOperator",
    "BoomiAddGroupRoleOperator",
    "BoomiRemoveGroupRoleOperator",
}
# How a DAG with one account names it: the parameter, rendered at run time; its pool is the
# parameter's default's, since pools are fixed at parse time.
CONN_PARAM = "{{ params.boomi_conn_id }}"


def _tasks_calling_boomi(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, tuple[str, str]]:
    """Every task of every example DAG built from a Boomi-calling operator, parsed with
    ``environ``: ``{dag.task: (the connection it calls, its pool)}``. Fails on a mapped one."""
    from airflow.dag_processing.dagbag import DagBag

    for name in (POOLS_ENV_VAR, ACCOUNTS_ENV_VAR):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert not bag.import_errors, bag.import_errors
    found = {}
    for dag in bag.dags.values():
        for task in dag.tasks:
            if task.task_type not in BOOMI_CALLERS:
                continue
            label = f"{dag.dag_id}.{task.task_id}"
            # Airflow 3.3 gives every instance of a mapped task one pool (operators/pools.py):
            # a mapped task cannot be in the pool of each account it calls.
            assert not getattr(task, "is_mapped", False) and type(task).__name__ != "MappedOperator", (
                f"{label} is a mapped task: it cannot run in its accounts' pools; make one task per account"
            )
            conn_id = task.boomi_conn_id
            if conn_id == CONN_PARAM:
                assert "boomi_conn_id" in dag.params, (
                    f"{label} renders a boomi_conn_id parameter {dag.dag_id} lacks"
                )
                conn_id = dag.params.get_param("boomi_conn_id").value
            assert "{" not in conn_id, (
                f"{label}: a connection id rendered from {conn_id!r} has no parse-time pool"
            )
            found[label] = (conn_id, task.pool)
    return found


def test_every_example_dag_task_calling_boomi_runs_in_its_account_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = _tasks_calling_boomi({}, monkeypatch)
    wrong = {label: pool for label, (conn_id, pool) in found.items() if pool != boomi_pool(conn_id)}
    assert wrong == {}, f"tasks calling Boomi outside their account's pool: {wrong}"
    # The check saw every such task (a renamed or new one shows up here, to be looked at).
    assert sorted(found) == [
        "boomi_access_sync.sync",
        "boomi_apply_review_decisions.apply",
        "boomi_apply_review_decisions.plan",
        "boomi_apply_review_decisions.resync",
        "boomi_jit_access.grant",
        "boomi_jit_access.revoke",
        "boomi_jit_catch_up.revoke",
        "boomi_multi_account_sync.sync_boomi_default",
    ]
    assert {pool for _, pool in found.values()} == {"boomi:boomi_default"}


def test_the_multi_account_sync_has_a_task_in_each_accounts_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    found = _tasks_calling_boomi(
        {ACCOUNTS_ENV_VAR: "boomi_default,boomi_acme_emea,boomi:apac/1"}, monkeypatch
    )
    multi = {label: value for label, value in found.items() if label.startswith("boomi_multi_account_sync.")}
    assert multi == {
        "boomi_multi_account_sync.sync_boomi_default": ("boomi_default", "boomi:boomi_default"),
        "boomi_multi_account_sync.sync_boomi_acme_emea": ("boomi_acme_emea", "boomi:boomi_acme_emea"),
        "boomi_multi_account_sync.sync_boomi_apac_1": ("boomi:apac/1", "boomi:boomi:apac/1"),
    }
    # The account of the other example DAGs' default shares its pool with them.
    assert found["boomi_access_sync.sync"][1] == multi["boomi_multi_account_sync.sync_boomi_default"][1]


def test_with_pools_off_every_task_is_in_the_default_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    found = _tasks_calling_boomi(
        {POOLS_ENV_VAR: "false", ACCOUNTS_ENV_VAR: "boomi_default,boomi_b"}, monkeypatch
    )
    assert {pool for _, pool in found.values()} == {DEFAULT_POOL}
    assert len([label for label in found if label.startswith("boomi_multi_account_sync.")]) == 2


def test_a_bad_accounts_list_is_an_import_error_that_says_what_to_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv(ACCOUNTS_ENV_VAR, "boomi:acme,boomi/acme")
    bag = DagBag(dag_folder=str(REPO / "dags" / "boomi_multi_account_sync.py"))
    (error,) = bag.import_errors.values()
    assert "'boomi:acme' and 'boomi/acme' both give the task id" in error
