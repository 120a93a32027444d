"""Revocations of earlier reviews, read from their recorded decisions: what ``regranted`` needs.

A grant revoked in a review and held again later is a finding (``regranted``,
``docs/findings.md``). Its input is :data:`~airflow_provider_boomi.findings.REVOCATIONS_SCHEMA`;
:func:`revocations_from_campaigns` fills it from the campaign folders themselves, so nobody has
to keep that list by hand.

When a revocation took effect matters: the findings of a snapshot count a revocation only if it
took effect before the snapshot was taken. A decision is not yet a revocation (the change set is
applied later, maybe days later, and a nightly sync in between still holds the grant: that is
no regrant). So a revoke decision counts from the first snapshot taken after it was decided
that no longer holds the grant (``revoked_at`` is that snapshot's time): the revocation was seen
to take effect. A revoke decision no later snapshot confirms is left out; it is counted once a
snapshot shows it applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa

from airflow_provider_boomi.dataset import SnapshotStore, TableNotInSnapshotError
from airflow_provider_boomi.findings.inputs import REVOCATIONS_SCHEMA, as_revocations

from .campaign import GLOBAL_ROLE, find_campaigns, load_campaign
from .decisions import Decision, load_recorded_decisions
from .workbook import REVOKING_DECISIONS

__all__ = ["latest_decisions", "revocations_from_campaigns"]

_GRANT_TABLE = {GLOBAL_ROLE: "user_role_grants", "group_role": "group_role_grants"}


def latest_decisions(decisions: Iterable[Decision]) -> dict[str, Decision]:
    """Item id -> the decision that stands: the latest ``decided_at`` when an item was decided
    in more than one record (the all-items workbook and a reviewer's).

    :param decisions: :func:`~.decisions.load_recorded_decisions` of one campaign.
    :raises ValueError: a decision has no ``decided_at`` (it cannot be placed in time).
    """
    standing: dict[str, Decision] = {}
    for decision in decisions:
        if decision.decided_at is None:
            raise ValueError(
                f"the decision on {decision.item.item_id} has no decided_at; its record cannot be "
                "placed in time: restore the decision record of the campaign"
            )
        current = standing.get(decision.item.item_id)
        if current is None or (current.decided_at is not None and decision.decided_at >= current.decided_at):
            standing[decision.item.item_id] = decision
    return standing


def _held_after(
    store: SnapshotStore, account_id: str, decided: Mapping[str, Decision], snapshots: list[Any]
) -> dict[str, datetime]:
    """Grant id -> the time of the first snapshot after its decision that no longer holds it."""
    effective: dict[str, datetime] = {}
    pending = dict(decided)
    for info in snapshots:
        if not pending:
            break
        due = {g: d for g, d in pending.items() if d.decided_at is not None and info.synced_at > d.decided_at}
        if not due:
            continue
        held: set[str] = set()
        for table in sorted({_GRANT_TABLE[d.item.grant_kind] for d in due.values()}):
            try:
                column = store.read_table(account_id, info.sync_id, table, columns=["grant_id"])
            except TableNotInSnapshotError:
                # A partial sync without this table proves nothing about these grants.
                held |= {g for g, d in due.items() if _GRANT_TABLE[d.item.grant_kind] == table}
                continue
            held |= set(column.column("grant_id").to_pylist())
        for grant_id in due:
            if grant_id not in held:
                effective[grant_id] = info.synced_at
                del pending[grant_id]
    return effective


def revocations_from_campaigns(reviews_path: Any, store: Any, account_id: str) -> pa.Table:
    """Every revocation decided in the campaigns of ``account_id`` and seen to take effect.

    For each campaign folder under ``reviews_path`` (:func:`~.campaign.find_campaigns`) of the
    account, the standing decision of each item (:func:`latest_decisions`) is read from its
    records; each ``revoke`` becomes one row of
    :data:`~airflow_provider_boomi.findings.REVOCATIONS_SCHEMA`: ``user_id``, ``role_id``,
    ``account_group_id`` (``None`` for a global role), ``revoked_at`` (the time of the first
    snapshot of ``store`` taken after the decision without the grant: see the module
    docstring) and ``revoked_in`` (the campaign id). A grant revoked in several campaigns has
    a row for each.

    :param reviews_path: the folder of campaign folders (local, fsspec URL or
        ``ObjectStoragePath``), as the campaign operator's ``reviews_path``.
    :param store: the snapshot store (a :class:`~airflow_provider_boomi.dataset.SnapshotStore`
        or its root), where the revocations are seen to take effect.
    :param account_id: the account.
    :returns: the revocations, ordered by ``revoked_at``, campaign and grant (possibly empty).
    :raises FileNotFoundError: ``reviews_path`` does not exist.
    :raises ValueError: a decision record is unreadable, or names an item its campaign lacks.
    """
    store = store if isinstance(store, SnapshotStore) else SnapshotStore(store)
    snapshots = store.snapshots(account_id)
    rows: list[dict[str, Any]] = []
    for directory in find_campaigns(reviews_path):
        campaign = load_campaign(directory)
        if campaign.account_id != account_id:
            continue
        revoked = {
            item_id: decision
            for item_id, decision in latest_decisions(load_recorded_decisions(directory)).items()
            if decision.decision in REVOKING_DECISIONS
        }
        for grant_id, at in _held_after(store, account_id, revoked, snapshots).items():
            item = revoked[grant_id].item
            rows.append(
                {
                    "user_id": item.user_id,
                    "role_id": item.role_id,
                    "account_group_id": item.account_group_id,
                    "revoked_at": at,
                    "revoked_in": campaign.campaign_id,
                }
            )
    rows.sort(key=lambda r: (r["revoked_at"], r["revoked_in"], r["user_id"], r["role_id"]))
    if not rows:
        return REVOCATIONS_SCHEMA.empty_table()
    return as_revocations(pa.Table.from_pylist(rows, schema=REVOCATIONS_SCHEMA))
