"""Batched reads of provisioning (issue 15, item 3): several users' grants in one query, writes
decided from it, read-backs in batches, and the fallbacks that keep every decision exact.

Every test runs the provisioner against the simulator over loopback HTTP and checks Boomi's state
and the requests it saw.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_boomi.access.changes import (
    ALREADY_SATISFIED,
    APPLIED,
    ASSIGN_ROLE,
    REFUSED,
    REVOKE_ROLE,
    AccessChange,
)
from airflow_provider_boomi.access.provisioning import (
    DEFAULT_READ_BATCH_SIZE,
    Provisioner,
    ProvisioningOptions,
)
from airflow_provider_boomi.client import BoomiClient
from airflow_provider_boomi.testing.simulator import BoomiSimulator
from tests.helpers import client_config, make_client

STOPPED = "with userId terms grouped by 'or' is not served as a filter"


def _role(sim: BoomiSimulator, name: str) -> str:
    role = sim.state.role_by_name(name)
    assert role is not None
    return str(role["id"])


def _roles_of(sim: BoomiSimulator, user_id: str) -> set[str]:
    return {r["roleId"] for r in sim.state.user_roles() if r["userId"] == user_id}


def _grant_reads(sim: BoomiSimulator) -> list[dict[str, Any]]:
    """The AccountUserRole queries that read users' grants (every one names a userId)."""
    return [
        r.request_body
        for r in sim.requests
        if r.object_type == "AccountUserRole"
        and r.operation == "query"
        and '"userId"' in json.dumps(r.request_body)
    ]


def _grouped(body: dict[str, Any]) -> int:
    """How many users one read asks for (1 for a plain ``userId EQUALS``)."""
    terms = body["QueryFilter"]["expression"]["nestedExpression"]
    users = next(t for t in terms if t.get("operator") == "or" or t.get("property") == "userId")
    return len(users["nestedExpression"]) if users.get("operator") == "or" else 1


def _users_without(sim: BoomiSimulator, role_id: str, count: int) -> list[str]:
    holders: dict[str, set[str]] = {}
    for row in sim.state.user_roles():
        holders.setdefault(row["userId"], set()).add(row["roleId"])
    users = sorted(u for u, roles in holders.items() if role_id not in roles and u != sim.email)
    assert len(users) >= count
    return users[:count]


def _provisioner(client: BoomiClient, **options: Any) -> Provisioner:
    settings: dict[str, Any] = {"provisioning_enabled": True, "max_changes": 200, **options}
    return Provisioner(client, ProvisioningOptions(**settings))


def test_options_check_the_batch_size() -> None:
    assert ProvisioningOptions().read_batch_size == DEFAULT_READ_BATCH_SIZE
    for bad in (0, -1, 201, True, 2.5, "10"):
        with pytest.raises(ValueError, match="read_batch_size must be an integer from 1 to 200"):
            ProvisioningOptions(read_batch_size=bad)  # type: ignore[arg-type]


def test_many_users_are_read_and_verified_in_few_calls(sim: BoomiSimulator) -> None:
    auditor = _role(sim, "Auditor")
    users = _users_without(sim, auditor, 30)
    # Typed in another case than Boomi stores them: the batched read must still find each one.
    changes = [AccessChange(ASSIGN_ROLE, u.swapcase(), "Auditor", notify_user=False) for u in users]
    sim.clear_requests()
    with make_client(sim) as client:
        provisioner = _provisioner(client, read_batch_size=10, user_id_matching="insensitive")
        results = provisioner.apply_all(changes)
    assert [r.outcome for r in results] == [APPLIED] * 30
    assert all(auditor in _roles_of(sim, u) for u in users)
    assert sorted(
        u["userId"] for u in sim.state.users() if u["userId"].lower() in {x.lower() for x in users}
    ) == sorted(users), "an assignment in another case invited a twin"
    reads = _grant_reads(sim)
    # Three groups of ten users, each read once before its writes and once to verify them.
    assert [_grouped(body) for body in reads] == [10] * 6
    assert all(
        body["QueryFilter"]["expression"]["nestedExpression"][0]["property"] == "accountId" for body in reads
    )
    assert provisioner.calls.as_dict() == {
        "writes": 30,
        "safety_writes": 0,
        "batched_reads": 6,
        "safety_reads": 0,
        "single_reads": 0,
    }


def test_a_users_changes_run_in_rounds_each_decided_from_the_last_read_back(sim: BoomiSimulator) -> None:
    """Revoke two of a user's roles in one batch: the second revoke decides from the read-back of
    the first (which assigned Standard User), so it assigns nothing more."""
    domain = sim.email.split("@")[1]
    user, other = f"two.roles@{domain}", f"bystander@{domain}"
    for who in (user, other):
        sim.state.add_user(who, "Two", "Roles")
        sim.state.grant_role(who, _role(sim, "Developer"))
        sim.state.grant_role(who, _role(sim, "Auditor"))
    changes = [
        AccessChange(REVOKE_ROLE, user, "Developer"),
        AccessChange(REVOKE_ROLE, other, "Auditor"),
        AccessChange(REVOKE_ROLE, user, "Auditor"),
    ]
    sim.clear_requests()
    with make_client(sim) as client:
        provisioner = _provisioner(client, user_id_matching="insensitive")
        results = provisioner.apply_all(changes)
    assert [r.outcome for r in results] == [APPLIED] * 3
    assert _roles_of(sim, user) == {_role(sim, "Standard User")}
    assert _roles_of(sim, other) == {_role(sim, "Standard User"), _role(sim, "Developer")}
    assert [any("assigned Standard User" in s for s in r.side_effects) for r in results] == [
        True,
        True,
        False,
    ]
    # Round 1 reads both users, round 2 reads them back (and is the state of the user's second
    # change), round 3 reads back the last change: three reads, not one per change and read-back.
    assert [_grouped(body) for body in _grant_reads(sim)] == [2, 2, 1]
    assert provisioner.calls.get("safety_writes") == 2


def test_a_case_sensitive_boomi_keeps_twins_apart(make_simulator: Callable[..., BoomiSimulator]) -> None:
    sim = make_simulator(user_id_case="sensitive")
    domain = sim.email.split("@")[1]
    twin_lower, twin_upper = f"twin@{domain}", f"Twin@{domain}"
    single = f"Single.Spelling@{domain}"
    for who in (twin_lower, twin_upper, single):
        sim.state.add_user(who, "Case", "Sensitive")
        sim.state.grant_role(who, _role(sim, "Developer"))
    changes = [
        AccessChange(ASSIGN_ROLE, "TWIN@" + domain, "Auditor"),
        AccessChange(ASSIGN_ROLE, single.lower(), "Auditor"),
    ]
    with make_client(sim) as client:
        results = _provisioner(client).apply_all(changes)
    assert (
        results[0].outcome == REFUSED
        and twin_lower in (results[0].error or "")
        and twin_upper in (results[0].error or "")
    )
    assert results[1].outcome == APPLIED
    assert _roles_of(sim, single) == {_role(sim, "Developer"), _role(sim, "Auditor")}
    assert _roles_of(sim, single.lower()) == set(), "a twin was invited"
    assert _roles_of(sim, twin_lower) == _roles_of(sim, twin_upper) == {_role(sim, "Developer")}


@pytest.mark.parametrize("answer", ["ignored", "refused"])
def test_a_batched_read_boomi_does_not_serve_falls_back_to_one_read_per_user(
    answer: str, make_simulator: Callable[..., BoomiSimulator], caplog: pytest.LogCaptureFixture
) -> None:
    sim = make_simulator(user_id_or_filter=answer)
    auditor = _role(sim, "Auditor")
    users = _users_without(sim, auditor, 6)
    sim.clear_requests()
    with make_client(sim) as client:
        # One group at a time, so that no second group's read is already in flight when the
        # first is found unserved.
        provisioner = _provisioner(client, read_batch_size=3, user_id_matching="insensitive", max_workers=1)
        results = provisioner.apply_all([AccessChange(ASSIGN_ROLE, u, "Auditor") for u in users])
    assert [r.outcome for r in results] == [APPLIED] * 6
    assert all(_roles_of(sim, u) >= {auditor} for u in users)
    # Said once, loudly, with what to set.
    assert len(provisioner.warnings) == 1 and STOPPED in provisioner.warnings[0]
    assert "read_batch_size=1" in provisioner.warnings[0] and STOPPED in caplog.text
    # Nothing was decided from the unserved read: after it, every user is read alone.
    sizes = [_grouped(body) for body in _grant_reads(sim)]
    assert sizes[0] == 3 and set(sizes[1:]) == {1}
    if answer == "ignored":
        # The answer was abandoned at its first page, not read to the end of the account.
        pages = [r for r in sim.requests if r.operation == "queryMore"]
        assert pages == []


class _ActsFirst(BoomiClient):
    """A real client, except that another actor changes Boomi just before this client's first
    write: the moment between a batched read and the write decided from it."""

    def __init__(self, sim: BoomiSimulator, act: Callable[[], None]) -> None:
        super().__init__(client_config(sim))
        self._act: Callable[[], None] | None = act

    def _other_actor(self) -> None:
        if self._act is not None:
            act, self._act = self._act, None
            act()

    def delete(self, object_type: str, object_id: str) -> None:
        self._other_actor()
        super().delete(object_type, object_id)

    def create_account_user_role(self, *args: Any, **kwargs: Any) -> Any:
        self._other_actor()
        return super().create_account_user_role(*args, **kwargs)


def test_a_delete_refused_because_the_state_changed_is_decided_again(sim: BoomiSimulator) -> None:
    """Another run revokes the role between the batched read and this run's DELETE: Boomi refuses
    the DELETE (no such row), the user is read alone, and the change is decided from that read."""
    domain = sim.email.split("@")[1]
    user, filler = f"moving.row@{domain}", f"filler@{domain}"
    standard, developer = _role(sim, "Standard User"), _role(sim, "Developer")
    for who in (user, filler):
        sim.state.add_user(who, "Moving", "Row")
        sim.state.grant_role(who, standard)
        sim.state.grant_role(who, developer)

    client = _ActsFirst(sim, lambda: sim.state.revoke_role(user, developer))
    with client:
        provisioner = _provisioner(client, user_id_matching="insensitive", max_workers=1)
        results = provisioner.apply_all(
            [AccessChange(REVOKE_ROLE, user, "Developer"), AccessChange(REVOKE_ROLE, filler, "Developer")]
        )
    assert [r.outcome for r in results] == [ALREADY_SATISFIED, APPLIED]
    assert any("decided again from a read of this user alone" in s for s in results[0].side_effects)
    assert _roles_of(sim, user) == _roles_of(sim, filler) == {standard}
    assert provisioner.calls.get("safety_reads") == 1  # the re-read of the refused user
    assert [r.operation for r in sim.requests].count("delete") == 2  # the refused one and the filler's


def test_a_create_refused_because_someone_assigned_it_meanwhile_is_already_satisfied(
    sim: BoomiSimulator,
) -> None:
    auditor = _role(sim, "Auditor")
    user, other = _users_without(sim, auditor, 2)
    client = _ActsFirst(sim, lambda: sim.state.grant_role(user, auditor))
    with client:
        results = _provisioner(client, user_id_matching="insensitive", max_workers=1).apply_all(
            [AccessChange(ASSIGN_ROLE, user, "Auditor"), AccessChange(ASSIGN_ROLE, other, "Auditor")]
        )
    assert [r.outcome for r in results] == [ALREADY_SATISFIED, APPLIED]
    assert (
        len([row for row in sim.state.user_roles() if row["userId"] == user and row["roleId"] == auditor])
        == 1
    )


def test_revoking_standard_user_rereads_the_user_first(sim: BoomiSimulator) -> None:
    """The batched read says "Standard User and Developer"; another run revokes Developer just
    after it. The Standard User revoke (opted in) must see the fresh state: the last role."""
    domain = sim.email.split("@")[1]
    user, filler = f"floor.last@{domain}", f"filler.two@{domain}"
    standard, developer = _role(sim, "Standard User"), _role(sim, "Developer")
    for who in (user, filler):
        sim.state.add_user(who, "Floor", "Last")
        sim.state.grant_role(who, standard)
        sim.state.grant_role(who, developer)

    with make_client(sim) as client:
        provisioner = _provisioner(client, user_id_matching="insensitive", allow_standard_user_revoke=True)
        original = provisioner._read_known
        acted: list[bool] = []

        def read_then_other_run_revokes(wanted: dict[str, str]) -> Any:
            known = original(wanted)
            if not acted:  # the other run's revoke lands just after the first batched read
                acted.append(True)
                sim.state.revoke_role(user, developer)
            return known

        provisioner._read_known = read_then_other_run_revokes  # type: ignore[method-assign]
        results = provisioner.apply_all(
            [AccessChange(REVOKE_ROLE, user, "Standard User"), AccessChange(REVOKE_ROLE, filler, "Developer")]
        )
    assert results[0].outcome == REFUSED and "last global role" in (results[0].error or "")
    assert _roles_of(sim, user) == {standard}
    assert results[1].outcome == APPLIED
