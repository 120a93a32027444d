"""The snapshot schemas: exact columns and types, defined once."""

from __future__ import annotations

import pyarrow as pa
import pytest

from airflow_provider_boomi.dataset import (
    CORE_TABLES,
    GOVERNANCE_TABLES,
    SCHEMA_VERSION,
    SYNCED_TABLES,
    TABLES,
    empty_table,
    schema_for,
)

LEADING = [
    ("account_id", pa.string(), False),
    ("sync_id", pa.string(), False),
    ("synced_at", pa.timestamp("us", tz="UTC"), False),
]
STR = pa.string()
I32 = pa.int32()
BOOL = pa.bool_()
STR_LIST = pa.list_(pa.field("element", pa.string(), nullable=False))

EXPECTED = {
    "users": [
        ("user_id", STR, False),
        ("email", STR, True),
        ("first_name", STR, True),
        ("last_name", STR, True),
        ("global_role_count", I32, False),
        ("group_role_count", I32, False),
        ("is_privileged", BOOL, True),
        ("is_account_member", BOOL, False),
    ],
    "roles": [
        ("role_id", STR, False),
        ("name", STR, True),
        ("description", STR, True),
        ("parent_role_id", STR, True),
        ("owner_account_id", STR, True),
        ("is_builtin", BOOL, True),
        ("privileges", STR_LIST, True),
        ("effective_privileges", STR_LIST, True),
        ("is_privileged", BOOL, True),
        ("is_assignable", BOOL, False),
    ],
    "account_groups": [
        ("account_group_id", STR, False),
        ("name", STR, True),
        ("default_group", BOOL, True),
        ("auto_subscribe_alert_level", STR, True),
    ],
    "user_role_grants": [
        ("grant_id", STR, False),
        ("boomi_id", STR, False),
        ("user_id", STR, False),
        ("role_id", STR, False),
        ("role_name", STR, True),
    ],
    "group_role_grants": [
        ("grant_id", STR, False),
        ("boomi_id", STR, False),
        ("user_id", STR, False),
        ("account_group_id", STR, False),
        ("account_group_name", STR, True),
        ("role_id", STR, False),
        ("role_name", STR, True),
    ],
    "grant_changes": [
        ("grant_id", STR, False),
        ("grant_kind", STR, False),
        ("change_type", STR, False),
        ("user_id", STR, False),
        ("role_id", STR, False),
        ("account_group_id", STR, True),
        ("previous_sync_id", STR, True),
    ],
}


TS = pa.timestamp("us", tz="UTC")

EXPECTED.update(
    {
        "user_federation": [
            ("user_id", STR, False),
            ("federation_id", STR, False),
            ("boomi_id", STR, True),
        ],
        "sso_config": [
            ("enabled", BOOL, True),
            ("fed_id_from_name_id", BOOL, True),
            ("case_insensitive_federation_id", BOOL, True),
            ("name_id_policy", STR, True),
            ("authn_context", STR, True),
            ("authn_context_comparison", STR, True),
            ("assertion_encryption", BOOL, True),
            ("idp_url", STR, True),
        ],
        "audit_logins": [
            ("user_id", STR, False),
            ("last_login_at", TS, True),
            ("window_start", TS, False),
        ],
        "audit_access_changes": [
            ("document_id", STR, True),
            ("changed_at", TS, False),
            ("actor_user_id", STR, True),
            ("type", STR, True),
            ("action", STR, True),
            ("modifier", STR, True),
            ("level", STR, True),
            ("source", STR, True),
            ("message", STR, True),
            ("properties", STR, True),
        ],
        "account_group_accounts": [
            ("account_group_id", STR, False),
            ("covered_account_id", STR, False),
            ("boomi_id", STR, True),
        ],
        "environments": [
            ("environment_id", STR, False),
            ("name", STR, True),
            ("classification", STR, True),
            ("parent_account", STR, True),
            ("parent_environment", STR, True),
        ],
        "environment_roles": [
            ("environment_id", STR, False),
            ("role_id", STR, False),
            ("boomi_id", STR, True),
        ],
        "sub_accounts": [
            ("sub_account_id", STR, False),
            ("name", STR, True),
            ("status", STR, True),
            ("date_created", TS, True),
            ("expiration_date", TS, True),
        ],
    }
)


def test_schema_version_and_table_order() -> None:
    assert SCHEMA_VERSION == 3
    assert list(TABLES) == list(EXPECTED)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_columns_types_and_nullability_exact(name: str) -> None:
    schema = TABLES[name]
    actual = [(f.name, f.type, f.nullable) for f in schema]
    assert actual == LEADING + EXPECTED[name]
    # Type equality above ignores list child names/nullability; check them explicitly.
    for field in schema:
        if pa.types.is_list(field.type):
            assert field.type.value_field.name == "element"
            assert not field.type.value_field.nullable
        assert field.metadata and field.metadata[b"description"], f"{name}.{field.name} lacks a description"
    assert schema.metadata[b"boomi.table"] == name.encode()


@pytest.mark.parametrize("name", list(EXPECTED))
def test_empty_table(name: str) -> None:
    table = empty_table(name)
    assert table.num_rows == 0
    assert table.schema.equals(TABLES[name], check_metadata=True)


def test_unknown_table_lists_valid_names() -> None:
    with pytest.raises(KeyError, match="user_role_grants"):
        schema_for("grants")


def test_the_governance_tables_are_optional_additions() -> None:
    """Version 3 only added tables: the five core tables are those of version 2, unchanged."""
    assert SYNCED_TABLES == CORE_TABLES + GOVERNANCE_TABLES
    assert set(TABLES) == {*SYNCED_TABLES, "grant_changes"}
    assert CORE_TABLES == ("users", "roles", "account_groups", "user_role_grants", "group_role_grants")
    # Tables added later go last: the warehouse appends their row-count columns in this order.
    assert list(TABLES)[-1] == "sub_accounts"
