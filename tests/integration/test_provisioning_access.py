"""Provisioning over real loopback HTTP against the Boomi simulator: state, request log, ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_boomi.access.changes import (
    ADD_GROUP_ROLE,
    ALREADY_SATISFIED,
    APPLIED,
    ASSIGN_ROLE,
    FAILED,
    PLANNED,
    REFUSED,
    REMOVE_GROUP_ROLE,
    REVOKE_ROLE,
    AccessChange,
)
from airflow_provider_boomi.access.ledger import LedgerWriter, RunContext, read_ledger
from airflow_provider_boomi.access.provisioning import Provisioner, ProvisioningOptions, TooManyChangesError
from airflow_provider_boomi.access.validation import ProvisioningInputError
from airflow_provider_boomi.client import BoomiClient
from airflow_provider_boomi.testing.simulator import BoomiSimulator, FaultRule
from tests.helpers import make_client

NON_CANONICAL_ID = "fedcba98-7654-3210-fedc-ba9876543c210"
WRITES = ("create", "delete")


def _client(sim: BoomiSimulator, **overrides: object) -> BoomiClient:
    # Few retries and a short timeout: a provisioning test that must fail fails quickly.
    return make_client(sim, **{"max_retries": 2, "timeout": 10.0, **overrides})


def _provisioner(sim: BoomiSimulator, ledger: LedgerWriter | None = None, **options: object) -> Provisioner:
    opts: dict[str, object] = {"provisioning_enabled": True}
    opts.update(options)
    return Provisioner(_client(sim), ProvisioningOptions(**opts), ledger=ledger)  # type: ignore[arg-type]


def _email(sim: BoomiSimulator, local: str) -> str:
    return f"{local}@{sim.email.split('@')[1]}"


def _role_id(sim: BoomiSimulator, name: str) -> str:
    role = sim.state.role_by_name(name)
    assert role is not None
    return str(role["id"])


def _roles_of(sim: BoomiSimulator, user_id: str) -> set[str]:
    return {r["roleId"] for r in sim.state.user_roles() if r["userId"].lower() == user_id.lower()}


def _user(sim: BoomiSimulator, user_id: str) -> dict[str, object] | None:
    return next((u for u in sim.state.users() if u["userId"].lower() == user_id.lower()), None)


def _writes(sim: BoomiSimulator) -> list[tuple[str, str | None]]:
    return [(r.operation, r.object_type) for r in sim.requests if r.operation in WRITES]


def _group(sim: BoomiSimulator, name: str) -> str:
    return next(str(g["id"]) for g in sim.state.account_groups() if g["name"] == name)


# --- global roles ----------------------------------------------------------------------------------


def test_assign_invites_new_user_with_names_and_is_idempotent(sim: BoomiSimulator) -> None:
    user = _email(sim, "dana.newcomer")
    change = AccessChange(
        ASSIGN_ROLE, user, "Auditor", first_name="Dana", last_name="Newcomer", notify_user=True
    )
    first = _provisioner(sim).apply(change)
    assert first.outcome == APPLIED
    assert first.state_before == "absent (user not in account)"
    assert any("invited new user" in s for s in first.side_effects)
    assert first.boomi_id and first.verification and "present" in first.verification
    assert _user(sim, user) == {
        "userId": user,
        "firstName": "Dana",
        "lastName": "Newcomer",
        "hasLoggedIn": False,
        "inAccount": True,
    }
    create = next(r for r in sim.requests if r.operation == "create")
    assert create.request_body["notifyUser"] is True
    assert create.request_body["firstName"] == "Dana"

    sim.clear_requests()
    second = _provisioner(sim).apply(change)
    assert second.outcome == ALREADY_SATISFIED
    assert second.state_before == "present"
    assert _writes(sim) == []  # a retried task never re-invites


def test_assign_by_role_id_and_notify_flag_passes_through(sim: BoomiSimulator) -> None:
    user = _email(sim, "only.standard")
    auditor = _role_id(sim, "Auditor")
    change = AccessChange(ASSIGN_ROLE, user, auditor, notify_user=False, role_is_id=True)
    result = _provisioner(sim).apply(change)
    assert result.outcome == APPLIED and result.role_name == "Auditor"
    assert auditor in _roles_of(sim, user)
    create = next(r for r in sim.requests if r.operation == "create")
    assert create.request_body["notifyUser"] is False


def test_user_ids_compare_case_insensitively(sim: BoomiSimulator) -> None:
    # The demo holds "Mixed.Case@Example.COM" with Auditor.
    result = _provisioner(sim).apply(AccessChange(ASSIGN_ROLE, "mixed.case@example.com", "Auditor"))
    assert result.outcome == ALREADY_SATISFIED
    assert _writes(sim) == []


def test_revoke_absent_role_is_already_satisfied(sim: BoomiSimulator) -> None:
    result = _provisioner(sim).apply(AccessChange(REVOKE_ROLE, _email(sim, "only.standard"), "Auditor"))
    assert result.outcome == ALREADY_SATISFIED and result.state_before == "absent"
    assert _writes(sim) == []


def test_revoke_one_of_several_roles_deletes_only_that_row(sim: BoomiSimulator) -> None:
    user = _email(sim, "zoe.angstrom")  # Standard User + Developer
    before = _roles_of(sim, user)
    result = _provisioner(sim).apply(AccessChange(REVOKE_ROLE, user, "Developer"))
    assert result.outcome == APPLIED and result.state_before == "present"
    assert result.side_effects == ()
    assert _roles_of(sim, user) == before - {_role_id(sim, "Developer")}
    assert _writes(sim) == [("delete", "AccountUserRole")]

    again = _provisioner(sim).apply(AccessChange(REVOKE_ROLE, user, "Developer"))
    assert again.outcome == ALREADY_SATISFIED


def test_revoking_last_role_assigns_standard_user_first(sim: BoomiSimulator) -> None:
    user = _email(sim, "jose.nino")  # Developer only
    standard = _role_id(sim, "Standard User")
    provisioner = _provisioner(sim)
    provisioner.resolve_role("Developer")  # load the role catalog so the log shows only the change
    provisioner.user_id_matching()  # and detect how Boomi matches user ids
    sim.clear_requests()

    result = provisioner.apply(AccessChange(REVOKE_ROLE, user, "Developer"))

    assert result.outcome == APPLIED
    assert result.state_before == "present (last role)"
    assert len(result.side_effects) == 1 and "Standard User" in result.side_effects[0]
    assert _roles_of(sim, user) == {standard}
    assert _user(sim, user)["inAccount"] is True  # type: ignore[index]
    calls = [(r.operation, r.object_type) for r in sim.requests]
    assert calls[:3] == [
        ("query", "AccountUserRole"),
        ("create", "AccountUserRole"),
        ("delete", "AccountUserRole"),
    ]
    assert calls[3:] == [("query", "AccountUserRole")]  # verification read-back
    create = sim.requests[1]
    assert create.request_body["roleId"] == standard
    assert create.request_body["notifyUser"] is False
    assert sim.requests[2].path.endswith("/AccountUserRole/" + str(result.boomi_id))


def test_revoking_standard_user_as_last_role_is_refused(sim: BoomiSimulator) -> None:
    user = _email(sim, "only.standard")
    result = _provisioner(sim).apply(AccessChange(REVOKE_ROLE, user, "Standard User"))
    assert result.outcome == REFUSED
    assert result.state_before == "present (last role)"
    assert "never deleted" in (result.error or "")
    assert _writes(sim) == []
    assert _user(sim, user)["inAccount"] is True  # type: ignore[index]


@pytest.mark.parametrize("action", [ASSIGN_ROLE, REVOKE_ROLE])
@pytest.mark.parametrize("by_id", [False, True])
def test_non_canonical_roles_are_refused(sim: BoomiSimulator, action: str, by_id: bool) -> None:
    role = NON_CANONICAL_ID if by_id else "Legacy Partner Role"
    change = AccessChange(action, _email(sim, "legacy.partner"), role, role_is_id=by_id)
    result = _provisioner(sim).apply(change)
    assert result.outcome == REFUSED
    assert "not a canonical UUID" in (result.error or "")
    assert result.role_id == NON_CANONICAL_ID
    assert _writes(sim) == []


def test_unknown_and_ambiguous_role_names_name_the_candidates(sim: BoomiSimulator) -> None:
    user = _email(sim, "only.standard")
    unknown = _provisioner(sim).apply(AccessChange(ASSIGN_ROLE, user, "Auditer"))
    assert unknown.outcome == FAILED
    assert "no role named 'Auditer'" in (unknown.error or "") and "'Auditor'" in (unknown.error or "")

    sim.state.add_role("Auditor", ["VIEW_RESULT"], role_id="0f0f0f0f-1111-2222-3333-444455556666")
    ambiguous = _provisioner(sim).apply(AccessChange(ASSIGN_ROLE, user, "Auditor"))
    assert ambiguous.outcome == FAILED
    assert "ambiguous" in (ambiguous.error or "")
    assert _role_id(sim, "Auditor") in (ambiguous.error or "")
    assert "0f0f0f0f-1111-2222-3333-444455556666" in (ambiguous.error or "")
    assert _writes(sim) == []


# --- guards ----------------------------------------------------------------------------------------


def test_disabled_provisioning_refuses_without_any_call(sim: BoomiSimulator) -> None:
    result = _provisioner(sim, provisioning_enabled=False).apply(
        AccessChange(ASSIGN_ROLE, _email(sim, "only.standard"), "Auditor")
    )
    assert result.outcome == REFUSED
    assert "provisioning_enabled" in (result.error or "")
    assert sim.requests == []


def test_dry_run_plans_without_writing_even_when_disabled(sim: BoomiSimulator) -> None:
    user = _email(sim, "jose.nino")
    provisioner = _provisioner(sim, provisioning_enabled=False, dry_run=True)
    results = provisioner.apply_all(
        [
            AccessChange(REVOKE_ROLE, user, "Developer"),
            AccessChange(ASSIGN_ROLE, _email(sim, "brand.new"), "Auditor"),
            AccessChange(ASSIGN_ROLE, user, "Developer"),
        ]
    )
    assert [r.outcome for r in results] == [PLANNED, PLANNED, ALREADY_SATISFIED]
    assert all(r.dry_run for r in results)
    assert results[0].side_effects[0].startswith("would assign Standard User")
    assert results[1].side_effects[0].startswith("would invite")
    assert _writes(sim) == []
    assert _user(sim, _email(sim, "brand.new")) is None


def test_batch_past_max_changes_is_refused_before_any_call(sim: BoomiSimulator, tmp_path: Path) -> None:
    changes = [AccessChange(ASSIGN_ROLE, _email(sim, f"bulk{i}"), "Auditor") for i in range(26)]
    ledger = LedgerWriter(str(tmp_path / "ledger"))
    with pytest.raises(TooManyChangesError, match="max_changes"):
        _provisioner(sim, ledger).apply_all(changes)
    assert sim.requests == []
    rows = read_ledger(str(tmp_path / "ledger"))
    assert len(rows) == 26 and set(rows["outcome"]) == {REFUSED}

    # Raised explicitly, the same batch passes the guard (a dry run keeps the test fast).
    results = _provisioner(sim, max_changes=26, dry_run=True).apply_all(changes)
    assert {r.outcome for r in results} == {PLANNED}


def test_invalid_input_is_refused_before_any_call(sim: BoomiSimulator) -> None:
    with pytest.raises(ProvisioningInputError) as caught:
        _provisioner(sim).apply_all(
            [
                AccessChange(ASSIGN_ROLE, _email(sim, "fine"), "Auditor"),
                AccessChange(ASSIGN_ROLE, "not-an-email", "Auditor"),
                AccessChange(ADD_GROUP_ROLE, _email(sim, "fine"), "Auditor"),
            ]
        )
    assert "change #2" in str(caught.value) and "change #3" in str(caught.value)
    assert sim.requests == []


# --- group roles -----------------------------------------------------------------------------------


def test_group_role_add_and_remove_by_name_and_id(sim: BoomiSimulator) -> None:
    user = _email(sim, "zoe.angstrom")
    group_id = _group(sim, "Sandbox")
    add = AccessChange(ADD_GROUP_ROLE, user, "Operator", account_group="Sandbox")
    assert _provisioner(sim).apply(add).outcome == APPLIED
    assert any(
        r["userId"] == user and r["accountGroupId"] == group_id and r["roleId"] == _role_id(sim, "Operator")
        for r in sim.state.group_roles()
    )
    assert _provisioner(sim).apply(add).outcome == ALREADY_SATISFIED

    remove = AccessChange(
        REMOVE_GROUP_ROLE, user, "Operator", account_group=group_id, account_group_is_id=True
    )
    removed = _provisioner(sim).apply(remove)
    assert removed.outcome == APPLIED and removed.account_group_name == "Sandbox"
    assert not any(r["userId"] == user and r["accountGroupId"] == group_id for r in sim.state.group_roles())
    assert _provisioner(sim).apply(remove).outcome == ALREADY_SATISFIED
    assert _roles_of(sim, user)  # global roles untouched


def test_group_role_for_user_who_never_logged_in_fails_with_boomis_reason(sim: BoomiSimulator) -> None:
    result = _provisioner(sim).apply(
        AccessChange(ADD_GROUP_ROLE, _email(sim, "new.hire"), "Developer", account_group="EMEA Customers")
    )
    assert result.outcome == FAILED
    assert "must log in" in (result.error or "")


def test_unknown_group_names_the_candidates(sim: BoomiSimulator) -> None:
    result = _provisioner(sim).apply(
        AccessChange(ADD_GROUP_ROLE, _email(sim, "zoe.angstrom"), "Developer", account_group="Sandbx")
    )
    assert result.outcome == FAILED
    assert "'Sandbox'" in (result.error or "")


# --- unknown outcomes ------------------------------------------------------------------------------


def test_dropped_create_is_decided_by_reading_state_not_resent(sim: BoomiSimulator) -> None:
    sim.set_faults([FaultRule("drop", object_type="AccountUserRole", operation="create", count=1)])
    user = _email(sim, "only.standard")
    result = _provisioner(sim).apply(AccessChange(ASSIGN_ROLE, user, "Auditor"))
    assert result.outcome == FAILED
    # Not in place yet, but a dropped write may still land: the user's state is unsettled.
    assert "read back: the role row not in place yet" in (result.error or "")
    assert (result.verification or "").startswith("unsettled")
    assert [op for op, _ in _writes(sim)] == ["create"]  # never re-sent
    assert sim.requests[-1].operation == "query"  # the state was read back


def test_timed_out_create_that_took_effect_is_applied(sim: BoomiSimulator) -> None:
    # The create answers after the client's read timeout but is applied; the read-back query is
    # held back until the create has landed, so the state decides "applied".
    user = _email(sim, "only.standard")
    provisioner = Provisioner(
        _client(sim, timeout=1.0, max_retries=0), ProvisioningOptions(provisioning_enabled=True)
    )
    provisioner.user_id_matching()  # detected before the faults, which count AccountUserRole queries
    sim.set_faults(
        [
            FaultRule("slow", object_type="AccountUserRole", operation="create", count=1, delay=1.5),
            FaultRule("slow", object_type="AccountUserRole", operation="query", after=1, count=1, delay=0.8),
        ]
    )
    result = provisioner.apply(AccessChange(ASSIGN_ROLE, user, "Auditor"))
    assert result.outcome == APPLIED
    assert "outcome unknown" in (result.verification or "")
    assert [op for op, _ in _writes(sim)] == ["create"]
    assert _role_id(sim, "Auditor") in _roles_of(sim, user)


# --- batches and the ledger ------------------------------------------------------------------------


def test_batch_applies_what_it_can_and_records_everything(sim: BoomiSimulator, tmp_path: Path) -> None:
    ledger_path = str(tmp_path / "ledger")
    user = _email(sim, "jose.nino")
    changes = [
        AccessChange(ASSIGN_ROLE, user, "Auditor", reason="ticket-1"),
        AccessChange(ADD_GROUP_ROLE, _email(sim, "new.hire"), "Developer", account_group="Sandbox"),
        # Developer is no longer the last role after the assignment above, but the user lacks
        # Standard User, the floor every revoke leaves in place: it is assigned first.
        AccessChange(REVOKE_ROLE, user, "Developer"),
    ]
    context = RunContext(account_id=sim.account_id, dag_id="d", run_id="r", task_id="t", try_number=1)
    with LedgerWriter(ledger_path, context=context) as ledger:
        results = _provisioner(sim, ledger).apply_all(changes)
    assert [r.outcome for r in results] == [APPLIED, FAILED, APPLIED]
    assert len(results[2].side_effects) == 1 and "Standard User" in results[2].side_effects[0]
    assert _roles_of(sim, user) == {_role_id(sim, "Auditor"), _role_id(sim, "Standard User")}

    # Different users' changes run concurrently: the ledger is in completion order, and one
    # user's changes keep their order.
    rows = read_ledger(ledger_path)
    mine = rows[rows["user_id"] == user]
    assert list(mine["action"]) == [ASSIGN_ROLE, REVOKE_ROLE]
    assert list(mine["outcome"]) == [APPLIED, APPLIED]
    assert mine["reason"].iloc[0] == "ticket-1"
    assert set(rows["account_id"]) == {sim.account_id}
    assert set(rows["dag_id"]) == {"d"} and set(rows["try_number"]) == {1}
    failed = rows[rows["outcome"] == FAILED].iloc[0]
    assert "must log in" in failed["error"]
    assert failed["account_group_name"] == "Sandbox"
    assert sim.token not in rows.to_json()
