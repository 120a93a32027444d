"""Hand-built snapshots shared by the warehouse and review tests, and checks of the fixture itself.

Three snapshots of one account, written with the real ``SnapshotWriter``:

- s1: alice admin + dev, bob dev, carol g1:dev, dave g1:admin + standard
- s2: bob's dev is revoked, erin gets admin
- s3: bob gets dev again (a second interval), alice loses dev

Other test files import this module by its path so they work whatever the pytest import mode.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow_provider_boomi.dataset import SnapshotStore, SnapshotWriter

ACCOUNT = "acme-Q7R2ZK"
ADMIN = "11111111-1111-1111-1111-111111111111"
DEV = "22222222-2222-2222-2222-222222222222"
STANDARD = "33333333-3333-3333-3333-333333333333"
G1 = "group-eu"
T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
SYNC_IDS = ("20260105T020000Z-aaaaa1", "20260106T020000Z-aaaaa2", "20260107T020000Z-aaaaa3")
TIMES = (T0, T0 + timedelta(days=1), T0 + timedelta(days=2))

ROLES: list[dict[str, Any]] = [
    {
        "role_id": ADMIN,
        "name": "Administrator",
        "description": "Full access",
        "parent_role_id": None,
        "owner_account_id": "1",
        "is_builtin": True,
        "privileges": ["API", "USER_MANAGEMENT"],
        "effective_privileges": ["API", "USER_MANAGEMENT"],
        "is_privileged": True,
        "is_assignable": True,
    },
    {
        "role_id": DEV,
        "name": "Developer",
        "description": None,
        "parent_role_id": None,
        "owner_account_id": ACCOUNT,
        "is_builtin": False,
        "privileges": ["BUILD"],
        "effective_privileges": ["BUILD"],
        "is_privileged": False,
        "is_assignable": True,
    },
    {
        "role_id": STANDARD,
        "name": "Standard User",
        "description": None,
        "parent_role_id": None,
        "owner_account_id": "1",
        "is_builtin": True,
        "privileges": [],
        "effective_privileges": [],
        "is_privileged": False,
        "is_assignable": True,
    },
]
ROLE_NAMES = {r["role_id"]: r["name"] for r in ROLES}
PRIVILEGED = {r["role_id"] for r in ROLES if r["is_privileged"]}
GROUPS = [
    {
        "account_group_id": G1,
        "name": "EU Accounts",
        "default_group": False,
        "auto_subscribe_alert_level": "none",
    }
]

# (user, role) global grants and (user, group, role) group grants per snapshot.
GLOBAL = (
    [("alice@x.com", ADMIN), ("alice@x.com", DEV), ("bob@x.com", DEV), ("dave@x.com", STANDARD)],
    [("alice@x.com", ADMIN), ("alice@x.com", DEV), ("dave@x.com", STANDARD), ("erin@x.com", ADMIN)],
    [("alice@x.com", ADMIN), ("bob@x.com", DEV), ("dave@x.com", STANDARD), ("erin@x.com", ADMIN)],
)
GROUP = (
    [("carol@x.com", G1, DEV), ("dave@x.com", G1, ADMIN)],
    [("carol@x.com", G1, DEV), ("dave@x.com", G1, ADMIN)],
    [("carol@x.com", G1, DEV), ("dave@x.com", G1, ADMIN)],
)


def global_grant_id(user: str, role: str) -> str:
    return f"role:{role}:assigned:user:{user}"


def group_grant_id(user: str, group: str, role: str) -> str:
    return f"account_group:{group}:{role}:user:{user}"


def _users(global_: list[tuple[str, str]], group: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    ids = sorted({u for u, _ in global_} | {u for u, _, _ in group})
    rows = []
    for user in ids:
        roles = [r for u, r in global_ if u == user]
        group_roles = [r for u, _, r in group if u == user]
        first = user.split("@")[0].capitalize()
        rows.append(
            {
                "user_id": user,
                "email": user.lower(),
                "first_name": first,
                "last_name": "Doe",
                "global_role_count": len(roles),
                "group_role_count": len(group_roles),
                "is_privileged": any(r in PRIVILEGED for r in roles + group_roles),
                "is_account_member": bool(roles),
            }
        )
    return rows


def write_snapshot(
    root: Path,
    index: int,
    *,
    global_: list[tuple[str, str]] | None = None,
    group: list[tuple[str, str, str]] | None = None,
    account: str = ACCOUNT,
    sync_id: str | None = None,
    synced_at: datetime | None = None,
) -> str:
    """Write snapshot ``index`` (0-2) of the scenario, or custom grants; returns its sync id."""
    global_ = GLOBAL[index] if global_ is None else global_
    group = GROUP[index] if group is None else group
    writer = SnapshotWriter(
        root, account, sync_id=sync_id or SYNC_IDS[index], synced_at=synced_at or TIMES[index]
    )
    writer.write_table("users", _users(global_, group))
    writer.write_table("roles", ROLES)
    writer.write_table("account_groups", GROUPS)
    writer.write_table(
        "user_role_grants",
        [
            {
                "grant_id": global_grant_id(u, r),
                "boomi_id": f"aur-{u}-{r}",
                "user_id": u,
                "role_id": r,
                "role_name": ROLE_NAMES[r],
            }
            for u, r in global_
        ],
    )
    writer.write_table(
        "group_role_grants",
        [
            {
                "grant_id": group_grant_id(u, g, r),
                "boomi_id": f"agur-{u}-{g}-{r}",
                "user_id": u,
                "account_group_id": g,
                "account_group_name": "EU Accounts",
                "role_id": r,
                "role_name": ROLE_NAMES[r],
            }
            for u, g, r in group
        ],
    )
    writer.commit(
        api_stats={},
        warnings=[],
        account_groups_available=True,
        resources=["users", "roles", "account_groups", "user_role_grants", "group_role_grants"],
    )
    return writer.sync_id


def build_store(root: Path, count: int = 3) -> SnapshotStore:
    """Write the first ``count`` snapshots of the scenario under ``root``."""
    for index in range(count):
        write_snapshot(root, index)
    return SnapshotStore(root)


def test_fixture_grant_changes_follow_the_scenario(tmp_path: Path) -> None:
    store = build_store(tmp_path)
    changes = store.read_table(ACCOUNT, SYNC_IDS[2], "grant_changes").to_pylist()
    got = sorted((c["change_type"], c["grant_id"]) for c in changes)
    assert got == [
        ("added", global_grant_id("bob@x.com", DEV)),
        ("removed", global_grant_id("alice@x.com", DEV)),
    ]
    assert all(c["previous_sync_id"] == SYNC_IDS[1] for c in changes)
