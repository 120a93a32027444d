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
    ADD_GROUP_ROLE,
    ALREADY_SATISFIED,
    APPLIED,
    ASSIGN_ROLE,
    REFUSED,
    REMOVE_GROUP_ROLE,
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
GROUP_STOPPED = f"AccountGroupUserRole/query {STOPPED}"


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

    def create_account_group_user_role(self, *args: Any, **kwargs: Any) -> Any:
        self._other_actor()
        return super().create_account_group_user_role(*args, **kwargs)


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


# --- group roles -------------------------------------------------------------------------------


def _group(sim: BoomiSimulator, name: str) -> str:
    return next(str(g["id"]) for g in sim.state.account_groups() if g["name"] == name)


def _group_roles_of(sim: BoomiSimulator, group_id: str, user_id: str) -> set[str]:
    return {
        r["roleId"]
        for r in sim.state.group_roles()
        if r["accountGroupId"] == group_id and r["userId"] == user_id
    }


def _group_reads(sim: BoomiSimulator) -> list[dict[str, Any]]:
    """The AccountGroupUserRole queries that read users' rows in one group."""
    return [
        r.request_body
        for r in sim.requests
        if r.object_type == "AccountGroupUserRole"
        and r.operation == "query"
        and '"accountGroupId"' in json.dumps(r.request_body)
        and '"userId"' in json.dumps(r.request_body)
    ]


def _users_outside(sim: BoomiSimulator, group_id: str, count: int) -> list[str]:
    """Users who hold global roles, have logged in (Boomi adds no one else to a group) and hold no
    row in ``group_id``."""
    inside = {r["userId"] for r in sim.state.group_roles() if r["accountGroupId"] == group_id}
    logged_in = {u["userId"] for u in sim.state.users() if u["hasLoggedIn"] and u["inAccount"]}
    users = sorted(logged_in - inside - {sim.email})
    assert len(users) >= count
    return users[:count]


def test_many_group_changes_are_read_and_verified_in_few_calls(sim: BoomiSimulator) -> None:
    sandbox, auditor = _group(sim, "Sandbox"), _role(sim, "Auditor")
    users = _users_outside(sim, sandbox, 30)
    changes = [AccessChange(ADD_GROUP_ROLE, u.swapcase(), "Auditor", account_group="Sandbox") for u in users]
    sim.clear_requests()
    with make_client(sim) as client:
        provisioner = _provisioner(client, read_batch_size=10, user_id_matching="insensitive")
        results = provisioner.apply_all(changes)
    assert [r.outcome for r in results] == [APPLIED] * 30
    # Given under Boomi's spelling of each user (typed in the other case), never a twin.
    assert all(_group_roles_of(sim, sandbox, u) == {auditor} for u in users)
    reads = _group_reads(sim)
    # Three groups of ten users, each read in the account group once before its writes and once
    # to verify them; every read asks for the group first.
    assert [_grouped(body) for body in reads] == [10] * 6
    assert all(
        body["QueryFilter"]["expression"]["nestedExpression"][0]
        == {"operator": "EQUALS", "property": "accountGroupId", "argument": [sandbox]}
        for body in reads
    )
    # The users hold no row in the group yet: their global rows (one batched read a group of
    # users) show they exist and how Boomi spells them.
    assert [_grouped(body) for body in _grant_reads(sim)] == [10] * 3
    assert provisioner.calls.as_dict() == {
        "writes": 30,
        "safety_writes": 0,
        "batched_reads": 9,
        "safety_reads": 0,
        "single_reads": 0,
    }


def test_group_removals_and_additions_in_one_group_share_the_read(sim: BoomiSimulator) -> None:
    """A removal of one user and additions for others, in one group and round: one read of the
    group before, one after; a second change of a user is decided from that read-back."""
    emea = _group(sim, "EMEA Customers")
    row = next(r for r in sim.state.group_roles() if r["accountGroupId"] == emea)
    held_by, held = row["userId"], row["roleId"]
    role_name = next(r["name"] for r in sim.state.roles() if r["id"] == held)
    newcomer = _users_outside(sim, emea, 1)[0]
    changes = [
        AccessChange(REMOVE_GROUP_ROLE, held_by.upper(), role_name, account_group="EMEA Customers"),
        AccessChange(ADD_GROUP_ROLE, newcomer, "Auditor", account_group="EMEA Customers"),
        AccessChange(ADD_GROUP_ROLE, held_by, role_name, account_group="EMEA Customers"),
    ]
    sim.clear_requests()
    with make_client(sim) as client:
        provisioner = _provisioner(client, user_id_matching="insensitive")
        results = provisioner.apply_all(changes)
    assert [r.outcome for r in results] == [APPLIED] * 3
    assert held in _group_roles_of(sim, emea, held_by)
    assert _group_roles_of(sim, emea, newcomer) == {_role(sim, "Auditor")}
    # Round 1 reads both users in the group; round 2 reads them back, and that read is the state
    # of the second change of the first user; round 3 reads that change back.
    assert [_grouped(body) for body in _group_reads(sim)] == [2, 2, 1]
    # Global rows are read only for users the group holds no row of: the newcomer before its
    # addition, and the first user once its only row in the group is gone.
    held_rows = [r for r in sim.state.group_roles() if r["accountGroupId"] == emea and r["userId"] == held_by]
    expected = [1, 1] if len(held_rows) == 1 else [1]
    assert [_grouped(body) for body in _grant_reads(sim)] == expected
    assert provisioner.calls.get("single_reads") == 0


@pytest.mark.parametrize("answer", ["ignored", "refused"])
def test_a_group_read_boomi_does_not_serve_falls_back_to_one_read_per_user(
    answer: str, make_simulator: Callable[..., BoomiSimulator], caplog: pytest.LogCaptureFixture
) -> None:
    sim = make_simulator(user_id_or_filter=answer)
    emea, auditor = _group(sim, "EMEA Customers"), _role(sim, "Auditor")
    users = _users_outside(sim, emea, 6)
    sim.clear_requests()
    with make_client(sim) as client:
        provisioner = _provisioner(client, read_batch_size=3, user_id_matching="insensitive", max_workers=1)
        results = provisioner.apply_all(
            [AccessChange(ADD_GROUP_ROLE, u, "Auditor", account_group="EMEA Customers") for u in users]
        )
    assert [r.outcome for r in results] == [APPLIED] * 6
    assert all(_group_roles_of(sim, emea, u) == {auditor} for u in users)
    # Said once for each object Boomi did not serve, with what to set.
    group_warnings = [w for w in provisioner.warnings if GROUP_STOPPED in w]
    assert len(group_warnings) == 1 and "read_batch_size=1" in group_warnings[0]
    assert GROUP_STOPPED in caplog.text
    if answer == "ignored":
        # The group holds rows of other users: the first of them gave the ignored filter away.
        assert "came back from a read of group" in group_warnings[0]
    # Nothing was decided from the unserved read: after it, every user is read alone.
    sizes = [_grouped(body) for body in _group_reads(sim)]
    assert sizes[0] == 3 and set(sizes[1:]) == {1}


def test_a_case_sensitive_boomi_keeps_group_twins_apart(
    make_simulator: Callable[..., BoomiSimulator],
) -> None:
    sim = make_simulator(user_id_case="sensitive")
    domain = sim.email.split("@")[1]
    sandbox, developer = _group(sim, "Sandbox"), _role(sim, "Developer")
    twin_lower, twin_upper = f"twin@{domain}", f"Twin@{domain}"
    single = f"Single.Spelling@{domain}"
    for who in (twin_lower, twin_upper, single):
        sim.state.add_user(who, "Case", "Sensitive")
        sim.state.add_group_role(sandbox, who, developer)
    changes = [
        AccessChange(ADD_GROUP_ROLE, "TWIN@" + domain, "Auditor", account_group="Sandbox"),
        AccessChange(ADD_GROUP_ROLE, single.lower(), "Auditor", account_group="Sandbox"),
        AccessChange(REMOVE_GROUP_ROLE, twin_upper, "Developer", account_group="Sandbox"),
    ]
    with make_client(sim) as client:
        provisioner = _provisioner(client)
        results = provisioner.apply_all(changes)
    assert results[0].outcome == REFUSED
    assert twin_lower in (results[0].error or "") and twin_upper in (results[0].error or "")
    # The exact spelling of one twin is still ambiguous against the other: both spellings are
    # one email, and the change names which of them only by case.
    assert results[2].outcome == REFUSED
    assert results[1].outcome == APPLIED
    assert _group_roles_of(sim, sandbox, single) == {developer, _role(sim, "Auditor")}
    assert _group_roles_of(sim, sandbox, single.lower()) == set(), "a twin row was written"
    for twin in (twin_lower, twin_upper):
        assert _group_roles_of(sim, sandbox, twin) == {developer}


def test_a_group_delete_refused_because_the_state_changed_is_decided_again(sim: BoomiSimulator) -> None:
    """Another run removes the group role between the batched read and this run's DELETE: Boomi
    refuses the DELETE, the user is read alone in the group, and the change is decided again."""
    emea = _group(sim, "EMEA Customers")
    first, second = [r for r in sim.state.group_roles() if r["accountGroupId"] == emea][:2]
    assert first["userId"] != second["userId"]
    name = {r["id"]: r["name"] for r in sim.state.roles()}
    client = _ActsFirst(sim, lambda: sim.state.remove_group_role(emea, first["userId"], first["roleId"]))
    with client:
        provisioner = _provisioner(client, user_id_matching="insensitive", max_workers=1)
        results = provisioner.apply_all(
            [
                AccessChange(
                    REMOVE_GROUP_ROLE, row["userId"], name[row["roleId"]], account_group="EMEA Customers"
                )
                for row in (first, second)
            ]
        )
    assert [r.outcome for r in results] == [ALREADY_SATISFIED, APPLIED]
    assert any("decided again from a read of this user alone" in s for s in results[0].side_effects)
    assert first["roleId"] not in _group_roles_of(sim, emea, first["userId"])
    assert second["roleId"] not in _group_roles_of(sim, emea, second["userId"])
    assert provisioner.calls.get("safety_reads") == 1  # the re-read of the refused user
    assert [r.operation for r in sim.requests].count("delete") == 2


def test_a_group_create_refused_because_someone_added_it_meanwhile_is_already_satisfied(
    sim: BoomiSimulator,
) -> None:
    sandbox, auditor = _group(sim, "Sandbox"), _role(sim, "Auditor")
    user, other = _users_outside(sim, sandbox, 2)
    client = _ActsFirst(sim, lambda: sim.state.add_group_role(sandbox, user, auditor))
    with client:
        results = _provisioner(client, user_id_matching="insensitive", max_workers=1).apply_all(
            [
                AccessChange(ADD_GROUP_ROLE, user, "Auditor", account_group="Sandbox"),
                AccessChange(ADD_GROUP_ROLE, other, "Auditor", account_group="Sandbox"),
            ]
        )
    assert [r.outcome for r in results] == [ALREADY_SATISFIED, APPLIED]
    assert any("decided again from a read of this user alone" in s for s in results[0].side_effects)
    assert len([r for r in sim.state.group_roles() if r["userId"] == user and r["roleId"] == auditor]) == 1
