"""The provisioning safeguards hold across processes, with no lock and no pool.

Two provisioning runs at once (the JIT DAG and the apply-decisions DAG, say) each see the user's
state before the other's change lands. The rules that must hold anyway: a user never ends with
no global role because of this provider, the connection's own user is never changed, and the
account keeps an administrator. Each race runs two real processes against the simulator over
loopback, with latency so that both read before either writes, and is repeated.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from airflow_provider_boomi.access.changes import (
    APPLIED,
    ASSIGN_ROLE,
    FAILED,
    REFUSED,
    REVOKE_ROLE,
    AccessChange,
    changes_from_records,
)
from airflow_provider_boomi.access.provisioning import Provisioner, ProvisioningOptions
from airflow_provider_boomi.client import BoomiClient, ClientConfig
from airflow_provider_boomi.testing.simulator import BoomiSimulator, FaultRule
from tests.helpers import make_client, race_in_processes

LATENCIES = (0.0, 0.05, 0.1, 0.2)


def _revoke_in_child(
    connection: dict[str, Any], user_and_role: tuple[str, str], start_at: float, out: Any
) -> None:
    """One provisioning run: wait for the common start, revoke, report the outcome."""
    user_id, role = user_and_role
    config = ClientConfig(requests_per_second=1000.0, max_retries=2, timeout=10.0, **connection)
    with BoomiClient(config) as client:
        provisioner = Provisioner(client, ProvisioningOptions(provisioning_enabled=True))
        provisioner.resolve_role(role)  # the catalog and the matching of user ids, before the race
        provisioner.user_id_matching()
        time.sleep(max(0.0, start_at - time.time()))
        result = provisioner.apply(AccessChange(REVOKE_ROLE, user_id, role))
    out.put((role, result.outcome, result.error))


def _race(sim: BoomiSimulator, user_id: str, roles: tuple[str, str]) -> list[tuple[str, str, str | None]]:
    """Revoke ``roles`` from ``user_id`` in two processes started at the same moment."""
    return race_in_processes(sim, _revoke_in_child, [(user_id, role) for role in roles])


def _roles_of(sim: BoomiSimulator, user_id: str) -> set[str]:
    return {r["roleId"] for r in sim.state.user_roles() if r["userId"] == user_id}


def _role_id(sim: BoomiSimulator, name: str) -> str:
    role = sim.state.role_by_name(name)
    assert role is not None
    return str(role["id"])


@pytest.mark.parametrize("latency", LATENCIES)
def test_two_revokes_of_the_only_two_roles_leave_standard_user(sim: BoomiSimulator, latency: float) -> None:
    """Both runs read "two roles, not the last"; neither may leave the user with none."""
    user = f"racer.{int(latency * 1000)}@{sim.email.split('@')[1]}"
    sim.state.add_user(user, "Race", "Condition")
    sim.state.grant_role(user, _role_id(sim, "Developer"))
    sim.state.grant_role(user, _role_id(sim, "Auditor"))
    sim.set_latency(latency)

    results = _race(sim, user, ("Developer", "Auditor"))

    assert sorted(outcome for _, outcome, _ in results) == [APPLIED, APPLIED], results
    assert _roles_of(sim, user) == {_role_id(sim, "Standard User")}


@pytest.mark.parametrize("latency", LATENCIES)
def test_revoking_standard_user_and_the_other_role_at_once_keeps_the_user(
    sim: BoomiSimulator, latency: float
) -> None:
    """The issue's reproduction: Standard User + one other role, both revoked at once."""
    user = f"floor.{int(latency * 1000)}@{sim.email.split('@')[1]}"
    sim.state.add_user(user, "Floor", "Keeper")
    sim.state.grant_role(user, _role_id(sim, "Standard User"))
    sim.state.grant_role(user, _role_id(sim, "Developer"))
    sim.set_latency(latency)

    results = dict(
        (role, (outcome, error)) for role, outcome, error in _race(sim, user, ("Standard User", "Developer"))
    )

    assert results["Developer"][0] == APPLIED
    assert results["Standard User"][0] == REFUSED and "floor" in (results["Standard User"][1] or "")
    assert _roles_of(sim, user) == {_role_id(sim, "Standard User")}


def test_an_unsettled_write_stops_the_users_later_changes(sim: BoomiSimulator) -> None:
    """A DELETE that times out and lands a second later must not be followed by another change
    decided from the state before it landed."""
    user = f"late.delete@{sim.email.split('@')[1]}"
    sim.state.add_user(user, "Late", "Delete")
    for name in ("Standard User", "Developer", "Auditor"):
        sim.state.grant_role(user, _role_id(sim, name))
    sim.set_faults([FaultRule("slow", object_type="AccountUserRole", operation="delete", count=1, delay=1.5)])
    config = ClientConfig(
        base_url=sim.base_url,
        account_id=sim.account_id,
        email=sim.email,
        api_token=sim.token,
        requests_per_second=1000.0,
        max_retries=0,
        timeout=0.5,
    )
    with BoomiClient(config) as client:
        provisioner = Provisioner(client, ProvisioningOptions(provisioning_enabled=True))
        results = provisioner.apply_all(
            [AccessChange(REVOKE_ROLE, user, "Developer"), AccessChange(REVOKE_ROLE, user, "Auditor")]
        )
    assert [r.outcome for r in results] == [FAILED, FAILED]
    assert (results[0].verification or "").startswith("unsettled")
    assert (results[1].error or "").startswith("skipped")
    time.sleep(1.5)  # the slow DELETE lands
    assert _roles_of(sim, user) == {_role_id(sim, "Standard User"), _role_id(sim, "Auditor")}


def test_the_connections_own_user_is_not_changed(sim: BoomiSimulator) -> None:
    with make_client(sim) as client:
        before = _roles_of(sim, sim.email)
        refused = Provisioner(client, ProvisioningOptions(provisioning_enabled=True)).apply(
            AccessChange(REVOKE_ROLE, sim.email.upper(), "Administrator")
        )
        assert refused.outcome == REFUSED and "own user" in (refused.error or "")
        assert _roles_of(sim, sim.email) == before
        assert [r for r in sim.requests if r.operation in ("create", "delete")] == []


def test_the_last_administrator_keeps_the_role(sim: BoomiSimulator) -> None:
    admin = _role_id(sim, "Administrator")
    delegate = _role_id(sim, "Account Admin Delegate")
    admins = {r["userId"] for r in sim.state.user_roles() if r["roleId"] in (admin, delegate)}
    others = sorted(admins - {sim.email})
    with make_client(sim) as client:
        # With the connection's user opted in, every administrator is revoked in turn: the last
        # one left is refused.
        options = ProvisioningOptions(provisioning_enabled=True, allow_own_user=True, max_changes=100)
        changes = [
            AccessChange(REVOKE_ROLE, user, name)
            for user in [*others, sim.email]
            for name, role_id in (("Administrator", admin), ("Account Admin Delegate", delegate))
            if role_id in _roles_of(sim, user)
        ]
        results = [Provisioner(client, options).apply(change) for change in changes]
    assert [r.outcome for r in results[:-1]] == [APPLIED] * (len(results) - 1)
    assert results[-1].outcome == REFUSED and "last administrator" in (results[-1].error or "")
    remaining = {r["userId"] for r in sim.state.user_roles() if r["roleId"] in (admin, delegate)}
    assert len(remaining) == 1


# --- the same races with batched reads ------------------------------------------------------------
#
# Each run applies a batch of several users' changes, so the state it decides from comes from one
# read of all of them (an ``or`` of userId terms), made before either run writes.


def _batch_in_child(
    connection: dict[str, Any], records: list[dict[str, Any]], start_at: float, out: Any
) -> None:
    """One provisioning run of a whole batch: wait for the common start, apply, report outcomes."""
    config = ClientConfig(requests_per_second=1000.0, max_retries=2, timeout=10.0, **connection)
    changes = changes_from_records(records)
    with BoomiClient(config) as client:
        options = ProvisioningOptions(provisioning_enabled=True, max_changes=len(changes))
        provisioner = Provisioner(client, options)
        provisioner.resolve_role("Standard User")  # the catalog and the matching, before the race
        provisioner.user_id_matching()
        time.sleep(max(0.0, start_at - time.time()))
        results = provisioner.apply_all(changes)
    out.put([(r.user_id, r.role_name, r.outcome, r.error) for r in results])


def _race_batches(sim: BoomiSimulator, *batches: list[dict[str, Any]]) -> list[list[tuple[Any, ...]]]:
    return race_in_processes(sim, _batch_in_child, batches)


def _batched_reads_naming(sim: BoomiSimulator, user: str) -> int:
    """AccountUserRole queries that asked for ``user`` among other users."""
    return sum(
        1
        for r in sim.requests
        if r.object_type == "AccountUserRole"
        and r.operation == "query"
        and '"or"' in json.dumps(r.request_body)
        and user in json.dumps(r.request_body)
    )


@pytest.mark.parametrize("latency", LATENCIES)
def test_two_batches_revoking_a_users_two_roles_leave_standard_user(
    sim: BoomiSimulator, latency: float
) -> None:
    """Both runs read "two roles, not the last" in their batched reads; the user keeps a role."""
    domain = sim.email.split("@")[1]
    user = f"batch.racer.{int(latency * 1000)}@{domain}"
    sim.state.add_user(user, "Batch", "Racer")
    sim.state.grant_role(user, _role_id(sim, "Developer"))
    sim.state.grant_role(user, _role_id(sim, "Auditor"))
    fillers = {side: [f"filler.{side}{i}.{int(latency * 1000)}@{domain}" for i in range(3)] for side in "ab"}

    def batch(side: str, role: str) -> list[dict[str, Any]]:
        assigns = [
            {"action": ASSIGN_ROLE, "user_id": u, "role": "Auditor", "notify_user": False}
            for u in fillers[side]
        ]
        return [*assigns[:2], {"action": REVOKE_ROLE, "user_id": user, "role": role}, *assigns[2:]]

    sim.set_latency(latency)
    sim.clear_requests()
    results = _race_batches(sim, batch("a", "Developer"), batch("b", "Auditor"))

    assert [outcome for run in results for _, _, outcome, _ in run] == [APPLIED] * 8, results
    assert _roles_of(sim, user) == {_role_id(sim, "Standard User")}
    assert _batched_reads_naming(sim, user) >= 2, "the runs did not read the user in a batch"


def test_two_batches_revoking_every_other_administrator_keep_an_administrator(sim: BoomiSimulator) -> None:
    """Two runs, each revoking half of the administrators (and trying the connection's own user)
    from batched reads made before either writes: the account keeps its administrator."""
    admin, delegate = _role_id(sim, "Administrator"), _role_id(sim, "Account Admin Delegate")
    admin_rows = [r for r in sim.state.user_roles() if r["roleId"] in (admin, delegate)]
    names = {admin: "Administrator", delegate: "Account Admin Delegate"}
    revokes = [
        {"action": REVOKE_ROLE, "user_id": r["userId"], "role": names[r["roleId"]]}
        for r in admin_rows
        if r["userId"] != sim.email
    ]
    assert len(revokes) >= 2
    own = {"action": REVOKE_ROLE, "user_id": sim.email.upper(), "role": "Administrator"}
    sim.set_latency(0.1)
    sim.clear_requests()
    results = _race_batches(sim, [*revokes[::2], own], [*revokes[1::2], own])

    by_user = {
        (user.lower(), role): (outcome, error) for run in results for user, role, outcome, error in run
    }
    assert all(by_user[(r["user_id"].lower(), r["role"])][0] == APPLIED for r in revokes), results
    assert by_user[(sim.email.lower(), "Administrator")][0] == REFUSED
    remaining = {r["userId"] for r in sim.state.user_roles() if r["roleId"] in (admin, delegate)}
    assert remaining == {sim.email}
