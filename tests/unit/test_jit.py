"""Just-in-time grants in the ledger: the reason format, and which grants are overdue.

The ledgers here are real: Parquet part files written by ``LedgerWriter`` and read back by
``read_ledger``, as the catch-up DAG reads them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_boomi.access.changes import (
    ADD_GROUP_ROLE,
    ALREADY_SATISFIED,
    APPLIED,
    ASSIGN_ROLE,
    FAILED,
    REMOVE_GROUP_ROLE,
    REVOKE_ROLE,
    USER_NOT_FOUND,
    ChangeResult,
    changes_from_records,
)
from airflow_provider_boomi.access.jit import (
    jit_reason,
    overdue_jit_grants,
    parse_jit_reason,
    unreadable_jit_reasons,
)
from airflow_provider_boomi.access.ledger import LedgerWriter, RunContext, new_action_id, read_ledger

ACCOUNT = "acme-Q7R2ZK"
AUDITOR = "de31d765-7039-4949-a3f4-5724dc800bbf"
GROUP = "2b1a0c8e-5f7d-4a39-9c61-0e4d2f8b7a15"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PAST = NOW - timedelta(minutes=5)
FUTURE = NOW + timedelta(minutes=5)


# --- the reason ---------------------------------------------------------------------------------------


def test_reason_round_trips_in_utc_to_the_second() -> None:
    cet = timezone(timedelta(hours=1))
    reason = jit_reason(datetime(2026, 11, 30, 11, 0, 0, 123456, tzinfo=cet), "  INC-4711: look at prod  ")
    assert reason == "JIT until 2026-11-30T10:00:00+00:00: INC-4711: look at prod"
    parsed = parse_jit_reason(reason)
    assert parsed is not None
    assert parsed.expires_at == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert parsed.justification == "INC-4711: look at prod"


def test_a_justification_cannot_move_the_expiry() -> None:
    forged = "x: JIT until 2099-01-01T00:00:00+00:00: forever\nJIT until 2099-01-01T00:00:00+00:00: y"
    parsed = parse_jit_reason(jit_reason(PAST, forged))
    assert parsed is not None and parsed.expires_at == PAST and parsed.justification == forged


@pytest.mark.parametrize("reason", [None, "", "onboarding", "JIT: INC-42 (30 min)", "jit until later: x"])
def test_other_reasons_are_not_jit(reason: str | None) -> None:
    assert parse_jit_reason(reason) is None


@pytest.mark.parametrize(
    ("reason", "problem"),
    [
        ("JIT until tomorrow: x", "not an ISO 8601 time"),
        ("JIT until 2026-11-30T10:00:00: x", "no UTC offset"),
        ("JIT until 2026-11-30T10:00:00+00:00", "expected 'JIT until"),
    ],
)
def test_a_broken_jit_reason_says_what_form_is_expected(reason: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        parse_jit_reason(reason)
    assert "JIT until <ISO 8601 time with UTC offset>: <justification>" in str(caught.value)


def test_writing_a_reason_needs_an_aware_time_and_a_justification() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        jit_reason(datetime(2026, 11, 30, 10, 0), "x")
    with pytest.raises(ValueError, match="justification"):
        jit_reason(PAST, "   ")


# --- overdue grants from a real ledger ----------------------------------------------------------------


def _result(action: str, outcome: str, *, user: str = "rosa@acme.example", **fields: Any) -> ChangeResult:
    values: dict[str, Any] = {
        "action_id": new_action_id(),
        "action": action,
        "user_id": user,
        "role_id": AUDITOR,
        "role_name": "Auditor",
        "account_group_id": None,
        "account_group_name": None,
        "dry_run": False,
        "state_before": None,
        "outcome": outcome,
        "reason": None,
    }
    if action in (ADD_GROUP_ROLE, REMOVE_GROUP_ROLE):
        values.update(account_group_id=GROUP, account_group_name="EMEA Customers")
    values.update(fields)
    return ChangeResult(**values)


class Ledger:
    """Writes rows, one part file each, in the order given (as successive runs would)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def write(self, *results: ChangeResult, run_id: str = "run-1", approved_by: str | None = None) -> None:
        context = RunContext(
            account_id=ACCOUNT,
            dag_id="boomi_jit_access",
            run_id=run_id,
            task_id="grant",
            approved_by=approved_by,
            approved_at=NOW if approved_by else None,
        )
        for result in results:
            with LedgerWriter(self.path, context=context) as writer:
                writer.record(result)
            time.sleep(0.002)  # recorded_at orders the rows; keep it strictly increasing

    def overdue(self, now: datetime = NOW) -> list[Any]:
        return overdue_jit_grants(read_ledger(self.path), now)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "ledger")


def test_an_applied_jit_grant_past_its_expiry_without_revoke_is_overdue(ledger: Ledger) -> None:
    ledger.write(
        _result(ASSIGN_ROLE, APPLIED, reason=jit_reason(PAST, "INC-1")), run_id="r1", approved_by="bob"
    )
    (grant,) = ledger.overdue()
    assert (grant.account_id, grant.user_id, grant.role_id, grant.account_group_id) == (
        ACCOUNT,
        "rosa@acme.example",
        AUDITOR,
        None,
    )
    assert (grant.expires_at, grant.justification, grant.run_id, grant.approved_by) == (
        PAST,
        "INC-1",
        "r1",
        "bob",
    )
    assert grant.revoke_action == REVOKE_ROLE
    assert "rosa@acme.example: Auditor, expired 2026-11-30T11:55:00+00:00" in grant.describe()
    # The revoke is a change record the provisioning operators take, by id.
    (change,) = changes_from_records([grant.revoke_change("catch-up")])
    assert (change.action, change.user_id, change.role, change.role_is_id, change.reason) == (
        REVOKE_ROLE,
        "rosa@acme.example",
        AUDITOR,
        True,
        "catch-up",
    )
    assert grant.summary()["expires_at"] == PAST.isoformat()


def test_not_yet_expired_is_not_overdue_until_it_is(ledger: Ledger) -> None:
    ledger.write(_result(ASSIGN_ROLE, APPLIED, reason=jit_reason(FUTURE, "INC-2")))
    assert ledger.overdue() == []
    assert len(ledger.overdue(FUTURE)) == 1, "due at the expiry itself"


@pytest.mark.parametrize("outcome", [APPLIED, ALREADY_SATISFIED, USER_NOT_FOUND])
def test_a_later_revoke_that_took_effect_closes_the_grant(ledger: Ledger, outcome: str) -> None:
    ledger.write(
        _result(ADD_GROUP_ROLE, APPLIED, reason=jit_reason(PAST, "INC-3")),
        # Another spelling of the same email: Boomi matches user ids without regard to case.
        _result(REMOVE_GROUP_ROLE, outcome, user="Rosa@ACME.example"),
    )
    assert ledger.overdue() == []


@pytest.mark.parametrize("revoke_outcome", [FAILED, "refused", "planned"])
def test_a_revoke_that_did_not_take_effect_leaves_it_overdue(ledger: Ledger, revoke_outcome: str) -> None:
    ledger.write(
        _result(ADD_GROUP_ROLE, APPLIED, reason=jit_reason(PAST, "INC-4")),
        _result(REMOVE_GROUP_ROLE, revoke_outcome, error="Boomi unavailable"),
    )
    (grant,) = ledger.overdue()
    assert (grant.action, grant.revoke_action, grant.account_group_name) == (
        ADD_GROUP_ROLE,
        REMOVE_GROUP_ROLE,
        "EMEA Customers",
    )
    assert grant.revoke_change("x")["account_group_id"] == GROUP


def test_a_revoke_of_another_grant_does_not_close_it(ledger: Ledger) -> None:
    ledger.write(
        _result(ASSIGN_ROLE, APPLIED, reason=jit_reason(PAST, "INC-5")),
        _result(REVOKE_ROLE, APPLIED, user="someone.else@acme.example"),
        _result(REVOKE_ROLE, APPLIED, role_id="0f3c7a4e-1b2d-4e5f-8a9b-6c7d8e9f0a1b"),
        _result(REMOVE_GROUP_ROLE, APPLIED),  # the same role, but within a group
        # A dry run never closes a grant, whatever outcome it claims.
        _result(REVOKE_ROLE, APPLIED, dry_run=True),
    )
    assert len(ledger.overdue()) == 1


def test_a_revoke_recorded_before_the_grant_does_not_close_it(ledger: Ledger) -> None:
    ledger.write(
        _result(REVOKE_ROLE, APPLIED),
        _result(ASSIGN_ROLE, APPLIED, reason=jit_reason(PAST, "INC-6")),
    )
    assert len(ledger.overdue()) == 1


def test_grants_that_were_not_made_by_jit_or_did_not_apply_are_not_overdue(ledger: Ledger) -> None:
    ledger.write(
        _result(ASSIGN_ROLE, APPLIED, reason="onboarding"),
        _result(
            ASSIGN_ROLE, ALREADY_SATISFIED, reason=jit_reason(PAST, "held before"), user="a@acme.example"
        ),
        _result(ASSIGN_ROLE, FAILED, reason=jit_reason(PAST, "never granted"), user="b@acme.example"),
        _result(ASSIGN_ROLE, "planned", reason=jit_reason(PAST, "dry"), user="c@acme.example", dry_run=True),
    )
    assert ledger.overdue() == []


def test_a_later_permanent_grant_keeps_the_access(ledger: Ledger) -> None:
    ledger.write(
        _result(ASSIGN_ROLE, APPLIED, reason=jit_reason(PAST, "INC-7")),
        _result(ASSIGN_ROLE, ALREADY_SATISFIED, reason="made permanent after review"),
    )
    assert ledger.overdue() == []


def test_asking_again_while_held_moves_the_expiry_later(ledger: Ledger) -> None:
    ledger.write(
        _result(ASSIGN_ROLE, APPLIED, reason=jit_reason(PAST, "INC-8")),
        _result(ASSIGN_ROLE, ALREADY_SATISFIED, reason=jit_reason(FUTURE, "INC-8 extended")),
    )
    assert ledger.overdue() == []
    (grant,) = ledger.overdue(FUTURE + timedelta(seconds=1))
    assert grant.expires_at == FUTURE and grant.justification == "INC-8 extended"


def test_a_second_grant_after_a_revoke_is_judged_on_its_own(ledger: Ledger) -> None:
    ledger.write(
        _result(ASSIGN_ROLE, APPLIED, reason=jit_reason(PAST - timedelta(hours=1), "first")),
        _result(REVOKE_ROLE, APPLIED),
    )
    ledger.write(_result(ASSIGN_ROLE, APPLIED, reason=jit_reason(PAST, "second")), run_id="r2")
    (grant,) = ledger.overdue()
    assert (grant.justification, grant.run_id) == ("second", "r2")


def test_several_overdue_grants_come_longest_overdue_first(ledger: Ledger) -> None:
    ledger.write(
        _result(ASSIGN_ROLE, APPLIED, reason=jit_reason(PAST, "later"), user="a@acme.example"),
        _result(
            ASSIGN_ROLE,
            APPLIED,
            reason=jit_reason(PAST - timedelta(hours=2), "earlier"),
            user="b@acme.example",
        ),
    )
    assert [g.user_id for g in ledger.overdue()] == ["b@acme.example", "a@acme.example"]


def test_an_unreadable_jit_reason_is_reported_not_fatal(ledger: Ledger) -> None:
    ledger.write(
        _result(ASSIGN_ROLE, APPLIED, reason="JIT until next week: typed by hand", user="x@acme.example"),
        _result(ASSIGN_ROLE, APPLIED, reason=jit_reason(PAST, "INC-9")),
    )
    frame = read_ledger(ledger.path)
    assert [g.justification for g in overdue_jit_grants(frame, NOW)] == ["INC-9"]
    (bad,) = unreadable_jit_reasons(frame)
    assert (bad.user_id, bad.reason) == ("x@acme.example", "JIT until next week: typed by hand")
    assert "cannot be read" in bad.error


def test_an_empty_or_missing_ledger_has_nothing_overdue(tmp_path: Path) -> None:
    frame = read_ledger(str(tmp_path / "nothing-here"))
    assert overdue_jit_grants(frame, NOW) == [] and unreadable_jit_reasons(frame) == []


def test_now_must_be_aware(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        overdue_jit_grants(read_ledger(ledger.path), datetime(2026, 11, 30, 12, 0))
