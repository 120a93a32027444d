"""Segregation of duties: a policy of role sets that must not be held together, and its check.

A policy is a JSON or TOML file (no YAML: it is not a dependency, and TOML is in the standard
library) with a list of named rules::

    version = 1

    [[rules]]
    name = "release-and-audit"
    description = "Whoever ships to production must not also sign off the audit trail."
    roles = ["Release Manager", "Auditor"]
    scope = "account"          # or "group"
    severity = "high"          # critical, high, medium, low or info

Each entry of ``roles`` is a role id (matched exactly) or else a role name (matched
case-insensitively; every role of that name counts). A user is in conflict with a rule when they
hold a role of **every** entry:

- ``scope = "account"`` (the default): through any grant, direct or through any account group;
- ``scope = "group"``: through the roles they hold within one account group (one conflict per
  group); direct grants do not count there, because a global role applies to the account itself,
  not to the accounts the group covers.

Roles are not expanded through ``parent_role_id``: a role's parent passes on privileges, not
the role itself. Each conflict lists, per entry, every grant that gave the user that role.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_boomi.dataset.paths import resolve_location

from .grants import Grant
from .schema import SEVERITIES

__all__ = [
    "MAX_POLICY_BYTES",
    "SCOPES",
    "SodConflict",
    "SodPolicy",
    "SodPolicyError",
    "SodRule",
    "evaluate_sod",
    "load_sod_policy",
    "parse_sod_policy",
    "role_names_of",
]

SCOPES: tuple[str, ...] = ("account", "group")
"""Where the roles of a rule must be held together to conflict."""
MAX_POLICY_BYTES = 1024 * 1024
"""Largest policy file read."""
_MAX_RULES = 1_000
_MAX_TEXT = 500
_RULE_KEYS = frozenset({"name", "description", "roles", "scope", "severity"})
_TOP_KEYS = frozenset({"version", "rules"})


class SodPolicyError(ValueError):
    """The SoD policy cannot be used; the message says where and what to fix."""


@dataclass(frozen=True)
class SodRule:
    """One rule: roles that must not be held together.

    :param name: unique name of the rule (the subject of its findings).
    :param roles: role ids or names, at least two.
    :param scope: ``account`` or ``group`` (see the module docstring).
    :param severity: severity of its findings.
    """

    name: str
    roles: tuple[str, ...]
    scope: str = "account"
    severity: str = "high"
    description: str | None = None


@dataclass(frozen=True)
class SodPolicy:
    """A validated policy.

    :param rules: the rules, in file order.
    :param source: where it was read from.
    :param sha256: SHA-256 of the policy's bytes (of its canonical JSON for a mapping), so a
        findings summary pins the policy it was computed with.
    """

    rules: tuple[SodRule, ...]
    source: str = "<mapping>"
    sha256: str = ""


@dataclass(frozen=True)
class SodConflict:
    """A user holding every role of a rule.

    :param held: per rule entry, in rule order, the grants that gave the user a role of it.
    :param account_group_id: the group, for a ``group``-scoped rule.
    """

    rule: SodRule
    user_id: str
    account_group_id: str | None
    account_group_name: str | None
    held: tuple[tuple[str, tuple[Grant, ...]], ...]

    @property
    def grants(self) -> tuple[Grant, ...]:
        """Every grant involved, each once, in rule order."""
        seen: dict[str, Grant] = {}
        for _entry, grants in self.held:
            for grant in grants:
                seen.setdefault(grant.grant_id, grant)
        return tuple(seen.values())


def _text(value: object, where: str, what: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SodPolicyError(f"{where}: {what} must be non-empty text, got {value!r}")
    if len(value) > _MAX_TEXT:
        raise SodPolicyError(f"{where}: {what} is longer than {_MAX_TEXT} characters")
    return value.strip()


def parse_sod_policy(
    data: Mapping[str, Any], source: str = "<mapping>", sha256: str | None = None
) -> SodPolicy:
    """Validate a policy already parsed into a mapping (the module docstring shows the shape).

    :param data: ``{"version": 1, "rules": [...]}``.
    :param source: where it came from, for messages.
    :param sha256: the digest of the file; by default that of the mapping's canonical JSON.
    :raises SodPolicyError: a key is unknown, a value is missing or of the wrong kind, a rule
        name repeats, or a rule has fewer than two distinct roles.
    """
    if not isinstance(data, Mapping):
        raise SodPolicyError(f"{source}: the policy must be an object with a 'rules' list")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise SodPolicyError(f"{source}: unknown key(s) {unknown}; a policy has 'version' and 'rules'")
    if data.get("version", 1) != 1:
        raise SodPolicyError(f"{source}: version {data.get('version')!r} is not supported; use 1")
    rules_data = data.get("rules")
    if not isinstance(rules_data, list) or not rules_data:
        raise SodPolicyError(f"{source}: 'rules' must be a non-empty list of rules")
    if len(rules_data) > _MAX_RULES:
        raise SodPolicyError(f"{source}: more than {_MAX_RULES} rules")
    rules: list[SodRule] = []
    names: set[str] = set()
    for index, raw in enumerate(rules_data, start=1):
        where = f"{source}: rule {index}"
        if not isinstance(raw, Mapping):
            raise SodPolicyError(f"{where}: must be an object with name and roles")
        extra = sorted(set(raw) - _RULE_KEYS)
        if extra:
            raise SodPolicyError(
                f"{where}: unknown key(s) {extra}; a rule has {', '.join(sorted(_RULE_KEYS))}"
            )
        name = _text(raw.get("name"), where, "name")
        assert name is not None
        where = f"{source}: rule {name!r}"
        if name.casefold() in names:
            raise SodPolicyError(f"{where}: the name is used by an earlier rule; names must be unique")
        names.add(name.casefold())
        roles_raw = raw.get("roles")
        if not isinstance(roles_raw, list):
            raise SodPolicyError(f"{where}: roles must be a list of role names or ids")
        roles = tuple(_text(r, where, "each role") or "" for r in roles_raw)
        if len({r.casefold() for r in roles}) != len(roles) or len(roles) < 2:
            raise SodPolicyError(f"{where}: roles must name at least two different roles, got {list(roles)}")
        scope = raw.get("scope", "account")
        if scope not in SCOPES:
            raise SodPolicyError(f"{where}: scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        severity = raw.get("severity", "high")
        if severity not in SEVERITIES:
            raise SodPolicyError(
                f"{where}: severity must be one of {', '.join(SEVERITIES)}, got {severity!r}"
            )
        description = _text(raw.get("description"), where, "description", required=False)
        rules.append(SodRule(name, roles, scope, severity, description))
    digest = sha256 or hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return SodPolicy(tuple(rules), source, digest)


def load_sod_policy(path: Any, *, storage_options: dict[str, Any] | None = None) -> SodPolicy:
    """Read and validate a policy file: ``.json`` or ``.toml`` (local path or fsspec URL).

    :raises SodPolicyError: the file is missing, too large, not valid JSON/TOML, or not a valid
        policy (see :func:`parse_sod_policy`).
    """
    location = resolve_location(path, storage_options)
    source = location.url
    suffix = os.path.splitext(source)[1].casefold()
    if suffix not in (".json", ".toml"):
        raise SodPolicyError(f"{source}: a policy file name must end in .json or .toml")
    try:
        with location.fs.open(location.root, "rb") as handle:
            raw = handle.read(MAX_POLICY_BYTES + 1)
    except FileNotFoundError:
        raise SodPolicyError(f"{source}: the policy file does not exist") from None
    if len(raw) > MAX_POLICY_BYTES:
        raise SodPolicyError(f"{source}: larger than {MAX_POLICY_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SodPolicyError(f"{source}: not valid {suffix[1:].upper()} ({exc})") from None
    return parse_sod_policy(data, source, hashlib.sha256(raw).hexdigest())


def _resolve(
    policy: SodPolicy, role_names: Mapping[str, str | None]
) -> tuple[dict[str, list[frozenset[str]]], list[str]]:
    """Role ids per entry of each rule, and the entries naming no role of the snapshot."""
    by_name: dict[str, set[str]] = {}
    for role_id, name in role_names.items():
        if name:
            by_name.setdefault(name.strip().casefold(), set()).add(role_id)
    resolved: dict[str, list[frozenset[str]]] = {}
    unresolved: list[str] = []
    for rule in policy.rules:
        entries: list[frozenset[str]] = []
        for entry in rule.roles:
            ids = frozenset({entry}) if entry in role_names else frozenset(by_name.get(entry.casefold(), ()))
            if not ids:
                unresolved.append(f"rule {rule.name!r}: no role of the snapshot has the id or name {entry!r}")
            entries.append(ids)
        for i, first in enumerate(entries):
            for j in range(i + 1, len(entries)):
                if first & entries[j]:
                    raise SodPolicyError(
                        f"{policy.source}: rule {rule.name!r}: entries {rule.roles[i]!r} and "
                        f"{rule.roles[j]!r} name the same role; list each role once"
                    )
        resolved[rule.name] = entries
    return resolved, unresolved


def evaluate_sod(
    policy: SodPolicy,
    grants: Sequence[Grant],
    role_names: Mapping[str, str | None],
    *,
    on_unknown_role: str = "fail",
) -> tuple[list[SodConflict], list[str]]:
    """Find every user holding every role of a rule (scopes in the module docstring).

    :param policy: the rules.
    :param grants: every grant of the snapshot (:func:`~.grants.effective_grants`).
    :param role_names: role id -> name of every role of the snapshot (the ``roles`` table and
        the names on grant rows).
    :param on_unknown_role: ``fail`` raises when a rule names a role the snapshot does not
        have (a typo would otherwise switch the rule off); ``warn`` returns it as a warning.
    :returns: the conflicts (sorted by rule, user, group) and the warnings.
    :raises SodPolicyError: a rule names an unknown role (with ``fail``), or two entries of a
        rule name the same role.
    """
    if on_unknown_role not in ("fail", "warn"):
        raise ValueError(f"on_unknown_role must be 'fail' or 'warn', got {on_unknown_role!r}")
    resolved, unresolved = _resolve(policy, role_names)
    if unresolved and on_unknown_role == "fail":
        raise SodPolicyError(
            f"{policy.source}: " + "; ".join(unresolved) + ". Fix the names (or pass on_unknown_role='warn' "
            "when one policy serves accounts with different roles)."
        )
    by_user: dict[str, list[Grant]] = {}
    for grant in grants:
        by_user.setdefault(grant.user_id, []).append(grant)
    conflicts: list[SodConflict] = []
    for rule in policy.rules:
        entries = resolved[rule.name]
        if not all(entries):
            continue  # a role of the rule does not exist here: nobody can hold it
        for user_id, held in sorted(by_user.items()):
            scopes: dict[str | None, list[Grant]] = {}
            for grant in held:
                if rule.scope == "account":
                    scopes.setdefault(None, []).append(grant)
                elif grant.grant_kind == "group_role":
                    scopes.setdefault(grant.account_group_id, []).append(grant)
            for group_id, scoped in sorted(scopes.items(), key=lambda kv: kv[0] or ""):
                per_entry = tuple(
                    (entry, tuple(g for g in scoped if g.role_id in ids))
                    for entry, ids in zip(rule.roles, entries, strict=True)
                )
                if all(found for _entry, found in per_entry):
                    group_name = next((g.account_group_name for g in scoped if g.account_group_name), None)
                    conflicts.append(SodConflict(rule, user_id, group_id, group_name, per_entry))
    return conflicts, unresolved


def role_names_of(roles: Iterable[Mapping[str, Any]], grants: Iterable[Grant]) -> dict[str, str | None]:
    """Role id -> name from the ``roles`` table, completed with the names on grant rows."""
    names: dict[str, str | None] = {str(r["role_id"]): r.get("name") for r in roles}
    for grant in grants:
        if names.get(grant.role_id) is None:
            names[grant.role_id] = grant.role_name
    return names
