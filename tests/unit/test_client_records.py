"""Lenient parsing of Boomi records and is_canonical_uuid."""

from __future__ import annotations

import pytest

from airflow_provider_boomi.client import (
    Account,
    AccountGroup,
    AccountGroupUserRole,
    AccountUserRole,
    Role,
    is_canonical_uuid,
)

STANDARD_USER = "fcb6e2d0-0ca8-11e2-a477-1231381987a5"


def test_role_full() -> None:
    role = Role.from_api(
        {
            "@type": "Role",
            "id": "3b1f6c2e-9d44-4f0a-8b7e-51c2d0a9e6f1",
            "accountId": "acme-Q7R2ZK",
            "name": "Release Manager",
            "parentId": STANDARD_USER,
            "Description": "Can deploy to prod",
            "Privileges": {
                "@type": "Privileges",
                "Privilege": [{"@type": "", "name": "DEPLOY"}, {"@type": "", "name": "PACKAGE_MANAGEMENT"}],
            },
            "somethingNew": {"x": 1},
        }
    )
    assert role == Role(
        id="3b1f6c2e-9d44-4f0a-8b7e-51c2d0a9e6f1",
        account_id="acme-Q7R2ZK",
        name="Release Manager",
        parent_id=STANDARD_USER,
        description="Can deploy to prod",
        privileges=("DEPLOY", "PACKAGE_MANAGEMENT"),
    )
    assert Role.from_api(role.to_api()) == role
    assert role.to_api()["Description"] == "Can deploy to prod"
    assert "@type" not in role.to_api()


def test_role_lenient_shapes() -> None:
    assert Role.from_api({}) == Role()
    assert Role.from_api({"description": "lower-case key"}).description == "lower-case key"
    assert Role.from_api({"accountId": 1}).account_id == "1"
    assert Role.from_api({"Privileges": {"Privilege": {"name": "API"}}}).privileges == ("API",)
    assert Role.from_api({"Privileges": None}).privileges == ()
    assert Role.from_api({"Privileges": {"Privilege": [{"@type": ""}, {"name": "BUILD"}]}}).privileges == (
        "BUILD",
    )
    assert Role.from_api({"Privileges": "garbage"}).privileges == ()
    assert Role.from_api({"name": ["not", "a", "string"]}).name is None


def test_account_user_role() -> None:
    row = {
        "@type": "AccountUserRole",
        "id": "QWNtZVE3UjJaS2RhbmE",
        "accountId": "acme-Q7R2ZK",
        "userId": "dana.lee@acme.example",
        "roleId": STANDARD_USER,
        "firstName": "Dana",
        "lastName": "Lee",
        "notifyUser": True,
    }
    record = AccountUserRole.from_api(row)
    assert record.user_id == "dana.lee@acme.example"
    assert record.notify_user is True
    expected = {k: v for k, v in row.items() if k != "@type"}
    assert record.to_api() == expected
    assert AccountUserRole.from_api({"notifyUser": "false"}).notify_user is False
    assert AccountUserRole.from_api({"notifyUser": "maybe"}).notify_user is None
    assert AccountUserRole.from_api({"userId": "x@y.z"}).to_api() == {"userId": "x@y.z"}


def test_account_group_and_group_role() -> None:
    group = AccountGroup.from_api(
        {
            "@type": "AccountGroup",
            "id": "g1",
            "accountId": "acme",
            "name": "All Accounts",
            "defaultGroup": True,
            "autoSubscribeAlertLevel": "none",
            "Resources": {"Resource": []},
        }
    )
    assert group == AccountGroup("g1", "acme", "All Accounts", True, "none")
    assert AccountGroup.from_api(group.to_api()) == group
    agur = AccountGroupUserRole.from_api(
        {"accountGroupId": "g1", "userId": "u@x.y", "roleId": "r", "id": "i", "firstName": "U"}
    )
    assert agur == AccountGroupUserRole("i", "g1", "u@x.y", "r", "U", None)
    assert AccountGroupUserRole.from_api(agur.to_api()) == agur


def test_account() -> None:
    account = Account.from_api(
        {
            "@type": "Account",
            "accountId": "acme-Q7R2ZK",
            "name": "Acme",
            "status": "active",
            "dateCreated": "2022-09-02T20:16:28Z",
            "licensing": {"standard": {"purchased": 1}},
        }
    )
    assert account == Account("acme-Q7R2ZK", "Acme", "active", "2022-09-02T20:16:28Z", None)


def test_non_mapping_rejected() -> None:
    with pytest.raises(TypeError):
        Role.from_api(["not", "an", "object"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (STANDARD_USER, True),
        (STANDARD_USER.upper(), True),
        ("3b1f6c2e-9d44-4f0a-8b7e-51c2d0a9e6f1", True),
        ("00000000-0000-0000-0000-000000000000", True),
        ("fedcba98-7654-3210-fedc-ba9876543c210", False),
        ("ca7f37b3-f976-4d06-b885-81520b467a69f", False),
        ("3b1f6c2e9d444f0a8b7e51c2d0a9e6f1", False),
        ("{3b1f6c2e-9d44-4f0a-8b7e-51c2d0a9e6f1}", False),
        ("3b1f6c2e-9d44-4f0a-8b7e-51c2d0a9e6g1", False),
        (STANDARD_USER + "\n", False),
        ("", False),
        (None, False),
        (12, False),
    ],
)
def test_is_canonical_uuid(value: object, expected: bool) -> None:
    assert is_canonical_uuid(value) is expected
