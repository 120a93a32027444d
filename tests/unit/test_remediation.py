"""Remediation tracking: revoke decisions joined with a real ledger and real snapshots.

The snapshots are the shared three-snapshot scenario (``test_warehouse_snapshots``): between
the first and the last, alice lost Developer, bob lost it and got it back, carol's group grant
never moved. The campaign reviews the first snapshot; the ledger is written by the real
``LedgerWriter`` into Parquet part files and read back with ``read_ledger``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_boomi.access.changes import ChangeResult
from airflow_provider_boomi.access.ledger import LedgerWriter, RunContext, new_action_id, read_ledger
from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.review.campaign import Campaign, build_campaign
from airflow_provider_boomi.review.decisions import Decision
from airflow_provider_boomi.review.remediation import (
    GrantSnapshot,
    latest_grants,
    track_remediation,
)
from tests.unit import test_warehouse_snapshots as fx

DECIDED = fx.T0 + timedelta(hours=1)
ALICE_DEV = fx.global_grant_id("alice@x.com", fx.DEV)
BOB_DEV = fx.global_grant_id("bob@x.com", fx.DEV)
CAROL_G1_DEV = fx.group_grant_id("carol@x.com", fx.G1, fx.DEV)
ALICE_ADMIN = fx.global_grant_id("alice@x.com", fx.ADMIN)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SnapshotStore:
    return fx.build_store(tmp_path_factory.mktemp("remediation-store"))


@pytest.fixture(scope="module")
def campaign(store: SnapshotStore) -> Campaign:
    return build_campaign(store, fx.ACCOUNT, fx.SYNC_IDS[0], default_reviewer="rita@x.com")


def decision(
    campaign: Campaign, item_id: str, value: str = "revoke", at: datetime | None = DECIDED
) -> Decision:
    """A decision as load_recorded_decisions returns it (its item from the campaign)."""
    return Decision(item=campaign.item(item_id), decision=value, comment="", row=None, decided_at=at)  # type: ignore[arg-type]


def ledger_row(
    path: Path,
    user: str,
    role: str,
    outcome: str,
    *,
    group: str | None = None,
    account: str = fx.ACCOUNT,
    dry_run: bool = False,
) -> None:
    with LedgerWriter(str(path), context=RunContext(account_id=account)) as writer:
        writer.record(
            ChangeResult(
                action_id=new_action_id(),
                action="remove_group_role" if group else "revoke_role",
                user_id=user,
                role_id=role,
                role_name=None,
                account_group_id=group,
                account_group_name=None,
                dry_run=dry_run,
                state_before=None,
                outcome=outcome,
                error="Boomi said no" if outcome == "failed" else None,
            )
        )


def by_item(items: list[Any]) -> dict[str, Any]:
    return {i.item.item_id: i for i in items}


def test_latest_grants_reads_the_newest_snapshot(store: SnapshotStore) -> None:
    latest = latest_grants(store, fx.ACCOUNT)
    assert latest is not None
    assert latest.sync_id == fx.SYNC_IDS[2]
    assert latest.holds(BOB_DEV) and latest.holds(BOB_DEV.upper())
    assert not latest.holds(ALICE_DEV)
    assert latest_grants(store, "other-account") is None


def test_every_state_from_a_real_ledger(store: SnapshotStore, campaign: Campaign, tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger"
    # bob: revoked (the ledger says applied), yet the last snapshot, taken after, shows it again.
    ledger_row(ledger_path, "bob@x.com", fx.DEV, "applied")
    # carol: the only attempt failed; a dry run and another account's revoke do not count.
    ledger_row(ledger_path, "carol@x.com", fx.DEV, "failed", group=fx.G1)
    ledger_row(ledger_path, "carol@x.com", fx.DEV, "applied", group=fx.G1, dry_run=True)
    ledger_row(ledger_path, "carol@x.com", fx.DEV, "applied", group=fx.G1, account="other-account")
    ledger = read_ledger(str(ledger_path))
    snapshot = latest_grants(store, fx.ACCOUNT)
    assert snapshot is not None
    # The ledger rows were recorded now, after the snapshot: move the snapshot past them for bob.
    after_ledger = GrantSnapshot(
        snapshot.sync_id, datetime.now(UTC) + timedelta(minutes=1), snapshot.grant_ids
    )
    decisions = [
        decision(campaign, ALICE_DEV),
        decision(campaign, BOB_DEV),
        decision(campaign, CAROL_G1_DEV),
        decision(campaign, ALICE_ADMIN, "keep"),
    ]
    now = DECIDED + timedelta(days=3)
    items = by_item(track_remediation(campaign, decisions, ledger=ledger, snapshot=after_ledger, now=now))
    assert set(items) == {ALICE_DEV, BOB_DEV, CAROL_G1_DEV}  # a keep starts nothing

    alice = items[ALICE_DEV]
    assert alice.state == "verified"
    assert alice.verified_sync_id == fx.SYNC_IDS[2]
    assert alice.ledger_outcome is None and "no revoke of it" in alice.detail

    bob = items[BOB_DEV]
    assert bob.state == "contradicted"
    assert bob.ledger_outcome == "applied" and bob.applied_at is not None

    carol = items[CAROL_G1_DEV]
    assert carol.state == "pending"
    assert carol.ledger_outcome == "failed" and "Boomi said no" in carol.detail
    assert carol.deadline == date(2026, 1, 19)

    # With the real snapshot time (before the ledger rows), bob's revoke is applied, unproven.
    items = by_item(track_remediation(campaign, decisions, ledger=ledger, snapshot=snapshot, now=now))
    assert items[BOB_DEV].state == "applied"
    assert "sync the account" in items[BOB_DEV].detail


def test_overdue_after_the_deadline_and_late_verification(store: SnapshotStore, campaign: Campaign) -> None:
    snapshot = latest_grants(store, fx.ACCOUNT)
    decisions = [decision(campaign, CAROL_G1_DEV), decision(campaign, ALICE_DEV)]
    on_deadline = datetime(2026, 1, 12, 23, 0, tzinfo=UTC)
    items = by_item(
        track_remediation(
            campaign, decisions, ledger=None, snapshot=snapshot, now=on_deadline, remediation_days=7
        )
    )
    assert items[CAROL_G1_DEV].state == "pending"
    items = by_item(
        track_remediation(
            campaign,
            decisions,
            ledger=None,
            snapshot=snapshot,
            now=on_deadline + timedelta(hours=2),
            remediation_days=7,
        )
    )
    assert items[CAROL_G1_DEV].state == "overdue"
    assert items[CAROL_G1_DEV].detail.startswith("past the deadline 2026-01-12 (pending)")
    assert items[ALICE_DEV].state == "verified"  # done is never overdue

    # Removed after a 0-day deadline: verified, and the detail says it was late.
    items = by_item(
        track_remediation(
            campaign, decisions, ledger=None, snapshot=snapshot, now=fx.TIMES[2], remediation_days=0
        )
    )
    assert items[ALICE_DEV].state == "verified" and "after the deadline" in items[ALICE_DEV].detail


def test_a_snapshot_older_than_the_decision_proves_nothing(store: SnapshotStore, campaign: Campaign) -> None:
    snapshot = latest_grants(store, fx.ACCOUNT)
    assert snapshot is not None
    late_decision = [decision(campaign, ALICE_DEV, at=snapshot.synced_at + timedelta(hours=1))]
    (item,) = track_remediation(
        campaign, late_decision, ledger=None, snapshot=snapshot, now=snapshot.synced_at + timedelta(hours=2)
    )
    assert item.state == "pending"
    (item,) = track_remediation(
        campaign, late_decision, ledger=None, snapshot=None, now=snapshot.synced_at + timedelta(hours=2)
    )
    assert item.state == "pending"


def test_the_latest_decision_per_item_counts(store: SnapshotStore, campaign: Campaign) -> None:
    changed_mind = [
        decision(campaign, CAROL_G1_DEV),
        decision(campaign, CAROL_G1_DEV, "keep", at=DECIDED + timedelta(hours=1)),
    ]
    assert track_remediation(campaign, changed_mind, ledger=None, snapshot=None, now=DECIDED) == []
    back_again = [*changed_mind, decision(campaign, CAROL_G1_DEV, at=DECIDED + timedelta(hours=2))]
    (item,) = track_remediation(campaign, back_again, ledger=None, snapshot=None, now=DECIDED)
    assert item.decided_at == DECIDED + timedelta(hours=2)


def test_refusals_say_what_is_wrong(campaign: Campaign) -> None:
    stranger = dataclasses.replace(campaign.item(ALICE_DEV), item_id="role:nope:assigned:user:x@x.com")
    foreign = dataclasses.replace(decision(campaign, ALICE_DEV), item=stranger)
    with pytest.raises(ValueError, match="another campaign"):
        track_remediation(campaign, [foreign], ledger=None, snapshot=None, now=DECIDED)
    with pytest.raises(ValueError, match="time zone"):
        track_remediation(
            campaign,
            [decision(campaign, ALICE_DEV, at=datetime(2026, 1, 5, 3))],
            ledger=None,
            snapshot=None,
            now=DECIDED,
        )
    with pytest.raises(ValueError, match="no decided_at"):
        track_remediation(
            campaign, [decision(campaign, ALICE_DEV, at=None)], ledger=None, snapshot=None, now=DECIDED
        )
    with pytest.raises(ValueError, match="remediation_days"):
        track_remediation(campaign, [], ledger=None, snapshot=None, now=DECIDED, remediation_days=-1)


def test_rows_for_the_warehouse(store: SnapshotStore, campaign: Campaign) -> None:
    (item,) = track_remediation(
        campaign,
        [decision(campaign, ALICE_DEV)],
        ledger=None,
        snapshot=latest_grants(store, fx.ACCOUNT),
        now=DECIDED,
    )
    row = item.to_row()
    assert row["item_id"] == ALICE_DEV and row["grant_kind"] == "global_role" and row["state"] == "verified"
    assert item.to_dict()["deadline"] == "2026-01-19"
