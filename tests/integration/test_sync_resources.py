"""The optional governance resources of a sync against the simulator over HTTP.

Federation ids, SSO settings, the audit log (logins and access changes), account-group coverage,
environments and a partner's sub-accounts: the simulator's answers against Boomi's OpenAPI
schemas, the sync's tables against the simulator's raw objects, each open question's answers (403,
an empty log, other login markers, a filter the server ignores, the sub-account query's answers
on a non-partner account), and the findings computed from the snapshot alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from airflow_provider_boomi.access.sync import ALL_RESOURCES, SyncOptions, sync_account
from airflow_provider_boomi.access.sync_rows import SyncConsistencyError
from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.findings import SnapshotTables, compute_findings, load_people
from airflow_provider_boomi.testing.simulator import BoomiSimulator
from tests.helpers import make_client, validate_against

GOVERNANCE = (
    "federation",
    "sso_config",
    "audit_log",
    "account_group_accounts",
    "environments",
    "sub_accounts",
)
QUERIED = (
    "AccountUserFederation",
    "AccountGroupAccount",
    "AuditLog",
    "Environment",
    "EnvironmentRole",
    "Account",
)
WINDOW_DAYS = 120
DORMANT_DAYS = 90


def sync(sim: BoomiSimulator, root: Path, **options: Any) -> tuple[SnapshotStore, Any]:
    options.setdefault("resources", ALL_RESOURCES)
    options.setdefault("audit_window_days", WINDOW_DAYS)
    with make_client(sim) as client:
        result = sync_account(client, root, options=SyncOptions(**options))
    store = SnapshotStore(root)
    return store, store.load_manifest(result.account_id, result.sync_id)


def rows(store: SnapshotStore, manifest: Any, table: str) -> list[dict[str, Any]]:
    return store.read_table(manifest.account_id, manifest.sync_id, table).to_pylist()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BoomiSimulator, SnapshotStore, Any]]:
    """The demo account synced once with every resource (a 120-day audit window)."""
    with BoomiSimulator(profile="demo", seed=3, rate_limit=None) as sim:
        store, manifest = sync(sim, tmp_path_factory.mktemp("governance"))
        yield sim, store, manifest


# ------------------------------------------------------------------ shapes against Boomi's schema


def test_answers_and_requests_match_boomis_schemas(
    demo: tuple[BoomiSimulator, SnapshotStore, Any], openapi_spec: dict[str, Any]
) -> None:
    sim, _, _ = demo
    # What the sync sent: every governance query body is a valid QueryConfig of its object.
    sent = [r for r in sim.requests if r.object_type in QUERIED and r.operation == "query"]
    assert {r.object_type for r in sent} == set(QUERIED)
    for record in sent:
        validate_against(openapi_spec, f"{record.object_type}QueryConfig", record.request_body)
    session = requests.Session()
    session.auth = (f"BOOMI_TOKEN.{sim.email}", sim.token)
    session.headers.update({"Accept": "application/json", "Content-Type": "application/json"})
    base = f"{sim.base_url}/{sim.account_id}"
    for obj in QUERIED:
        page = session.post(f"{base}/{obj}/query").json()
        validate_against(openapi_spec, f"{obj}QueryResponse", page)
        assert page["result"], f"{obj}: the demo account has some"
        for row in page["result"]:
            validate_against(openapi_spec, obj, row)
    sso = session.get(f"{base}/AccountSSOConfig/{sim.account_id}").json()
    validate_against(openapi_spec, "AccountSSOConfig", sso)
    with pytest.raises(jsonschema.ValidationError):  # the check has teeth
        validate_against(openapi_spec, "AuditLog", {"date": 5})


# ------------------------------------------------------------------ the tables, exactly


def test_every_governance_table_is_exact(demo: tuple[BoomiSimulator, SnapshotStore, Any]) -> None:
    sim, store, manifest = demo
    gov = sim.governance
    assert manifest.schema_version == 3
    assert {r: s["status"] for r, s in manifest.extra["governance"].items()} == dict.fromkeys(
        GOVERNANCE, "synced"
    )
    assert not manifest.warnings

    federation = {(r["userId"], r["federationId"], r["id"]) for r in gov.rows("AccountUserFederation")}
    assert {
        (r["user_id"], r["federation_id"], r["boomi_id"]) for r in rows(store, manifest, "user_federation")
    } == federation
    unfederated = {u["userId"] for u in sim.state.users()} - {f[0] for f in federation}
    assert unfederated  # the demo has users without a federation id

    (sso,) = rows(store, manifest, "sso_config")
    assert sso["enabled"] is True and sso["name_id_policy"] == "TRANSIENT" and sso["idp_url"]

    # Logins: every user the sync knows, the latest login of the configured marker in the window.
    end = manifest.synced_at.replace(microsecond=0)
    start = end - timedelta(days=WINDOW_DAYS)
    in_window = {u: at for u, at in gov.last_logins().items() if start <= at <= end}
    logins = {r["user_id"]: r for r in rows(store, manifest, "audit_logins")}
    users = {r["user_id"] for r in rows(store, manifest, "users")}
    assert set(logins) == users | set(in_window)
    for user_id, row in logins.items():
        assert row["window_start"] == start
        assert row["last_login_at"] == in_window.get(user_id), user_id
    never = {u["userId"] for u in sim.state.users() if not u["hasLoggedIn"]}
    assert never and all(logins[u]["last_login_at"] is None for u in never if u in logins)
    old = [u for u, at in gov.last_logins().items() if at < start]
    assert old and all(logins[u]["last_login_at"] is None for u in old if u in logins)
    audit = manifest.extra["governance"]["audit_log"]
    assert audit["window_start"] == start.isoformat() and audit["window_days"] == WINDOW_DAYS
    assert audit["login_markers"] == {"type": "account", "action": "ON_ENTRY", "modifier": "SUCCESS"}

    changes = [
        r
        for r in gov.rows("AuditLog")
        if r["type"] in ("user", "role", "accountgroup") and start.strftime("%Y-%m-%dT%H:%M:%SZ") <= r["date"]
    ]
    stored = rows(store, manifest, "audit_access_changes")
    assert sorted(r["document_id"] for r in stored) == sorted(r["documentId"] for r in changes)
    first = next(r for r in stored if r["action"] == "DELETE")
    raw = next(r for r in changes if r["documentId"] == first["document_id"])
    assert first["actor_user_id"] == raw["userId"] and first["message"] == raw["message"]
    assert json.loads(first["properties"]) == raw["AuditLogProperty"]

    coverage = {(r["accountGroupId"], r["accountId"]) for r in gov.rows("AccountGroupAccount")}
    assert {
        (r["account_group_id"], r["covered_account_id"])
        for r in rows(store, manifest, "account_group_accounts")
    } == coverage
    assert any(a.endswith("-sub2") for _, a in coverage)

    environments = {r["id"]: r for r in gov.rows("Environment")}
    assert {r["environment_id"]: r["name"] for r in rows(store, manifest, "environments")} == {
        i: e["name"] for i, e in environments.items()
    }
    production = next(i for i, e in environments.items() if e["name"] == "Production")
    reach = {(r["environment_id"], r["role_id"]) for r in rows(store, manifest, "environment_roles")}
    assert reach == {(r["environmentId"], r["roleId"]) for r in gov.rows("EnvironmentRole")}
    assert {r for e, r in reach if e == production} >= {
        "fcb6dd44-0ca8-11e2-a477-1231381987a5"
    }  # Administrator

    accounts = gov.rows("Account")
    assert len(accounts) == 3 and sim.state.primary  # the demo account is a partner
    assert rows(store, manifest, "sub_accounts") == [
        {
            "account_id": manifest.account_id,
            "sync_id": manifest.sync_id,
            "synced_at": manifest.synced_at,
            "sub_account_id": a["accountId"],
            "name": a["name"],
            "status": a["status"],
            "date_created": _time(a["dateCreated"]),
            "expiration_date": _time(a.get("expirationDate")),
        }
        for a in sorted(accounts, key=lambda a: a["accountId"])
    ]
    assert {a["status"] for a in accounts} == {"active", "trial", "deleted"}  # deleted ones kept too
    assert manifest.extra["governance"]["sub_accounts"] == {
        "status": "synced",
        "tables": ["sub_accounts"],
        "sub_accounts": 3,
        "own_account_listed": False,
        "answer": "3 sub-account(s)",
    }
    # Some sub-accounts are covered by account groups, one by none.
    covered = {a for _, a in coverage}
    assert {a["accountId"] for a in accounts} - covered == {f"{sim.account_id}-sub3"}


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_the_audit_log_is_paged_with_querymore(demo: tuple[BoomiSimulator, SnapshotStore, Any]) -> None:
    sim, _, manifest = demo
    more = [r for r in sim.requests if r.object_type == "AuditLog" and r.operation == "queryMore"]
    assert more  # more than 100 login records: the chain went on
    assert manifest.extra["governance"]["audit_log"]["login_events"] > 100


def test_default_sync_reads_no_governance_object(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator("demo")
    _, manifest = sync(sim, tmp_path, resources=SyncOptions().resources)
    assert {r.object_type for r in sim.requests} <= {
        "Role",
        "AccountUserRole",
        "AccountGroup",
        "AccountGroupUserRole",
    }
    assert manifest.extra["governance"] == {}
    assert not set(manifest.tables) & {"user_federation", "audit_logins", "sso_config", "environments"}


# ------------------------------------------------------------------ open questions: correct or loud


def test_refused_resources_are_unavailable_never_empty(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator(
        "demo",
        federation_mode="forbidden",
        sso_config_mode="forbidden",
        audit_log_mode="forbidden",
        environments_mode="forbidden",
    )
    _, manifest = sync(sim, tmp_path)
    governance = manifest.extra["governance"]
    for resource in ("federation", "sso_config", "audit_log", "environments"):
        assert governance[resource]["status"] == "unavailable"
        assert "HTTP 403" in governance[resource]["reason"]
        for table in governance[resource]["tables"]:
            assert table not in manifest.tables
            assert table in manifest.tables_not_included
    assert governance["account_group_accounts"]["status"] == "synced"
    assert "users" in manifest.tables and manifest.row_counts["user_role_grants"] > 0
    assert sum("is unavailable" in w for w in manifest.warnings) == 4
    # No AuditLog page after the first refusal: the chains of a refused resource stop.
    assert [r.status for r in sim.requests if r.object_type == "AuditLog"] == [403, 403]


def test_an_empty_audit_log_says_so(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator("demo", audit_log_mode="empty")
    store, manifest = sync(sim, tmp_path, resources=("users", "user_role_grants", "audit_log"))
    logins = rows(store, manifest, "audit_logins")
    assert logins and all(r["last_login_at"] is None for r in logins)
    assert manifest.extra["governance"]["audit_log"]["login_events"] == 0
    assert any("holds no login record" in w for w in manifest.warnings)


def test_login_markers_are_configurable_and_recorded(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator("demo", login_marker="user/LOGIN/OK")
    _, default = sync(sim, tmp_path / "default", resources=("audit_log",))
    assert default.extra["governance"]["audit_log"]["login_events"] == 0  # the default markers miss
    markers = {"type": "user", "action": "LOGIN", "modifier": "OK"}
    store, manifest = sync(sim, tmp_path / "told", resources=("audit_log",), login_markers=markers)
    assert manifest.extra["governance"]["audit_log"]["login_markers"] == markers
    assert manifest.extra["parameters"]["login_markers"] == markers
    found = {r["user_id"]: r["last_login_at"] for r in rows(store, manifest, "audit_logins")}
    start = manifest.synced_at.replace(microsecond=0) - timedelta(days=WINDOW_DAYS)
    assert found == {u: at for u, at in sim.governance.last_logins().items() if at >= start}


def test_records_outside_the_filter_fail_the_sync(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator("demo", audit_log_mode="unfiltered")
    with pytest.raises(SyncConsistencyError, match="outside the filter"):
        sync(sim, tmp_path, resources=("audit_log",))
    assert SnapshotStore(tmp_path).snapshots(sim.account_id) == []


# ------------------------------------------------------------------ sub-accounts (g.15)


def test_the_sub_account_query_asks_for_every_account_in_the_schemas_spelling(
    demo: tuple[BoomiSimulator, SnapshotStore, Any], openapi_spec: dict[str, Any]
) -> None:
    sim, _, _ = demo
    # The sync's one request (other tests of the module query the simulator directly afterwards).
    sent = next(r for r in sim.requests if r.object_type == "Account")
    assert sent.operation == "query" and sent.status == 200
    assert sent.request_body == {
        "QueryFilter": {"expression": {"operator": "IS_NOT_NULL", "property": "ACCOUNTID", "argument": []}}
    }
    validate_against(openapi_spec, "AccountQueryConfig", sent.request_body)
    with pytest.raises(jsonschema.ValidationError):  # the camel case of the examples is not the schema's
        validate_against(
            openapi_spec,
            "AccountQueryConfig",
            {
                "QueryFilter": {
                    "expression": {"operator": "IS_NOT_NULL", "property": "accountId", "argument": []}
                }
            },
        )


def test_sub_accounts_are_paged_with_querymore(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator("demo", sub_accounts=230)
    store, manifest = sync(sim, tmp_path, resources=("sub_accounts",))
    calls = [r.operation for r in sim.requests if r.object_type == "Account"]
    assert calls == ["query", "queryMore", "queryMore"]
    found = [r["sub_account_id"] for r in rows(store, manifest, "sub_accounts")]
    assert sorted(found) == sorted(a["accountId"] for a in sim.governance.rows("Account"))
    assert len(found) == len(set(found)) == 230
    assert manifest.resources == ("sub_accounts",)


@pytest.mark.parametrize(
    ("profile", "mode", "expected", "own_listed", "answer"),
    [
        ("demo", "with_self", 3, True, "3 sub-account(s)"),
        ("non_primary", "listed", 0, False, "no sub-accounts: Account/query listed no account"),
        ("non_primary", "empty", 0, False, "no sub-accounts: Account/query listed no account"),
        (
            "non_primary",
            "self_only",
            0,
            True,
            "no sub-accounts: Account/query listed only the account itself",
        ),
        ("demo", "self_only", 0, True, "no sub-accounts: Account/query listed only the account itself"),
    ],
)
def test_each_answer_of_the_sub_account_query_is_recorded(
    make_simulator: Any, tmp_path: Path, profile: str, mode: str, expected: int, own_listed: bool, answer: str
) -> None:
    sim = make_simulator(profile, sub_accounts_mode=mode)
    store, manifest = sync(sim, tmp_path, resources=("users", "user_role_grants", "sub_accounts"))
    (listed,) = [r for r in sim.requests if r.object_type == "Account"]
    assert listed.status == 200 and len(sim.governance.listed_accounts()) == expected + own_listed
    found = rows(store, manifest, "sub_accounts")
    # The account itself is never its own sub-account, listed or not.
    assert sim.account_id not in {r["sub_account_id"] for r in found}
    assert len(found) == expected
    assert manifest.extra["governance"]["sub_accounts"] == {
        "status": "synced",
        "tables": ["sub_accounts"],
        "sub_accounts": expected,
        "own_account_listed": own_listed,
        "answer": answer,
    }
    assert "sub_accounts" in manifest.tables and not manifest.warnings


def test_a_refused_sub_account_query_is_unavailable_never_empty(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator("non_primary", sub_accounts_mode="forbidden")
    _, manifest = sync(sim, tmp_path, resources=("users", "user_role_grants", "sub_accounts"))
    status = manifest.extra["governance"]["sub_accounts"]
    assert status["status"] == "unavailable" and "Account chain answered HTTP 403" in status["reason"]
    assert "sub_accounts" not in manifest.tables and "sub_accounts" in manifest.tables_not_included
    assert manifest.row_counts["user_role_grants"] > 0
    assert [w for w in manifest.warnings if w.startswith("sub_accounts is unavailable")]


def test_a_refused_filter_spelling_fails_the_sync_naming_the_question(
    make_simulator: Any, tmp_path: Path
) -> None:
    sim = make_simulator("demo", account_property_case="camel")
    with pytest.raises(SyncConsistencyError, match=r"g\.15.*sub_accounts resource"):
        sync(sim, tmp_path, resources=("users", "user_role_grants", "sub_accounts"))
    assert SnapshotStore(tmp_path).snapshots(sim.account_id) == []
    (refused,) = [r for r in sim.requests if r.object_type == "Account"]
    assert refused.status == 400


def test_bad_options_are_refused_before_any_call() -> None:
    with pytest.raises(ValueError, match="login_markers"):
        SyncOptions(resources=("audit_log",), login_markers={"kind": "account"})
    with pytest.raises(ValueError, match="audit_window_days"):
        SyncOptions(resources=("audit_log",), audit_window_days=0)
    with pytest.raises(ValueError, match="resources"):
        SyncOptions(resources=("audit_logs",))


# ------------------------------------------------------------------ findings from the snapshot


def _people(sim: BoomiSimulator, path: Path) -> Any:
    lines = ["email,status"] + [f"{u['userId']},active" for u in sim.state.users()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_people(path)


def _holders(sim: BoomiSimulator) -> set[str]:
    return {r["userId"] for r in sim.state.user_roles()} | {r["userId"] for r in sim.state.group_roles()}


def test_findings_come_from_the_snapshot(
    demo: tuple[BoomiSimulator, SnapshotStore, Any], tmp_path: Path
) -> None:
    sim, store, manifest = demo
    tables = SnapshotTables.read(store, manifest.account_id, manifest.sync_id)
    as_of = manifest.synced_at
    result = compute_findings(
        tables, _people(sim, tmp_path / "people.csv"), as_of=as_of, dormant_days=DORMANT_DAYS
    )
    findings = result.findings.to_pylist()
    assert result.summary["inputs"]["logins"]["from"] == "snapshot"
    assert result.summary["inputs"]["sso_enabled"] is True

    start = as_of.replace(microsecond=0) - timedelta(days=WINDOW_DAYS)
    last = {u: at for u, at in sim.governance.last_logins().items() if at >= start}
    holders = _holders(sim)
    expected_dormant = {
        u for u in holders if u not in last or as_of - last[u] >= timedelta(days=DORMANT_DAYS)
    }
    dormant = {f["user_id"]: f for f in findings if f["kind"] == "dormant"}
    assert set(dormant) == expected_dormant
    assert not [f for f in findings if f["kind"] == "dormant_unknown"]
    never = next(u for u in expected_dormant if u not in last)
    assert dormant[never]["detail"].startswith(
        f"no login since the start of the window read ({start.isoformat()}"
    )
    stale = next(u for u in expected_dormant if u in last)
    assert dormant[stale]["last_login_at"] == last[stale]

    federated = {r["userId"] for r in sim.governance.rows("AccountUserFederation")}
    assert {f["user_id"] for f in findings if f["kind"] == "no_sso"} == holders - federated
    assert not [f for f in findings if f["kind"] == "sso_unknown"]


def test_findings_say_unknown_when_the_resources_were_refused(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator("demo", federation_mode="forbidden", audit_log_mode="forbidden")
    store, manifest = sync(sim, tmp_path / "store")
    tables = SnapshotTables.read(store, manifest.account_id, manifest.sync_id)
    assert tables.logins is None and tables.federation is None and tables.sso_enabled is True
    result = compute_findings(tables, _people(sim, tmp_path / "people.csv"), as_of=manifest.synced_at)
    kinds: dict[str, set[str]] = {}
    for f in result.findings.to_pylist():
        kinds.setdefault(f["kind"], set()).add(f["user_id"])
        if f["kind"] in ("dormant_unknown", "sso_unknown"):
            assert "unavailable" in f["detail"] and "HTTP 403" in f["detail"]
    assert kinds["dormant_unknown"] == kinds["sso_unknown"] == _holders(sim)
    assert "dormant" not in kinds and "no_sso" not in kinds


def test_an_empty_login_window_makes_nobody_dormant(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator("demo", audit_log_mode="empty")
    store, manifest = sync(sim, tmp_path / "store")
    tables = SnapshotTables.read(store, manifest.account_id, manifest.sync_id)
    result = compute_findings(tables, _people(sim, tmp_path / "people.csv"), as_of=manifest.synced_at)
    kinds = {f["kind"] for f in result.findings.to_pylist()}
    assert "dormant" not in kinds and "dormant_unknown" in kinds


def test_given_inputs_win_over_the_snapshot(
    demo: tuple[BoomiSimulator, SnapshotStore, Any], tmp_path: Path
) -> None:
    sim, store, manifest = demo
    tables = SnapshotTables.read(store, manifest.account_id, manifest.sync_id)
    result = compute_findings(
        tables, _people(sim, tmp_path / "people.csv"), as_of=manifest.synced_at, sso_enabled=False
    )
    assert result.summary["inputs"]["sso_enabled_from"] == "given"
    assert not [f for f in result.findings.to_pylist() if f["kind"] in ("no_sso", "sso_unknown")]
    assert datetime.now(UTC) > manifest.synced_at


# ------------------------------------------------------------------ the operators, in a DAG run

OPERATOR_DAG = """
import pendulum
from airflow.sdk import dag
from airflow_provider_boomi.operators.findings import BoomiFindingsOperator
from airflow_provider_boomi.operators.sync import BoomiSyncOperator

@dag(dag_id="test_boomi_governance_resources", schedule=None, start_date=pendulum.datetime(2026, 1, 1),
     catchup=False, params={"out": "", "findings": "", "people": ""})
def test_boomi_governance_resources():
    sync = BoomiSyncOperator(
        task_id="sync", output_path="{{ params.out }}",
        resources="users,roles,account_groups,user_role_grants,group_role_grants,federation,sso_config,audit_log",
        audit_window_days=120, login_markers="type=account,action=ON_ENTRY,modifier=SUCCESS",
    )
    BoomiFindingsOperator(
        task_id="findings", output_path="{{ params.out }}", findings_path="{{ params.findings }}",
        snapshot=sync.output, people_path="{{ params.people }}",
    )

dag_object = test_boomi_governance_resources()
"""


def test_operators_sync_the_resources_and_find_from_them(
    connected_sim: BoomiSimulator, dag_folder: Path, tmp_path: Path
) -> None:
    from airflow_provider_boomi.findings import read_findings
    from tests.conftest import load_dag

    sim = connected_sim
    dag_file = dag_folder / "test_boomi_governance_resources.py"
    dag_file.write_text(OPERATOR_DAG)
    out, findings_root = tmp_path / "snapshots", tmp_path / "findings"
    _people(sim, tmp_path / "people.csv")
    run = load_dag(dag_file, "test_boomi_governance_resources").test(
        run_conf={"out": str(out), "findings": str(findings_root), "people": str(tmp_path / "people.csv")}
    )
    assert run.state == "success"
    store = SnapshotStore(out)
    info = store.latest(sim.account_id)
    assert info is not None
    manifest = store.load_manifest(sim.account_id, info.sync_id)
    assert {"user_federation", "sso_config", "audit_logins", "audit_access_changes"} <= set(manifest.tables)
    result = read_findings(findings_root, sim.account_id, info.sync_id)
    found = result.findings.to_pylist()
    start = manifest.synced_at.replace(microsecond=0) - timedelta(days=WINDOW_DAYS)
    last = {u: at for u, at in sim.governance.last_logins().items() if at >= start}
    holders = _holders(sim)
    assert {f["user_id"] for f in found if f["kind"] == "dormant"} == {
        u for u in holders if u not in last or manifest.synced_at - last[u] >= timedelta(days=DORMANT_DAYS)
    }
    federated = {r["userId"] for r in sim.governance.rows("AccountUserFederation")}
    assert {f["user_id"] for f in found if f["kind"] == "no_sso"} == holders - federated
