"""The mapping from Boomi rows to snapshot rows, and the split plan: no threads, no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_boomi.access.roles import RoleInfo
from airflow_provider_boomi.access.sync import balanced_shares, split_plan
from airflow_provider_boomi.access.sync_rows import (
    AuditWindow,
    GovernanceRows,
    RowMapper,
    SyncConsistencyError,
    account_group_row,
    as_bool,
    describe,
    missing_fields,
    parse_boomi_time,
)
from airflow_provider_boomi.dataset.grant_ids import grant_id, group_entitlement_id, role_entitlement_id


def role(role_id: str, name: str, privileged: bool | None) -> RoleInfo:
    return RoleInfo(
        role_id=role_id,
        name=name,
        description=None,
        parent_role_id=None,
        owner_account_id=None,
        privileges=(),
        effective_privileges=() if privileged is not None else None,
        is_builtin=False,
        is_privileged=privileged,
        is_assignable=True,
    )


ADMIN = role("r-admin", "Administrator", True)
VIEWER = role("r-view", "Viewer", False)
ODD = role("r-odd", "Odd", None)


def user_row(
    boomi_id: str, user: str = "Ann@x.example", role_id: str = "r-view", **extra: str
) -> dict[str, str]:
    return {"id": boomi_id, "userId": user, "roleId": role_id, "accountId": "acct", **extra}


def test_user_role_row() -> None:
    mapper = RowMapper()
    row = mapper.grant("user_roles", user_row("b1", firstName="Ann"), VIEWER)
    assert row == {
        "grant_id": grant_id(role_entitlement_id("r-view"), "Ann@x.example"),
        "boomi_id": "b1",
        "user_id": "Ann@x.example",
        "role_id": "r-view",
        "role_name": "Viewer",
    }
    (user,) = mapper.user_rows()
    assert user == {
        "user_id": "Ann@x.example",
        "email": "ann@x.example",
        "first_name": "Ann",
        "last_name": None,
        "global_role_count": 1,
        "group_role_count": 0,
        "is_privileged": False,
        "is_account_member": True,
    }


def test_group_role_row_names_its_group_and_counts_unknown_groups() -> None:
    mapper = RowMapper()
    raw = {"id": "g1", "userId": "bob@x.example", "roleId": "r-admin", "accountGroupId": "grp"}
    row = mapper.grant("group_roles", raw, ADMIN, group_id="grp", group={"id": "grp", "name": "Team"})
    assert row is not None
    assert row["grant_id"] == grant_id(group_entitlement_id("grp", "r-admin"), "bob@x.example")
    assert row["account_group_name"] == "Team" and row["role_name"] == "Administrator"
    # A row without accountGroupId belongs to its chain's group; a group never read is counted.
    raw2 = {"id": "g2", "userId": "bob@x.example", "roleId": "r-view"}
    row2 = mapper.grant("group_roles", raw2, VIEWER, group_id="gone", group=None)
    assert row2 is not None and row2["account_group_id"] == "gone" and row2["account_group_name"] is None
    assert mapper.unknown_groups == {"gone": 1}
    (user,) = mapper.user_rows()
    assert user["group_role_count"] == 2 and user["is_privileged"] is True
    assert user["is_account_member"] is False  # group roles only


def test_same_boomi_id_is_written_once() -> None:
    mapper = RowMapper()
    assert mapper.grant("user_roles", user_row("b1"), VIEWER) is not None
    assert mapper.grant("user_roles", user_row("b1"), VIEWER) is None
    assert mapper.seen("user_roles", "b1") and not mapper.seen("group_roles", "b1")
    assert mapper.duplicates == {"user_roles": 1}
    (user,) = mapper.user_rows()
    assert user["global_role_count"] == 1  # the duplicate is not counted


def test_two_boomi_rows_for_one_grant_fail() -> None:
    mapper = RowMapper()
    mapper.grant("user_roles", user_row("b1"), VIEWER)
    with pytest.raises(SyncConsistencyError, match="same grant"):
        mapper.grant("user_roles", user_row("b2"), VIEWER)


def test_privilege_unknown_makes_a_user_possibly_privileged() -> None:
    mapper = RowMapper()
    mapper.grant("user_roles", user_row("b1", role_id="r-odd"), ODD)
    mapper.grant("user_roles", user_row("b2", user="cy@x.example"), None)  # role not in the catalog
    mapper.grant("user_roles", user_row("b3", user="dee@x.example", role_id="r-admin"), ADMIN)
    mapper.grant("user_roles", user_row("b4", user="dee@x.example", role_id="r-odd"), ODD)
    flags = {u["user_id"]: u["is_privileged"] for u in mapper.user_rows()}
    assert flags == {"Ann@x.example": None, "cy@x.example": None, "dee@x.example": True}


def test_user_names_fill_in_from_later_rows_and_case_collisions_are_listed() -> None:
    mapper = RowMapper()
    mapper.grant("user_roles", user_row("b1"), VIEWER)
    mapper.grant("user_roles", user_row("b2", role_id="r-admin", firstName="Ann", lastName="Lee"), ADMIN)
    mapper.grant("user_roles", user_row("b3", user="ann@x.example"), VIEWER)
    users = {u["user_id"]: u for u in mapper.user_rows()}
    assert users["Ann@x.example"]["first_name"] == "Ann" and users["Ann@x.example"]["last_name"] == "Lee"
    assert mapper.case_collisions() == [["Ann@x.example", "ann@x.example"]]


def test_small_helpers() -> None:
    assert as_bool(None) is None and as_bool(True) is True and as_bool(" TRUE ") is True
    assert as_bool("false") is False
    assert missing_fields({"id": "1", "userId": "u"}) and not missing_fields(user_row("1"))
    assert describe({"id": "1", "userId": "u", "firstName": "secret"}) == "id='1', userId='u'"
    assert account_group_row({"id": 7, "name": "G", "defaultGroup": "true"}) == {
        "account_group_id": "7",
        "name": "G",
        "default_group": True,
        "auto_subscribe_alert_level": None,
    }


# ---- the split plan ---------------------------------------------------------------------------


def test_balanced_shares_put_a_heavy_role_alone_and_cover_every_role() -> None:
    weights = {
        "su": 5000.0,
        "dev": 2000.0,
        "view": 1500.0,
        "ops": 400.0,
        **{f"t{i}": 10.0 for i in range(20)},
    }
    shares = balanced_shares(weights, 3)
    assert sorted(r for share in shares for r in share) == sorted(weights)
    assert ["su"] in shares
    loads = sorted(sum(weights[r] for r in share) for share in shares)
    assert loads[-1] == 5000.0 and loads[0] >= 1600.0  # the rest spread over the other two


def test_balanced_shares_never_more_shares_than_roles() -> None:
    assert balanced_shares({"a": 1.0}, 8) == [["a"]]
    assert balanced_shares({}, 8) == []


def test_split_plan_from_counts_uses_only_the_chains_that_help() -> None:
    roles = ["su", "dev", "view", "t1", "new"]  # "new": not in the previous snapshot
    shares, expected = split_plan(roles, {"su": 5000, "dev": 2000, "view": 1500, "t1": 20}, from_counts=True)
    assert len(shares) == 3  # ceil(1.5 x 8520 / 5000): more would not shorten the "su" chain
    assert ["su"] in shares and sorted(r for s in shares for r in s) == sorted(roles)
    assert max(expected) == pytest.approx(50.005)


def test_split_plan_from_counts_splits_an_even_account_eight_ways() -> None:
    roles = [f"r{i}" for i in range(60)]
    shares, expected = split_plan(roles, dict.fromkeys(roles, 400), from_counts=True)
    assert len(shares) == 8
    assert max(expected) - min(expected) <= 4.01  # balanced to within one role


def test_split_plan_from_a_sample_keeps_eight_chains_and_starts_the_largest_share_first() -> None:
    roles = [f"r{i}" for i in range(30)]
    sample = {"r0": 160, "r1": 60, "r2": 50, "r3": 30}
    shares, expected = split_plan(roles, sample, from_counts=False)
    assert len(shares) == 8
    largest = shares[expected.index(max(expected))]
    assert largest == ["r0"]


def test_a_chain_s_pages_left_come_from_the_plan_then_from_what_it_has_read() -> None:
    from airflow_provider_boomi.access.sync import _Chain

    planned = _Chain("group_roles", "AccountGroupUserRole", None, expected_pages=25.0)
    assert planned.pages_left() == 25.0
    planned.pages_read = 20
    assert planned.pages_left() == 5.0
    planned.pages_read = 30  # longer than planned: as long again as it has gone on
    assert planned.pages_left() == 30.0
    unknown = _Chain("group_roles", "AccountGroupUserRole", None)
    assert unknown.pages_left() == 1.0
    unknown.pages_read = 7
    assert unknown.pages_left() == 7.0


# ---- the governance resources -------------------------------------------------------------


def test_boomi_times_are_read_in_utc_or_not_at_all() -> None:
    assert parse_boomi_time("2019-08-26T16:27:19Z") == datetime(2019, 8, 26, 16, 27, 19, tzinfo=UTC)
    assert parse_boomi_time("2019-08-26T18:27:19.500+02:00") == datetime(
        2019, 8, 26, 16, 27, 19, 500000, tzinfo=UTC
    )
    for unreadable in (None, "", "yesterday", "2019-08-26T16:27:19", 17):
        assert parse_boomi_time(unreadable) is None


def test_login_rows_take_the_latest_login_and_list_everyone_looked_for() -> None:
    rows = GovernanceRows()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for user, day in (("a@x.com", 3), ("a@x.com", 9), ("a@x.com", 5), ("b@x.com", 2)):
        rows.add_login({"userId": user}, start + timedelta(days=day))
    logins, left_out = rows.login_rows(["a@x.com", "c@x.com"], start)
    assert left_out == []
    assert logins == [
        {"user_id": "a@x.com", "last_login_at": start + timedelta(days=9), "window_start": start},
        {"user_id": "b@x.com", "last_login_at": start + timedelta(days=2), "window_start": start},
        {"user_id": "c@x.com", "last_login_at": None, "window_start": start},
    ]
    assert rows.login_events == 4


def test_a_user_spelt_otherwise_in_the_log_is_unknown_not_dormant() -> None:
    rows = GovernanceRows()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows.add_login({"userId": "dana@x.com"}, start)
    logins, left_out = rows.login_rows(["Dana@x.com", "eve@x.com"], start)
    assert left_out == ["Dana@x.com", "dana@x.com"]
    assert [r["user_id"] for r in logins] == ["eve@x.com"]


def test_records_that_cannot_be_attributed_fail_loudly() -> None:
    rows = GovernanceRows()
    with pytest.raises(SyncConsistencyError, match="names no userId"):
        rows.add_login({"date": "2026-01-01T00:00:00Z"}, datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(SyncConsistencyError, match="no userId"):
        rows.add_federation({"federationId": "fed-1", "id": "x"})
    assert rows.add_federation({"userId": "a@x.com", "id": "y"}) is not None  # a warning, no row
    assert rows.federation == {}


def test_access_changes_keep_boomis_fields_verbatim() -> None:
    rows = GovernanceRows()
    at = datetime(2026, 1, 2, tzinfo=UTC)
    props = [{"name": "SOMETHING", "value": "v", "previousValue": "p"}]
    rows.add_change(
        {
            "documentId": "d1",
            "userId": "admin@x.com",
            "type": "user",
            "action": "ADD",
            "AuditLogProperty": props,
        },
        at,
    )
    rows.add_change({"documentId": "d1", "userId": "admin@x.com", "type": "user", "action": "ADD"}, at)
    (row,) = rows.changes.values()
    assert row["actor_user_id"] == "admin@x.com" and row["message"] is None
    assert row["properties"] is None  # the later copy of the same record wins, whole


def test_audit_window_bounds_are_inclusive() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    window = AuditWindow(start, start + timedelta(days=90), {"type": "account"}, ("user",))
    assert window.contains(start) and window.contains(start + timedelta(days=90))
    assert not window.contains(start - timedelta(seconds=1))
    assert window.describe()["window_days"] == 90


def test_sub_accounts_leave_out_the_account_itself_and_read_dates_in_utc() -> None:
    rows = GovernanceRows()
    own = "acme-Q7R2ZK"
    assert rows.add_sub_account({"accountId": own, "name": "Acme"}, own) is None
    assert rows.own_account_listed and rows.sub_accounts == {}
    sub = {
        "accountId": f"{own}-sub1",
        "name": "EMEA",
        "status": "trial",
        "dateCreated": "2022-09-02T20:16:28Z",
        "expirationDate": "2027-01-31T00:00:00+01:00",
    }
    assert rows.add_sub_account(sub, own) is None
    assert rows.add_sub_account(sub, own) is None  # read again after a restart: one row
    assert rows.sub_accounts == {
        f"{own}-sub1": {
            "sub_account_id": f"{own}-sub1",
            "name": "EMEA",
            "status": "trial",
            "date_created": datetime(2022, 9, 2, 20, 16, 28, tzinfo=UTC),
            "expiration_date": datetime(2027, 1, 30, 23, 0, tzinfo=UTC),
        }
    }
    warning = rows.add_sub_account({"accountId": "other-ABCDEF", "dateCreated": "02/09/2022"}, own)
    assert warning is not None and "dateCreated '02/09/2022'" in warning and "written as null" in warning
    assert rows.sub_accounts["other-ABCDEF"]["date_created"] is None
