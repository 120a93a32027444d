"""The role catalog: privilege presets, built-in roles' privileges (§g.3), unknown privileges."""

from __future__ import annotations

import pytest

from airflow_provider_boomi.access.roles import PrivilegePolicy, RoleCatalog
from airflow_provider_boomi.client import Role

STANDARD = "fcb6e2d0-0ca8-11e2-a477-1231381987a5"
SUPPORT = "fcb6e474-0ca8-11e2-a477-1231381987a5"
RELEASE = "6d2a0c55-8d4a-4f6e-9a53-2f0c5e0d7a11"
LEAD = "9b1f3c2e-1111-4e6e-9a53-2f0c5e0d7a12"
UNKNOWN_PARENT = "0f0f0f0f-2222-4e6e-9a53-2f0c5e0d7a13"

ROLES = [
    Role(
        id=STANDARD, account_id="1", name="Standard User", parent_id=STANDARD, privileges=("BUILD", "EXECUTE")
    ),
    Role(id=SUPPORT, account_id="1", name="Support", parent_id=STANDARD, privileges=("VIEW_RESULT",)),
    Role(id=RELEASE, account_id="acme", name="Release Manager", parent_id=STANDARD, privileges=("DEPLOY",)),
    Role(
        id=LEAD,
        account_id="acme",
        name="Tech Lead",
        parent_id=UNKNOWN_PARENT,
        privileges=("ATOM_MANAGEMENT",),
    ),
]


def test_sox_preset_flags_change_management_and_default_does_not() -> None:
    default = RoleCatalog.build(ROLES, PrivilegePolicy.preset("default"))
    sox = RoleCatalog.build(ROLES, PrivilegePolicy.preset("sox"))
    assert default.roles[RELEASE].is_privileged is False
    assert sox.roles[RELEASE].is_privileged is True
    assert sox.roles[SUPPORT].is_privileged is False
    with pytest.raises(ValueError, match="sox"):
        PrivilegePolicy.preset("strict")


def test_built_in_roles_keep_their_listed_privileges_unless_inheritance_is_asked_for() -> None:
    listed = RoleCatalog.build(ROLES)
    assert listed.roles[SUPPORT].effective_privileges == ("VIEW_RESULT",)
    # A custom role takes its built-in parent's listed privileges.
    assert listed.roles[RELEASE].effective_privileges == ("BUILD", "DEPLOY", "EXECUTE")
    inherited = RoleCatalog.build(ROLES, builtin_inheritance=True)
    assert inherited.roles[SUPPORT].effective_privileges == ("BUILD", "EXECUTE", "VIEW_RESULT")


def test_unknown_privileges_are_null_not_false() -> None:
    catalog = RoleCatalog.build(ROLES, privileges_unknown={SUPPORT})
    support = catalog.roles[SUPPORT]
    assert support.privileges is None and support.is_privileged is None
    # A parent nobody could read makes the child's effective privileges unknown too.
    lead = catalog.roles[LEAD]
    assert lead.effective_privileges is None and lead.is_privileged is None
    # A privileged name decides even without privileges.
    admin = RoleCatalog.build([Role(id="a", account_id="1", name="Administrator")], privileges_unknown={"a"})
    assert admin.roles["a"].is_privileged is True
