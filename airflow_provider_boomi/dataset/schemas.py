"""Arrow schemas of the snapshot tables, defined once.

Every table of a snapshot has an explicit schema here: writers cast to it, readers and docs
describe it, and no code path infers types from data (an all-null column would otherwise come
out as ``null`` type in one snapshot and ``string`` in the next, and warehouses would reject the
union). Each field carries its meaning in the field metadata under ``description`` so the
schema documents itself wherever the Parquet file travels.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import pyarrow as pa

__all__ = [
    "COMMON_COLUMNS",
    "CORE_TABLES",
    "GOVERNANCE_TABLES",
    "GRANT_TABLES",
    "SCHEMA_VERSION",
    "SYNCED_TABLES",
    "TABLES",
    "empty_table",
    "schema_for",
]

#: Bumped whenever a column is added, removed, renamed or changes type. Readers refuse
#: manifests with a newer version than they know. Version 3 added the optional governance
#: tables (federation ids, SSO settings, the audit log, account-group coverage, environments);
#: the tables of version 2 did not change, so a version 2 snapshot reads as a version 3 one
#: taken without those resources. The ``sub_accounts`` table joined version 3 later without a
#: bump: no existing table changed, a snapshot without it reads as one taken without the
#: resource, and a reader that does not know the table skips it (readers take the tables they
#: know from a manifest and check only those).
SCHEMA_VERSION = 3

#: The timestamp type used for every time column: microseconds, UTC.
TIMESTAMP_UTC = pa.timestamp("us", tz="UTC")

_STRING_LIST = pa.list_(pa.field("element", pa.string(), nullable=False))


def _f(name: str, type_: pa.DataType, nullable: bool, description: str) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


#: Leading columns present, in this order, in every table. They repeat the hive partition
#: values inside the files so that a file read on its own is still self-describing.
COMMON_COLUMNS: tuple[pa.Field, ...] = (
    _f("account_id", pa.string(), False, "Boomi account id the snapshot was taken from."),
    _f("sync_id", pa.string(), False, "Id of the snapshot (UTC timestamp + random suffix; sorts by time)."),
    _f(
        "synced_at",
        TIMESTAMP_UTC,
        False,
        "When the sync started (UTC); the same for every row of a snapshot.",
    ),
)


def _schema(table: str, *fields: pa.Field) -> pa.Schema:
    return pa.schema(
        [*COMMON_COLUMNS, *fields],
        metadata={"boomi.table": table, "boomi.schema_version": str(SCHEMA_VERSION)},
    )


USERS = _schema(
    "users",
    _f("user_id", pa.string(), False, "Boomi userId exactly as returned (the user's login, an email)."),
    _f("email", pa.string(), True, "The user id lower-cased, for joining with other systems."),
    _f("first_name", pa.string(), True, "First name as Boomi returns it on role rows."),
    _f("last_name", pa.string(), True, "Last name as Boomi returns it on role rows."),
    _f("global_role_count", pa.int32(), False, "Number of global roles (AccountUserRole rows)."),
    _f("group_role_count", pa.int32(), False, "Number of account-group roles (AccountGroupUserRole rows)."),
    _f(
        "is_privileged",
        pa.bool_(),
        True,
        "Holds at least one privileged role (global or group); null when not, but some role's "
        "privileges are unknown (possibly privileged).",
    ),
    _f(
        "is_account_member",
        pa.bool_(),
        False,
        "Has at least one global role; false means the user was seen only in group-role rows.",
    ),
)

ROLES = _schema(
    "roles",
    _f("role_id", pa.string(), False, "Boomi role id."),
    _f("name", pa.string(), True, "Role name; null when Boomi would not show the role."),
    _f("description", pa.string(), True, "Role description; Boomi may omit it."),
    _f("parent_role_id", pa.string(), True, "Role this role inherits privileges from."),
    _f("owner_account_id", pa.string(), True, "Account owning the role; built-in roles show '1'."),
    _f("is_builtin", pa.bool_(), True, "Boomi's default role (owned by account '1'); null when unknown."),
    _f(
        "privileges",
        _STRING_LIST,
        True,
        "Privilege names granted directly by the role; null when Boomi gave no way to read them.",
    ),
    _f(
        "effective_privileges",
        _STRING_LIST,
        True,
        "Privileges of the role and its custom parents, resolved transitively (built-in roles keep "
        "the privileges Boomi lists); null when a role on the way has unknown privileges.",
    ),
    _f(
        "is_privileged",
        pa.bool_(),
        True,
        "Effective privileges include an administrative privilege (or the name is privileged by "
        "policy); null when the privileges are unknown: treat as possibly privileged.",
    ),
    _f(
        "is_assignable",
        pa.bool_(),
        False,
        "Role id is a canonical UUID; operators refuse to assign or revoke other roles.",
    ),
)

ACCOUNT_GROUPS = _schema(
    "account_groups",
    _f("account_group_id", pa.string(), False, "Boomi account group id."),
    _f("name", pa.string(), True, "Account group name."),
    _f("default_group", pa.bool_(), True, "True only for the system-created 'All Accounts' group."),
    _f("auto_subscribe_alert_level", pa.string(), True, "none, info, warning or error."),
)

USER_ROLE_GRANTS = _schema(
    "user_role_grants",
    _f("grant_id", pa.string(), False, "Baton grant id: role:{role_id}:assigned:user:{user_id}."),
    _f("boomi_id", pa.string(), False, "Boomi's conceptual AccountUserRole id (what DELETE needs)."),
    _f("user_id", pa.string(), False, "Boomi userId."),
    _f("role_id", pa.string(), False, "Boomi role id."),
    _f("role_name", pa.string(), True, "Role name; null when the role is unknown (see warnings)."),
)

GROUP_ROLE_GRANTS = _schema(
    "group_role_grants",
    _f(
        "grant_id",
        pa.string(),
        False,
        "Baton grant id: account_group:{account_group_id}:{role_id}:user:{user_id}.",
    ),
    _f("boomi_id", pa.string(), False, "Boomi's conceptual AccountGroupUserRole id (what DELETE needs)."),
    _f("user_id", pa.string(), False, "Boomi userId."),
    _f("account_group_id", pa.string(), False, "Boomi account group id."),
    _f("account_group_name", pa.string(), True, "Account group name; null when the group is unknown."),
    _f("role_id", pa.string(), False, "Boomi role id."),
    _f("role_name", pa.string(), True, "Role name; null when the role is unknown (see warnings)."),
)

GRANT_CHANGES = _schema(
    "grant_changes",
    _f("grant_id", pa.string(), False, "Grant id (see user_role_grants / group_role_grants)."),
    _f("grant_kind", pa.string(), False, "global_role or group_role."),
    _f("change_type", pa.string(), False, "added or removed, relative to previous_sync_id."),
    _f("user_id", pa.string(), False, "Boomi userId."),
    _f("role_id", pa.string(), False, "Boomi role id."),
    _f("account_group_id", pa.string(), True, "Account group id; null for global roles."),
    _f(
        "previous_sync_id",
        pa.string(),
        True,
        "Snapshot compared against; null when there was none (everything is added).",
    ),
)

# ---- the optional governance tables (schema version 3) --------------------------------------
# Each is written only when its sync resource ran and Boomi answered it; a resource Boomi
# refused leaves its tables out of the snapshot (the manifest's extra says why), so an absent
# table means "unknown", never "empty".

USER_FEDERATION = _schema(
    "user_federation",
    _f("user_id", pa.string(), False, "Boomi userId of an AccountUserFederation object, as returned."),
    _f(
        "federation_id",
        pa.string(),
        False,
        "The user's SSO federation id in this account. A user without a row has none.",
    ),
    _f("boomi_id", pa.string(), True, "Boomi's conceptual AccountUserFederation id."),
)

SSO_CONFIG = _schema(
    "sso_config",
    _f(
        "enabled",
        pa.bool_(),
        True,
        "Whether single sign-on is enabled for the account; null when Boomi's answer did not say.",
    ),
    _f(
        "fed_id_from_name_id",
        pa.bool_(),
        True,
        "True: the federation id is the SAML NameID; false: the FEDERATION_ID attribute.",
    ),
    _f(
        "case_insensitive_federation_id",
        pa.bool_(),
        True,
        "Whether federation ids are compared without regard to case.",
    ),
    _f("name_id_policy", pa.string(), True, "TRANSIENT or UNSPECIFIED."),
    _f("authn_context", pa.string(), True, "PPT (password protected transport) or UNSPECIFIED."),
    _f("authn_context_comparison", pa.string(), True, "EXACT or MINIMUM."),
    _f("assertion_encryption", pa.bool_(), True, "Whether SAML assertions are encrypted."),
    _f("idp_url", pa.string(), True, "The identity provider's single sign-on URL."),
)

AUDIT_LOGINS = _schema(
    "audit_logins",
    _f("user_id", pa.string(), False, "Boomi userId whose logins were looked for."),
    _f(
        "last_login_at",
        TIMESTAMP_UTC,
        True,
        "The user's latest login in the window read; null when the window holds none of theirs.",
    ),
    _f("window_start", TIMESTAMP_UTC, False, "Start of the audit-log window read (the same on every row)."),
)

AUDIT_ACCESS_CHANGES = _schema(
    "audit_access_changes",
    _f("document_id", pa.string(), True, "Boomi's id of the audit-log record."),
    _f("changed_at", TIMESTAMP_UTC, False, "When the action occurred (the record's date)."),
    _f("actor_user_id", pa.string(), True, "Who performed the action (the record's userId)."),
    _f("type", pa.string(), True, "The type of object acted on, as Boomi wrote it."),
    _f("action", pa.string(), True, "The action, as Boomi wrote it (for example ADD, DELETE, EDIT)."),
    _f("modifier", pa.string(), True, "The action's qualifier, as Boomi wrote it."),
    _f("level", pa.string(), True, "DEBUG, ERROR, INFO or WARNING."),
    _f("source", pa.string(), True, "Where the action occurred: API, INTERNAL, MOBILE, UI or UNKNOWN."),
    _f("message", pa.string(), True, "Boomi's descriptive message, verbatim (not interpreted)."),
    _f(
        "properties",
        pa.string(),
        True,
        "The record's AuditLogProperty list as JSON (name, value, previousValue), verbatim: which "
        "names say what was granted to whom is not documented, so nothing is parsed out of it.",
    ),
)

ACCOUNT_GROUP_ACCOUNTS = _schema(
    "account_group_accounts",
    _f("account_group_id", pa.string(), False, "Boomi account group id."),
    _f(
        "covered_account_id", pa.string(), False, "An account the group covers (its group roles apply there)."
    ),
    _f("boomi_id", pa.string(), True, "Boomi's conceptual AccountGroupAccount id."),
)

ENVIRONMENTS = _schema(
    "environments",
    _f("environment_id", pa.string(), False, "Boomi environment id."),
    _f("name", pa.string(), True, "Environment name (for example Production)."),
    _f("classification", pa.string(), True, "PROD or TEST; null when Boomi gave none."),
    _f("parent_account", pa.string(), True, "Boomi's parentAccount, as returned."),
    _f("parent_environment", pa.string(), True, "Boomi's parentEnvironment, as returned."),
)

ENVIRONMENT_ROLES = _schema(
    "environment_roles",
    _f("environment_id", pa.string(), False, "Boomi environment id."),
    _f("role_id", pa.string(), False, "A role that reaches the environment."),
    _f("boomi_id", pa.string(), True, "Boomi's conceptual EnvironmentRole id."),
)

SUB_ACCOUNTS = _schema(
    "sub_accounts",
    _f(
        "sub_account_id",
        pa.string(),
        False,
        "Boomi accountId of an account the synced account created (a partner's sub-account). "
        "The synced account itself is never a row, even when Boomi lists it.",
    ),
    _f("name", pa.string(), True, "The sub-account's name."),
    _f("status", pa.string(), True, "trial, active, suspended, deleted or unlimited, as Boomi wrote it."),
    _f("date_created", TIMESTAMP_UTC, True, "When the sub-account was created; null when Boomi gave none."),
    _f(
        "expiration_date",
        TIMESTAMP_UTC,
        True,
        "When the sub-account is scheduled to expire; null when it is not (or Boomi gave none).",
    ),
)

#: Every table of a snapshot, in the order they are documented and written. New tables go last:
#: the warehouse's ``boomi_snapshots`` gains a row-count column per table, appended in this order.
TABLES: Mapping[str, pa.Schema] = MappingProxyType(
    {
        "users": USERS,
        "roles": ROLES,
        "account_groups": ACCOUNT_GROUPS,
        "user_role_grants": USER_ROLE_GRANTS,
        "group_role_grants": GROUP_ROLE_GRANTS,
        "grant_changes": GRANT_CHANGES,
        "user_federation": USER_FEDERATION,
        "sso_config": SSO_CONFIG,
        "audit_logins": AUDIT_LOGINS,
        "audit_access_changes": AUDIT_ACCESS_CHANGES,
        "account_group_accounts": ACCOUNT_GROUP_ACCOUNTS,
        "environments": ENVIRONMENTS,
        "environment_roles": ENVIRONMENT_ROLES,
        "sub_accounts": SUB_ACCOUNTS,
    }
)

#: The tables every snapshot of schema version 2 could hold, filled by a default sync.
CORE_TABLES: tuple[str, ...] = ("users", "roles", "account_groups", "user_role_grants", "group_role_grants")

#: The optional governance tables of schema version 3 (a sync writes them only when asked).
GOVERNANCE_TABLES: tuple[str, ...] = (
    "user_federation",
    "sso_config",
    "audit_logins",
    "audit_access_changes",
    "account_group_accounts",
    "environments",
    "environment_roles",
    "sub_accounts",
)

#: Tables filled from Boomi by a sync (a manifest's ``resources``); grant_changes is derived.
SYNCED_TABLES: tuple[str, ...] = CORE_TABLES + GOVERNANCE_TABLES

#: The two grant tables; grant_changes exists only when a snapshot includes both.
GRANT_TABLES: tuple[str, str] = ("user_role_grants", "group_role_grants")


def schema_for(name: str) -> pa.Schema:
    """Return the schema of table ``name``.

    :raises KeyError: ``name`` is not a snapshot table; the message lists the valid names.
    """
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown snapshot table {name!r}; expected one of {', '.join(TABLES)}") from None


def empty_table(name: str) -> pa.Table:
    """Return a zero-row table with the exact schema of table ``name``."""
    return schema_for(name).empty_table()
