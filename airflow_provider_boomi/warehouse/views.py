"""Analytics views over every snapshot loaded into a warehouse.

The SQL is written once for DuckDB and PostgreSQL: window functions, ``STRING_AGG``,
``COALESCE`` and ``||`` only. The one dialect switch is the aggregate that joins strings (MySQL
and SQLite spell it ``GROUP_CONCAT``), so other common-sql databases have a fair chance too.

"Latest snapshot" means the newest loaded snapshot of an account (by ``synced_at``, then
``sync_id``) that includes both grant tables: a partial sync (``resources=[...]``) without the
grants must not make every grant look revoked. The views over the optional governance tables
(where account groups and roles reach) take, in the same way, the newest snapshot that includes
the tables each needs, and say which (``sync_id``, ``synced_at``): a default sync without them
must not make every group look as if it covered nothing. The warehouse creates every table, so
these views return no rows, and never fail, while no snapshot with those tables is loaded.
"""

from __future__ import annotations

from collections.abc import Callable

from .schema import ensure_tables
from .targets import Session, WarehouseTarget

__all__ = ["VIEWS", "create_views", "view_sql"]


def _string_agg(dialect: str) -> Callable[[str, str], str]:
    def agg(expr: str, sep: str) -> str:
        if dialect in ("mysql", "mariadb"):
            return f"GROUP_CONCAT(DISTINCT {expr} ORDER BY {expr} SEPARATOR '{sep}')"
        if dialect == "sqlite":
            return f"GROUP_CONCAT(DISTINCT {expr})"
        return f"STRING_AGG(DISTINCT {expr}, '{sep}' ORDER BY {expr})"

    return agg


_GRANT_SNAPSHOTS = """
    SELECT account_id, sync_id, synced_at,
           ROW_NUMBER() OVER (PARTITION BY account_id ORDER BY synced_at, sync_id) AS snapshot_no,
           ROW_NUMBER() OVER (PARTITION BY account_id ORDER BY synced_at DESC, sync_id DESC) AS recency
    FROM {s}boomi_snapshots
    WHERE user_role_grants_rows IS NOT NULL AND group_role_grants_rows IS NOT NULL"""


def _latest_with(s: str, *tables: str) -> str:
    """The newest loaded snapshot of each account that includes every one of ``tables`` (a null
    ``<table>_rows`` means the table is not in the snapshot; zero rows is a table that is)."""
    included = " AND ".join(f"{table}_rows IS NOT NULL" for table in tables)
    return f"""
    SELECT account_id, sync_id, synced_at, sub_accounts_rows
    FROM (SELECT account_id, sync_id, synced_at, sub_accounts_rows,
                 ROW_NUMBER() OVER (PARTITION BY account_id ORDER BY synced_at DESC, sync_id DESC) AS recency
          FROM {s}boomi_snapshots
          WHERE {included}) newest
    WHERE recency = 1"""


def _covered_account_columns(covered: str, account: str) -> str:
    """What a view says of a covered account: whether it is the synced account itself, and its
    name and status when the snapshot's sub-accounts list it (``is_sub_account`` null: the
    snapshot did not read the sub-accounts, so whether it is one is unknown)."""
    return f"""CASE WHEN {covered} = {account} THEN TRUE ELSE FALSE END AS is_own_account,
       sa.name AS covered_account_name, sa.status AS covered_account_status,
       CASE WHEN sa.sub_account_id IS NOT NULL THEN TRUE
            WHEN l.sub_accounts_rows IS NULL THEN NULL
            ELSE FALSE END AS is_sub_account"""


def _views(s: str, dialect: str) -> dict[str, str]:
    text = _cast_text(dialect)
    agg = _string_agg(dialect)
    count = _count_cast(dialect)
    possibly_privileged = "SUM(CASE WHEN is_privileged IS NULL OR is_privileged THEN 1 ELSE 0 END)"
    snaps = _GRANT_SNAPSHOTS.format(s=s)
    label = (
        "CASE WHEN grant_kind = 'group_role' "
        "THEN COALESCE(account_group_name, account_group_id) || ': ' || COALESCE(role_name, role_id) "
        "ELSE COALESCE(role_name, role_id) END"
    )
    return {
        # Both grant tables of every loaded snapshot, one shape.
        "boomi_grants": f"""
SELECT account_id, sync_id, synced_at, grant_id, 'global_role' AS grant_kind, boomi_id, user_id,
       role_id, role_name, CAST(NULL AS {text}) AS account_group_id,
       CAST(NULL AS {text}) AS account_group_name
FROM {s}boomi_user_role_grants
UNION ALL
SELECT account_id, sync_id, synced_at, grant_id, 'group_role' AS grant_kind, boomi_id, user_id,
       role_id, role_name, account_group_id, account_group_name
FROM {s}boomi_group_role_grants""",
        "boomi_current_access": f"""
WITH snaps AS ({snaps}
)
SELECT g.account_id, g.sync_id, g.synced_at, g.grant_id, g.grant_kind, g.boomi_id, g.user_id,
       u.email, u.first_name, u.last_name,
       g.role_id, COALESCE(g.role_name, r.name) AS role_name,
       g.account_group_id, COALESCE(g.account_group_name, ag.name) AS account_group_name,
       r.is_privileged AS is_privileged,
       u.is_privileged AS user_is_privileged,
       u.is_account_member AS user_has_global_role
FROM {s}boomi_grants g
JOIN snaps l ON l.account_id = g.account_id AND l.sync_id = g.sync_id AND l.recency = 1
LEFT JOIN {s}boomi_users u
       ON u.account_id = g.account_id AND u.sync_id = g.sync_id AND u.user_id = g.user_id
LEFT JOIN {s}boomi_roles r
       ON r.account_id = g.account_id AND r.sync_id = g.sync_id AND r.role_id = g.role_id
LEFT JOIN {s}boomi_account_groups ag
       ON ag.account_id = g.account_id AND ag.sync_id = g.sync_id
      AND ag.account_group_id = g.account_group_id""",
        # Gaps and islands: within one grant, snapshot_no minus the grant's own row number is
        # constant over a run of consecutive snapshots and jumps at every gap.
        "boomi_grant_history": f"""
WITH snaps AS ({snaps}
),
held AS (
    SELECT g.account_id, g.grant_id, g.grant_kind, g.user_id, g.role_id, g.role_name,
           g.account_group_id, g.account_group_name, s.snapshot_no,
           s.snapshot_no - ROW_NUMBER() OVER (
               PARTITION BY g.account_id, g.grant_id ORDER BY s.snapshot_no) AS run
    FROM {s}boomi_grants g
    JOIN snaps s ON s.account_id = g.account_id AND s.sync_id = g.sync_id
),
runs AS (
    SELECT account_id, grant_id, run, MIN(snapshot_no) AS first_no, MAX(snapshot_no) AS last_no,
           {count("COUNT(*)")} AS snapshots_held
    FROM held
    GROUP BY account_id, grant_id, run
)
SELECT r.account_id, r.grant_id, h.grant_kind, h.user_id, h.role_id, h.role_name,
       h.account_group_id, h.account_group_name,
       ROW_NUMBER() OVER (PARTITION BY r.account_id, r.grant_id ORDER BY r.first_no) AS interval_no,
       sf.sync_id AS held_from_sync_id, sf.synced_at AS held_from,
       sl.sync_id AS last_held_sync_id, sl.synced_at AS last_held_at,
       sn.sync_id AS held_until_sync_id, sn.synced_at AS held_until,
       r.snapshots_held,
       CASE WHEN sn.sync_id IS NULL THEN TRUE ELSE FALSE END AS is_current,
       FIRST_VALUE(sf.sync_id) OVER (
           PARTITION BY r.account_id, r.grant_id ORDER BY r.first_no) AS first_seen_sync_id,
       MIN(sf.synced_at) OVER (PARTITION BY r.account_id, r.grant_id) AS first_seen_at,
       FIRST_VALUE(sl.sync_id) OVER (
           PARTITION BY r.account_id, r.grant_id ORDER BY r.last_no DESC) AS last_seen_sync_id,
       MAX(sl.synced_at) OVER (PARTITION BY r.account_id, r.grant_id) AS last_seen_at
FROM runs r
JOIN held h ON h.account_id = r.account_id AND h.grant_id = r.grant_id AND h.snapshot_no = r.last_no
JOIN snaps sf ON sf.account_id = r.account_id AND sf.snapshot_no = r.first_no
JOIN snaps sl ON sl.account_id = r.account_id AND sl.snapshot_no = r.last_no
LEFT JOIN snaps sn ON sn.account_id = r.account_id AND sn.snapshot_no = r.last_no + 1""",
        # Names come from the snapshot of the change, or the previous one for what was removed
        # together with its user, role or group.
        "boomi_access_changes": f"""
SELECT c.account_id, c.sync_id, c.synced_at, c.previous_sync_id, p.synced_at AS previous_synced_at,
       c.change_type, c.grant_kind, c.grant_id, c.user_id,
       COALESCE(u.email, pu.email) AS email,
       COALESCE(u.first_name, pu.first_name) AS first_name,
       COALESCE(u.last_name, pu.last_name) AS last_name,
       c.role_id, COALESCE(r.name, pr.name) AS role_name,
       c.account_group_id, COALESCE(ag.name, pag.name) AS account_group_name,
       COALESCE(r.is_privileged, pr.is_privileged) AS is_privileged
FROM {s}boomi_grant_changes c
LEFT JOIN {s}boomi_snapshots p ON p.account_id = c.account_id AND p.sync_id = c.previous_sync_id
LEFT JOIN {s}boomi_users u
       ON u.account_id = c.account_id AND u.sync_id = c.sync_id AND u.user_id = c.user_id
LEFT JOIN {s}boomi_users pu
       ON pu.account_id = c.account_id AND pu.sync_id = c.previous_sync_id AND pu.user_id = c.user_id
LEFT JOIN {s}boomi_roles r
       ON r.account_id = c.account_id AND r.sync_id = c.sync_id AND r.role_id = c.role_id
LEFT JOIN {s}boomi_roles pr
       ON pr.account_id = c.account_id AND pr.sync_id = c.previous_sync_id AND pr.role_id = c.role_id
LEFT JOIN {s}boomi_account_groups ag
       ON ag.account_id = c.account_id AND ag.sync_id = c.sync_id
      AND ag.account_group_id = c.account_group_id
LEFT JOIN {s}boomi_account_groups pag
       ON pag.account_id = c.account_id AND pag.sync_id = c.previous_sync_id
      AND pag.account_group_id = c.account_group_id
WHERE c.previous_sync_id IS NOT NULL""",
        "boomi_privileged_users": f"""
SELECT account_id, sync_id, synced_at, user_id, email, first_name, last_name,
       {count("COUNT(*)")} AS privileged_grant_count,
       {count("SUM(CASE WHEN grant_kind = 'global_role' THEN 1 ELSE 0 END)")} AS global_privileged_grants,
       {count("SUM(CASE WHEN grant_kind = 'group_role' THEN 1 ELSE 0 END)")} AS group_privileged_grants,
       {count("SUM(CASE WHEN is_privileged IS NULL THEN 1 ELSE 0 END)")} AS unknown_privilege_grants,
       {agg("label", "; ")} AS privileged_roles
FROM (SELECT a.*, {label} AS label FROM {s}boomi_current_access a
      WHERE a.is_privileged IS NULL OR a.is_privileged) p
GROUP BY account_id, sync_id, synced_at, user_id, email, first_name, last_name""",
        "boomi_group_only_users": f"""
SELECT account_id, sync_id, synced_at, user_id, email, first_name, last_name,
       {count("COUNT(*)")} AS group_grant_count,
       {count(possibly_privileged)} AS privileged_grant_count,
       {agg("group_label", ", ")} AS account_groups,
       {agg("label", "; ")} AS group_roles
FROM (SELECT a.*, {label} AS label, COALESCE(account_group_name, account_group_id) AS group_label
      FROM {s}boomi_current_access a) c
GROUP BY account_id, sync_id, synced_at, user_id, email, first_name, last_name
HAVING SUM(CASE WHEN grant_kind = 'global_role' THEN 1 ELSE 0 END) = 0""",
        # Which accounts each account group covers (where its group roles apply), from the newest
        # snapshot with the coverage. A group covering nothing has no row.
        "boomi_group_reach": f"""
WITH l AS ({_latest_with(s, "account_group_accounts")}
)
SELECT c.account_id, c.sync_id, c.synced_at, c.account_group_id, ag.name AS account_group_name,
       c.covered_account_id,
       {_covered_account_columns("c.covered_account_id", "c.account_id")}
FROM {s}boomi_account_group_accounts c
JOIN l ON l.account_id = c.account_id AND l.sync_id = c.sync_id
LEFT JOIN {s}boomi_account_groups ag
       ON ag.account_id = c.account_id AND ag.sync_id = c.sync_id
      AND ag.account_group_id = c.account_group_id
LEFT JOIN {s}boomi_sub_accounts sa
       ON sa.account_id = c.account_id AND sa.sync_id = c.sync_id
      AND sa.sub_account_id = c.covered_account_id""",
        # Each group-role grant times each account its group covers: the accounts a user reaches
        # with a role through a group, from the newest snapshot with both group grants and coverage.
        "boomi_user_account_reach": f"""
WITH l AS ({_latest_with(s, "group_role_grants", "account_group_accounts")}
)
SELECT g.account_id, g.sync_id, g.synced_at, g.user_id, g.grant_id, g.account_group_id,
       COALESCE(g.account_group_name, ag.name) AS account_group_name,
       g.role_id, COALESCE(g.role_name, r.name) AS role_name, r.is_privileged AS is_privileged,
       c.covered_account_id,
       {_covered_account_columns("c.covered_account_id", "g.account_id")}
FROM {s}boomi_group_role_grants g
JOIN l ON l.account_id = g.account_id AND l.sync_id = g.sync_id
JOIN {s}boomi_account_group_accounts c
  ON c.account_id = g.account_id AND c.sync_id = g.sync_id AND c.account_group_id = g.account_group_id
LEFT JOIN {s}boomi_account_groups ag
       ON ag.account_id = g.account_id AND ag.sync_id = g.sync_id
      AND ag.account_group_id = g.account_group_id
LEFT JOIN {s}boomi_roles r
       ON r.account_id = g.account_id AND r.sync_id = g.sync_id AND r.role_id = g.role_id
LEFT JOIN {s}boomi_sub_accounts sa
       ON sa.account_id = g.account_id AND sa.sync_id = g.sync_id
      AND sa.sub_account_id = c.covered_account_id""",
        # Which roles reach which environments, from the newest snapshot with both tables; role
        # names and privileges from the same snapshot (null when it did not read the roles).
        "boomi_environment_access": f"""
WITH l AS ({_latest_with(s, "environments", "environment_roles")}
)
SELECT er.account_id, er.sync_id, er.synced_at, er.environment_id, e.name AS environment_name,
       e.classification AS environment_classification, er.role_id, r.name AS role_name,
       r.is_privileged AS is_privileged
FROM {s}boomi_environment_roles er
JOIN l ON l.account_id = er.account_id AND l.sync_id = er.sync_id
LEFT JOIN {s}boomi_environments e
       ON e.account_id = er.account_id AND e.sync_id = er.sync_id AND e.environment_id = er.environment_id
LEFT JOIN {s}boomi_roles r
       ON r.account_id = er.account_id AND r.sync_id = er.sync_id AND r.role_id = er.role_id""",
    }


def _count_cast(dialect: str) -> Callable[[str], str]:
    """Counts as 64-bit integers: DuckDB's SUM of integers is a HUGEINT, which pandas reads as
    a float, and PostgreSQL's is a NUMERIC; MySQL casts only to SIGNED."""
    target = "SIGNED" if dialect in ("mysql", "mariadb") else "BIGINT"
    return lambda expr: f"CAST({expr} AS {target})"


def _cast_text(dialect: str) -> str:
    """The text type of ``CAST(NULL AS ...)``: MySQL casts only to CHAR."""
    if dialect in ("duckdb", "postgresql"):
        return "VARCHAR"
    return "CHAR" if dialect in ("mysql", "mariadb") else "TEXT"


#: View names in creation order (later views read earlier ones).
VIEWS: tuple[str, ...] = (
    "boomi_grants",
    "boomi_current_access",
    "boomi_grant_history",
    "boomi_access_changes",
    "boomi_privileged_users",
    "boomi_group_only_users",
    "boomi_group_reach",
    "boomi_user_account_reach",
    "boomi_environment_access",
)


def view_sql(name: str, dialect: str, schema: str | None = None) -> str:
    """The ``SELECT`` behind view ``name`` for ``dialect`` (without ``CREATE VIEW``)."""
    return _views(f"{schema}." if schema else "", dialect)[name].strip()


def create_views(target: WarehouseTarget, session: Session | None = None) -> list[str]:
    """(Re)create every analytics view; returns their names in creation order.

    Views are dropped (dependents first) and created again rather than replaced with ``CREATE OR REPLACE``,
    because PostgreSQL refuses to replace a view whose columns changed between versions.
    The tables must exist (see :func:`~.schema.ensure_tables`).
    """
    if session is None:
        with target.transaction() as own:
            ensure_tables(target, own)
            return create_views(target, own)
    for name in reversed(VIEWS):
        session.execute(f"DROP VIEW IF EXISTS {target.qualified(name)}")
    for name in VIEWS:
        session.execute(
            f"CREATE VIEW {target.qualified(name)} AS {view_sql(name, session.dialect, target.schema)}"
        )
    return list(VIEWS)
