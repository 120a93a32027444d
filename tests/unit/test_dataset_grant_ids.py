"""Baton-compatible grant ids."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_boomi.dataset import (
    ParsedGrant,
    grant_id,
    group_entitlement_id,
    parse_grant_id,
    role_entitlement_id,
)

ROLE = "3b1f6c2e-9d44-4f0a-8b7e-51c2d0a9e6f1"
GROUP = "a4c1e9b7-2f3d-4e8a-b6c5-d7e8f9a0b1c2"


def test_examples_match_baton_convention() -> None:
    assert role_entitlement_id(ROLE) == f"role:{ROLE}:assigned"
    assert group_entitlement_id(GROUP, ROLE) == f"account_group:{GROUP}:{ROLE}"
    assert grant_id(role_entitlement_id(ROLE), "dana.lee@acme.example") == (
        f"role:{ROLE}:assigned:user:dana.lee@acme.example"
    )
    assert grant_id(group_entitlement_id(GROUP, ROLE), "dana.lee@acme.example") == (
        f"account_group:{GROUP}:{ROLE}:user:dana.lee@acme.example"
    )


def test_parse_examples() -> None:
    assert parse_grant_id(f"role:{ROLE}:assigned:user:dana@x") == ParsedGrant(
        "global_role", ROLE, None, "dana@x"
    )
    assert parse_grant_id(f"account_group:{GROUP}:{ROLE}:user:dana@x") == ParsedGrant(
        "group_role", ROLE, GROUP, "dana@x"
    )


@pytest.mark.parametrize("user", ["a:b", "x:user:y", ":user:", "user:", "a:assigned:user:b"])
def test_user_ids_with_colons_round_trip(user: str) -> None:
    for entitlement in (role_entitlement_id(ROLE), group_entitlement_id(GROUP, ROLE)):
        gid = grant_id(entitlement, user)
        parsed = parse_grant_id(gid)
        assert parsed.user_id == user
        assert parsed.grant_id == gid
        assert parsed.entitlement_id == entitlement


_id = st.text(st.characters(blacklist_characters=":", blacklist_categories=("Cs",)), min_size=1, max_size=20)


@given(role=_id, group=_id, user=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1))
def test_round_trip_property(role: str, group: str, user: str) -> None:
    assert parse_grant_id(grant_id(role_entitlement_id(role), user)) == ParsedGrant(
        "global_role", role, None, user
    )
    assert parse_grant_id(grant_id(group_entitlement_id(group, role), user)) == ParsedGrant(
        "group_role", role, group, user
    )


@pytest.mark.parametrize("bad", ["", "a:b"])
def test_role_and_group_ids_are_validated(bad: str) -> None:
    with pytest.raises(ValueError):
        role_entitlement_id(bad)
    with pytest.raises(ValueError):
        group_entitlement_id(bad, ROLE)
    with pytest.raises(ValueError):
        group_entitlement_id(GROUP, bad)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "role:r1:assigned",
        "role:r1:assigned:user:",
        "role:r1:user:u",
        "role::assigned:user:u",
        "account_group:g1:user:u",
        "account_group:g1:r1:u",
        "entitlement:x:user:u",
    ],
)
def test_malformed_grant_ids_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="not a grant id"):
        parse_grant_id(bad)


def test_grant_id_validates_its_parts() -> None:
    with pytest.raises(ValueError, match="entitlement"):
        grant_id("role:r1", "u")
    with pytest.raises(ValueError, match="user id"):
        grant_id(role_entitlement_id(ROLE), "")
