"""Verification: a fresh snapshot shows exactly the effect of the changes that were applied.

After access changes are applied, the account is synced again; every change whose outcome says
it holds (``applied`` or ``already_satisfied``) must then be visible in that snapshot: a revoked
or removed grant absent, an assigned or added grant present, an offboarded user holding no
grant at all (global or in any account group). Changes that did not happen
(``refused``, ``failed``, ``planned``, ``user_not_found``) are listed but not checked: nothing is
expected of them. Plain Python over the snapshot store; the operator
:class:`~airflow_provider_boomi.operators.verification.BoomiVerifyChangesOperator` wraps it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_boomi.access.changes import (
    ADD_GROUP_ROLE,
    ALREADY_SATISFIED,
    APPLIED,
    ASSIGN_ROLE,
    OFFBOARD_USER,
    REMOVE_GROUP_ROLE,
    REVOKE_ROLE,
)
from airflow_provider_boomi.dataset import GRANT_TABLES, SnapshotStore, snapshot_location
from airflow_provider_boomi.dataset.grant_ids import grant_id, group_entitlement_id, role_entitlement_id

__all__ = ["VerificationError", "VerificationResult", "expected_grant_id", "verify_changes"]

_HOLDS = (APPLIED, ALREADY_SATISFIED)
_PRESENT_AFTER = {ASSIGN_ROLE: True, ADD_GROUP_ROLE: True, REVOKE_ROLE: False, REMOVE_GROUP_ROLE: False}


class VerificationError(RuntimeError):
    """The fresh snapshot contradicts a change that was reported to hold."""

    def __init__(self, message: str, result: VerificationResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class VerificationResult:
    """What :func:`verify_changes` checked.

    :ivar account_id: the account.
    :ivar sync_id: the snapshot the changes were checked against.
    :ivar checks: one dict per change: ``grant_id``, ``action``, ``outcome``, ``expected``
        (``"present"``, ``"absent"`` or ``None`` when not checked), ``holds`` (``None`` when
        not checked) and ``side_effects``.
    """

    account_id: str
    sync_id: str
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verified(self) -> int:
        """Changes checked and found in effect."""
        return sum(1 for c in self.checks if c["holds"] is True)

    @property
    def failures(self) -> list[dict[str, Any]]:
        """Checked changes the snapshot contradicts."""
        return [c for c in self.checks if c["holds"] is False]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the operator's XCom and the evidence bundle's verification)."""
        return {
            "account_id": self.account_id,
            "sync_id": self.sync_id,
            "verified": self.verified,
            "not_checked": sum(1 for c in self.checks if c["holds"] is None),
            "checks": list(self.checks),
        }


def expected_grant_id(change: Mapping[str, Any]) -> str:
    """The baton grant id a change is about (global role, or role within an account group)."""
    role_id = str(change["role_id"])
    group = change.get("account_group_id")
    entitlement = group_entitlement_id(str(group), role_id) if group else role_entitlement_id(role_id)
    return grant_id(entitlement, str(change["user_id"]))


def verify_changes(
    snapshot_path: Any,
    changes: Sequence[Mapping[str, Any]],
    outcomes: Sequence[Mapping[str, Any]],
    *,
    storage_options: dict[str, Any] | None = None,
) -> VerificationResult:
    """Check a fresh snapshot against the changes applied before it.

    :param snapshot_path: the snapshot directory (``.../account_id=A/sync_id=S``, local or any
        fsspec URL), as :class:`~airflow_provider_boomi.operators.sync.BoomiSyncOperator`
        returns it.
    :param changes: the change set, each with ``action``, ``user_id``, ``role_id`` and, for group
        actions, ``account_group_id`` (ids, as ``decisions_to_changes`` writes them).
    :param outcomes: the provisioning results in the same order (``outcome``, ``side_effects``),
        as the provisioning operators return them under ``"outcomes"``.
    :raises ValueError: ``changes`` and ``outcomes`` differ in length, or a change names no role id.
    :raises VerificationError: a change reported to hold is contradicted by the snapshot (the
        error carries the full :class:`VerificationResult`).
    """
    if len(changes) != len(outcomes):
        raise ValueError(
            f"{len(changes)} changes but {len(outcomes)} outcomes: pass the outcomes of these changes"
        )
    root, account_id, sync_id = snapshot_location(snapshot_path)
    store = SnapshotStore(root, storage_options=storage_options)
    present: set[str] = set()
    holders: set[str] = set()  # users holding any grant: an offboarded user must not be one
    for table in GRANT_TABLES:
        rows = store.read_table(account_id, sync_id, table, columns=["grant_id", "user_id"], as_="arrow")
        # Boomi's spelling of a user id may differ in case from the one in the change set.
        present.update(g.lower() for g in rows.column("grant_id").to_pylist())
        holders.update(u.lower() for u in rows.column("user_id").to_pylist())
    result = VerificationResult(account_id, sync_id)
    for change, outcome in zip(changes, outcomes, strict=True):
        if change.get("action") == OFFBOARD_USER:
            result.checks.append(_offboarding_check(change, outcome, holders))
            continue
        if not change.get("role_id"):
            raise ValueError(f"change {dict(change)} names no role_id: verification needs ids")
        expected_id = expected_grant_id(change)
        state = outcome.get("outcome")
        present_after = _PRESENT_AFTER.get(str(change.get("action")))
        checked = state in _HOLDS and present_after is not None
        holds = (expected_id.lower() in present) == present_after if checked else None
        result.checks.append(
            {
                "grant_id": expected_id,
                "action": change.get("action"),
                "outcome": state,
                "expected": ("present" if present_after else "absent") if checked else None,
                "holds": holds,
                "side_effects": list(outcome.get("side_effects") or []),
            }
        )
    failures = result.failures
    if failures:
        listed = "; ".join(f"{c['action']} {c['grant_id']} expected {c['expected']}" for c in failures[:10])
        raise VerificationError(
            f"{len(failures)} of {len(result.checks)} change(s) are not in effect in snapshot "
            f"{sync_id}: {listed}",
            result,
        )
    return result


def _offboarding_check(
    change: Mapping[str, Any], outcome: Mapping[str, Any], holders: set[str]
) -> dict[str, Any]:
    """An offboarding holds when the user has no grant left in the snapshot (any spelling)."""
    user = str(change["user_id"])
    state = outcome.get("outcome")
    checked = state in _HOLDS
    return {
        "grant_id": f"user:{user}",
        "action": OFFBOARD_USER,
        "outcome": state,
        "expected": "no grants" if checked else None,
        "holds": (user.lower() not in holders) if checked else None,
        "side_effects": list(outcome.get("side_effects") or []),
    }
