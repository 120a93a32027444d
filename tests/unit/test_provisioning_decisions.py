"""How the provisioner decides outcomes, with an in-memory stand-in for the Boomi client.

The simulator tests cover the rules end to end; these cover the branches that need a write to
fail in a precise way (an unknown outcome that did or did not land, a read-back that fails too).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_boomi.access.changes import (
    ADD_GROUP_ROLE,
    ALREADY_SATISFIED,
    APPLIED,
    ASSIGN_ROLE,
    FAILED,
    REFUSED,
    REMOVE_GROUP_ROLE,
    REVOKE_ROLE,
    AccessChange,
)
from airflow_provider_boomi.access.provisioning import (
    Provisioner,
    ProvisioningOptions,
    ResolutionError,
    TooManyChangesError,
)
from airflow_provider_boomi.client import (
    AccountGroup,
    AccountGroupUserRole,
    AccountUserRole,
    BoomiAuthenticationError,
    BoomiBadRequestError,
    BoomiError,
    BoomiServerError,
    BoomiTransportError,
    Role,
)

STANDARD = "fcb6e2d0-0ca8-11e2-a477-1231381987a5"
AUDITOR = "de31d765-7039-4949-a3f4-5724dc800bbf"
DEVELOPER = "dc04b985-d34f-4877-8c09-e78167b4c441"
GROUP = "1c2aadf1-21d5-4c6d-87bf-053cb5b74a49"
USER = "dana@acme.example"


@dataclass
class FakeClient:
    """Just enough of BoomiClient: rows in memory, scripted failures, a call log."""

    user_roles: list[AccountUserRole] = field(default_factory=list)
    group_roles: list[AccountGroupUserRole] = field(default_factory=list)
    # operation -> (error to raise, whether the write takes effect anyway)
    failures: dict[str, tuple[BoomiError, bool]] = field(default_factory=dict)
    fail_reads_after_write: bool = False
    calls: list[str] = field(default_factory=list)
    config: Any = field(
        default_factory=lambda: SimpleNamespace(account_id="acme-Q7R2ZK", email="api@acme.example")
    )
    _wrote: bool = False

    def query_roles(self, query_filter: Any = None) -> Iterator[Role]:
        self.calls.append("query Role")
        yield Role(id=STANDARD, account_id="1", name="Standard User", parent_id=STANDARD)
        yield Role(id=AUDITOR, account_id="acme-Q7R2ZK", name="Auditor", parent_id=STANDARD)
        yield Role(id=DEVELOPER, account_id="acme-Q7R2ZK", name="Developer", parent_id=STANDARD)

    def get_role(self, role_id: str) -> Role:
        raise BoomiBadRequestError(f"No such Role: {role_id}", status=400)

    def _read(self, what: str) -> None:
        self.calls.append(f"query {what}")
        if self.fail_reads_after_write and self._wrote:
            raise BoomiTransportError("read timed out")

    def query_account_user_roles(self, query_filter: Any = None) -> Iterator[AccountUserRole]:
        self._read("AccountUserRole")
        return iter(list(self.user_roles))

    def query_account_groups(self, query_filter: Any = None) -> Iterator[AccountGroup]:
        self.calls.append("query AccountGroup")
        return iter([AccountGroup(id=GROUP, name="Sandbox")])

    def query_account_group_user_roles(self, query_filter: Any = None) -> Iterator[AccountGroupUserRole]:
        self._read("AccountGroupUserRole")
        return iter(list(self.group_roles))

    def _write(self, operation: str, apply: Any) -> None:
        self.calls.append(operation)
        self._wrote = True
        failure = self.failures.pop(operation, None)
        if failure is None or failure[1]:
            apply()
        if failure is not None:
            raise failure[0]

    def create_account_user_role(self, user_id: str, role_id: str, **kwargs: Any) -> AccountUserRole:
        row = AccountUserRole(id=f"aur-{role_id}", user_id=user_id, role_id=role_id)
        self._write(f"create {role_id}", lambda: self.user_roles.append(row))
        return row

    def create_account_group_user_role(
        self, group_id: str, user_id: str, role_id: str
    ) -> AccountGroupUserRole:
        row = AccountGroupUserRole(
            id=f"agur-{role_id}", account_group_id=group_id, user_id=user_id, role_id=role_id
        )
        self._write("create group", lambda: self.group_roles.append(row))
        return row

    def delete(self, object_type: str, object_id: str) -> None:
        rows: list[Any] = self.user_roles if object_type == "AccountUserRole" else self.group_roles
        self._write("delete", lambda: rows.remove(next(r for r in rows if r.id == object_id)))


def _run(client: FakeClient, change: AccessChange, **options: Any) -> Any:
    # The matching of user ids is detected against a real server in the simulator tests.
    opts = {"provisioning_enabled": True, "user_id_matching": "insensitive", **options}
    return Provisioner(client, ProvisioningOptions(**opts)).apply(change)  # type: ignore[arg-type]


def _aur(role_id: str, user: str = USER) -> AccountUserRole:
    return AccountUserRole(id=f"aur-{role_id}", user_id=user, role_id=role_id)


def test_unknown_outcome_that_landed_is_applied_and_not_resent() -> None:
    client = FakeClient(failures={f"create {AUDITOR}": (BoomiTransportError("read timed out"), True)})
    result = _run(client, AccessChange(ASSIGN_ROLE, USER, "Auditor"))
    assert result.outcome == APPLIED
    assert "outcome unknown after BoomiTransportError" in result.verification
    assert client.calls.count(f"create {AUDITOR}") == 1
    assert client.calls[-1] == "query AccountUserRole"


def test_unknown_outcome_that_did_not_land_fails() -> None:
    client = FakeClient(
        user_roles=[_aur(STANDARD), _aur(AUDITOR)],
        failures={"delete": (BoomiServerError("HTTP 502"), False)},
    )
    result = _run(client, AccessChange(REVOKE_ROLE, USER, "Auditor"))
    assert result.outcome == FAILED and "502" in result.error
    # Not in place yet; a 502 is no definite answer, so the write may still land.
    assert "not in place yet" in result.error and result.verification.startswith("unsettled")
    assert client.calls.count("delete") == 1


def test_failed_read_back_after_unknown_outcome_says_so() -> None:
    client = FakeClient(
        failures={f"create {AUDITOR}": (BoomiTransportError("read timed out"), True)},
        fail_reads_after_write=True,
    )
    result = _run(client, AccessChange(ASSIGN_ROLE, USER, "Auditor"))
    assert result.outcome == FAILED
    assert "outcome is unknown" in result.error and result.verification.startswith("unsettled")


def test_definite_refusal_with_state_already_holding_is_already_satisfied() -> None:
    # Someone else granted the role between our read and our create; Boomi answers 400.
    client = FakeClient(failures={f"create {AUDITOR}": (BoomiBadRequestError("duplicate", status=400), True)})
    result = _run(client, AccessChange(ASSIGN_ROLE, USER, "Auditor"))
    assert result.outcome == ALREADY_SATISFIED


def test_authentication_errors_are_not_re_read() -> None:
    client = FakeClient(
        failures={f"create {AUDITOR}": (BoomiAuthenticationError("bad token", status=401), False)}
    )
    result = _run(client, AccessChange(ASSIGN_ROLE, USER, "Auditor"))
    assert result.outcome == FAILED
    assert client.calls[-1] == f"create {AUDITOR}"


def test_accepted_but_not_visible_fails_verification() -> None:
    class Forgetful(FakeClient):
        def create_account_user_role(self, user_id: str, role_id: str, **kwargs: Any) -> AccountUserRole:
            self.calls.append(f"create {role_id}")
            return AccountUserRole(id="ghost", user_id=user_id, role_id=role_id)

    result = _run(Forgetful(), AccessChange(ASSIGN_ROLE, USER, "Auditor"))
    assert result.outcome == FAILED and "does not show the change" in result.error


def test_safeguard_failure_deletes_nothing() -> None:
    client = FakeClient(
        user_roles=[_aur(DEVELOPER)],
        failures={f"create {STANDARD}": (BoomiBadRequestError("nope", status=400), False)},
    )
    result = _run(client, AccessChange(REVOKE_ROLE, USER, "Developer"))
    assert result.outcome == FAILED and "Nothing was deleted" in result.error
    assert "delete" not in client.calls
    assert [r.role_id for r in client.user_roles] == [DEVELOPER]


def test_safeguard_with_unknown_outcome_that_landed_continues() -> None:
    client = FakeClient(
        user_roles=[_aur(DEVELOPER)],
        failures={f"create {STANDARD}": (BoomiTransportError("connection dropped"), True)},
    )
    result = _run(client, AccessChange(REVOKE_ROLE, USER, "Developer"))
    assert result.outcome == APPLIED
    assert [r.role_id for r in client.user_roles] == [STANDARD]
    assert len(result.side_effects) == 2
    assert client.calls.count(f"create {STANDARD}") == 1


def test_group_remove_and_add_paths() -> None:
    client = FakeClient(
        group_roles=[AccountGroupUserRole(id="g1", account_group_id=GROUP, user_id=USER, role_id=AUDITOR)]
    )
    removed = _run(client, AccessChange(REMOVE_GROUP_ROLE, USER.upper(), "Auditor", account_group="sandbox"))
    assert removed.outcome == APPLIED and removed.boomi_id == "g1" and removed.account_group_name == "Sandbox"
    added = _run(client, AccessChange(ADD_GROUP_ROLE, USER, AUDITOR, account_group=GROUP))
    assert added.outcome == APPLIED


def test_disabled_and_too_many_make_no_call() -> None:
    client = FakeClient()
    assert (
        _run(client, AccessChange(ASSIGN_ROLE, USER, "Auditor"), provisioning_enabled=False).outcome
        == REFUSED
    )
    with pytest.raises(TooManyChangesError, match="max_changes=1"):
        Provisioner(client, ProvisioningOptions(provisioning_enabled=True, max_changes=1)).apply_all(  # type: ignore[arg-type]
            [AccessChange(ASSIGN_ROLE, USER, "Auditor")] * 2
        )
    assert client.calls == []


def test_resolution_errors() -> None:
    provisioner = Provisioner(FakeClient())  # type: ignore[arg-type]
    assert provisioner.resolve_role("auditor").role_id == AUDITOR  # case-insensitive fallback
    assert provisioner.resolve_role(AUDITOR.upper(), is_id=True).name == "Auditor"
    with pytest.raises(ResolutionError, match="no role with id"):
        provisioner.resolve_role("Auditor", is_id=True)
    with pytest.raises(ResolutionError, match=r"no account group named 'Prod'.*'Sandbox'"):
        provisioner.resolve_account_group("Prod")


def test_options_validate_max_changes() -> None:
    with pytest.raises(ValueError, match="max_changes"):
        ProvisioningOptions(max_changes=0)
    with pytest.raises(ValueError, match="max_changes"):
        ProvisioningOptions(max_changes=True)
