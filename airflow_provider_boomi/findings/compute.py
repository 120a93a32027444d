"""Computing the findings of one snapshot, once, for every consumer.

:func:`compute_findings` applies each rule of ``docs/findings.md`` to a snapshot's tables, the
identity source and the optional inputs, and returns one table of findings (and one of
identities: who each Boomi user is in the identity source, for routing reviews to managers).
Every finding points at the rows it derives from: the grants (``grant_ids``), the identity
source row (``source_row``), the login or federation row, the revocation, the SoD rule, and an
``evidence`` JSON object holding them.

A rule whose input is missing does not go quiet: the user is reported ``dormant_unknown`` or
``sso_unknown``, never "not dormant" or "uses SSO".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from airflow_provider_boomi.access.roles import PrivilegePolicy
from airflow_provider_boomi.dataset import SnapshotError, SnapshotStore, TableNotInSnapshotError

from .grants import Grant, effective_grants
from .identity import IdentityMatch, People, Person, match_users
from .inputs import as_federation, as_logins, as_revocations
from .schema import FINDINGS_SCHEMA, FINDINGS_SCHEMA_VERSION, IDENTITIES_SCHEMA, KINDS, SEVERITIES, finding_id
from .sod import SodConflict, SodPolicy, evaluate_sod, role_names_of

__all__ = ["DEFAULT_DORMANT_DAYS", "FindingsResult", "SnapshotTables", "compute_findings"]

log = logging.getLogger(__name__)

DEFAULT_DORMANT_DAYS = 90
"""Days without a login after which a user is dormant, unless told otherwise."""

_NEEDED = ("users", "roles", "user_role_grants", "group_role_grants")

# The optional inputs a snapshot can carry (schema version 3): input -> (sync resource, table).
_FROM_SNAPSHOT = {
    "logins": ("audit_log", "audit_logins"),
    "federation": ("federation", "user_federation"),
    "sso_enabled": ("sso_config", "sso_config"),
}


def _why_absent(manifest: Any, resource: str) -> str:
    """Why a snapshot lacks a governance resource's table, in words for a finding's detail."""
    status = (manifest.extra.get("governance") or {}).get(resource)
    if isinstance(status, Mapping) and status.get("status") == "unavailable":
        return f"the sync's {resource} resource was unavailable ({status.get('reason')})"
    return f"the snapshot was taken without the {resource} resource"


def _sso_enabled(table: pa.Table, sync_id: str) -> bool | None:
    rows = table.column("enabled").to_pylist()
    if len(rows) > 1:
        raise SnapshotError(f"snapshot {sync_id}: sso_config has {len(rows)} rows; a snapshot holds one")
    return rows[0] if rows else None


@dataclass(frozen=True)
class SnapshotTables:
    """The tables of one snapshot the findings read.

    :param synced_at: when the snapshot was taken (aware, UTC).
    :param logins: the snapshot's ``audit_logins`` (the ``logins`` input), ``None`` when it has none.
    :param federation: its ``user_federation`` as the ``federation`` input, ``None`` when absent.
    :param sso_enabled: ``enabled`` of its ``sso_config`` row, ``None`` when absent or not said.
    :param absent: input name -> why the snapshot does not carry it (for the findings' details).
    """

    account_id: str
    sync_id: str
    synced_at: datetime
    users: pa.Table
    roles: pa.Table
    user_role_grants: pa.Table
    group_role_grants: pa.Table
    logins: pa.Table | None = None
    federation: pa.Table | None = None
    sso_enabled: bool | None = None
    absent: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, store: SnapshotStore | Any, account_id: str, sync_id: str | None = None) -> SnapshotTables:
        """Read a complete snapshot (default: the latest of the account) from a store or its root.

        The optional inputs come along when the sync read them (``audit_log``, ``federation``,
        ``sso_config`` resources); a snapshot without them (or of schema version 2) reads with
        those inputs ``None``, and the findings then say "unknown".

        :raises SnapshotError: no complete snapshot, or one taken without a table the findings
            need (a partial sync).
        """
        store = store if isinstance(store, SnapshotStore) else SnapshotStore(store)
        if sync_id is None:
            latest = store.latest(account_id)
            if latest is None:
                raise SnapshotError(f"no complete snapshot of account {account_id} in {store.path}")
            sync_id = latest.sync_id
        manifest = store.load_manifest(account_id, sync_id)
        try:
            tables = {name: store.read_table(account_id, sync_id, name) for name in _NEEDED}
        except TableNotInSnapshotError as exc:
            raise SnapshotError(
                f"snapshot {sync_id} has no findings: {exc}; take a full sync (without resources=[...])"
            ) from exc
        optional: dict[str, Any] = {}
        absent: dict[str, str] = {}
        for name, (resource, table) in _FROM_SNAPSHOT.items():
            if table not in manifest.tables:
                absent[name] = _why_absent(manifest, resource)
                continue
            data = store.read_table(account_id, sync_id, table)
            if name == "sso_enabled":
                optional[name] = _sso_enabled(data, sync_id)
                if optional[name] is None:
                    absent[name] = "Boomi's SSO settings did not say whether SSO is enabled"
            elif name == "logins":
                optional[name] = data.select(["user_id", "last_login_at", "window_start"])
            else:
                optional[name] = data.select(["user_id", "federation_id"])
        return cls(account_id, sync_id, manifest.synced_at, **tables, **optional, absent=absent)


@dataclass(frozen=True)
class FindingsResult:
    """The findings of one snapshot.

    :param findings: one row per finding (:data:`~.schema.FINDINGS_SCHEMA`).
    :param identities: one row per Boomi user (:data:`~.schema.IDENTITIES_SCHEMA`).
    :param summary: counts per kind and severity, and the inputs used (JSON-friendly).
    """

    account_id: str
    sync_id: str
    synced_at: datetime
    as_of: datetime
    findings: pa.Table
    identities: pa.Table
    summary: Mapping[str, Any] = field(hash=False)

    def counts(self) -> dict[str, int]:
        """Findings per kind, every kind listed."""
        return dict(self.summary["counts"])


def _aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{what} must be a timezone-aware datetime (UTC), got {value!r}")
    return value.astimezone(UTC)


def _classify(roles: pa.Table, policy: PrivilegePolicy) -> dict[str, bool | None]:
    result: dict[str, bool | None] = {}
    for role in roles.to_pylist():
        effective = role.get("effective_privileges")
        result[role["role_id"]] = policy.classify(
            role.get("name"), None if effective is None else tuple(effective)
        )
    return result


def _person_evidence(person: Person, by: str | None, source: str) -> dict[str, Any]:
    return {
        "source": source,
        "source_row": person.source_row,
        "email": person.email,
        "employee_id": person.employee_id,
        "status": person.status,
        "end_date": person.end_date.isoformat() if person.end_date else None,
        "kind": person.kind,
        "owner_email": person.owner_email,
        "manager_email": person.manager_email,
        "matched_by": by,
    }


def _identity_columns(match: IdentityMatch) -> dict[str, Any]:
    person = match.person
    return {
        "identity_match": match.outcome,
        "matched_by": match.matched_by,
        "person_kind": person.kind if person else None,
        "person_email": person.email if person else None,
        "employee_id": person.employee_id if person else None,
        "person_status": person.status if person else None,
        "end_date": person.end_date if person else None,
        "manager_email": person.manager_email if person else None,
        "department": person.department if person else None,
        "owner_email": person.owner_email if person else None,
        "source_row": person.source_row if person else None,
    }


def _days(delta: timedelta) -> int:
    return delta // timedelta(days=1)


class _Builder:
    """Accumulates finding rows; one place fills the columns every finding has."""

    def __init__(self, tables: SnapshotTables, as_of: datetime, emails: Mapping[str, str | None]) -> None:
        self.tables = tables
        self.as_of = as_of
        self.emails = emails
        self.rows: list[dict[str, Any]] = []
        self.ids: set[str] = set()
        self._logins: dict[str, dict[str, Any]] | None = None

    def login_index(self, logins: pa.Table) -> dict[str, dict[str, Any]]:
        """The logins rows by user, built once per computation."""
        if self._logins is None:
            self._logins = {r["user_id"]: r for r in logins.to_pylist()}
        return self._logins

    def add(
        self,
        kind: str,
        severity: str,
        match: IdentityMatch,
        grants: Sequence[Grant],
        detail: str,
        evidence: Mapping[str, Any],
        subject: str = "",
        **columns: Any,
    ) -> None:
        fid = finding_id(self.tables.account_id, kind, match.user_id, subject)
        if fid in self.ids:  # a rule producing one finding twice is a bug, not data to write
            raise AssertionError(f"finding {kind} {match.user_id} {subject} computed twice")
        self.ids.add(fid)
        row = dict.fromkeys(FINDINGS_SCHEMA.names)
        row.update(
            account_id=self.tables.account_id,
            sync_id=self.tables.sync_id,
            synced_at=self.tables.synced_at,
            as_of=self.as_of,
            finding_id=fid,
            kind=kind,
            severity=severity,
            user_id=match.user_id,
            email=self.emails.get(match.user_id),
            subject=subject,
            grant_ids=sorted(g.grant_id for g in grants),
            federation_id=match.federation_id,
            detail=detail,
            evidence=json.dumps(
                {**evidence, "grants": [g.evidence() for g in sorted(grants, key=lambda g: g.grant_id)]},
                sort_keys=True,
                default=str,
            ),
        )
        row.update(_identity_columns(match))
        row.update(columns)
        self.rows.append(row)


def compute_findings(
    tables: SnapshotTables,
    people: People,
    *,
    as_of: datetime,
    policy: PrivilegePolicy | None = None,
    sod_rules: SodPolicy | None = None,
    logins: Any = None,
    federation: Any = None,
    sso_enabled: bool | None = None,
    dormant_days: int = DEFAULT_DORMANT_DAYS,
    previous_revocations: Any = None,
    on_unknown_role: str = "fail",
    computed_at: datetime | None = None,
) -> FindingsResult:
    """Compute every finding of one snapshot (each kind's rule is in ``docs/findings.md``).

    :param tables: the snapshot (:meth:`SnapshotTables.read`).
    :param people: the identity source (:func:`~.identity.load_people`).
    :param as_of: the time the rules are evaluated at: end dates on or before its (UTC) day are
        past, dormancy counts up to it. Usually the snapshot's ``synced_at``.
    :param policy: which roles are privileged (``PrivilegePolicy.preset("default"|"sox")``);
        default ``preset("default")``. Applied to the snapshot's roles here, whatever policy the
        sync used.
    :param sod_rules: the SoD policy (:func:`~.sod.load_sod_policy`); ``None``: no SoD check.
    :param logins: a logins frame (:data:`~.inputs.LOGINS_SCHEMA`); ``None``: the snapshot's
        ``audit_logins`` if it has them, else every user is ``dormant_unknown``.
    :param federation: a federation frame (:data:`~.inputs.FEDERATION_SCHEMA`), also used to
        match users to the identity source by federation id; ``None``: the snapshot's
        ``user_federation`` if it has it.
    :param sso_enabled: whether the account enforces SSO; ``None``: the snapshot's
        ``sso_config``, and without it every user is ``sso_unknown``; ``False``: no SSO findings
        (there is no SSO to be outside of).
    :param dormant_days: days without a login that make a user dormant.
    :param previous_revocations: revocations of earlier reviews (:data:`~.inputs.REVOCATIONS_SCHEMA`).
    :param on_unknown_role: what to do when an SoD rule names a role the snapshot lacks
        (``fail`` or ``warn``; see :func:`~.sod.evaluate_sod`).
    :param computed_at: recorded in the summary; default now.
    :raises ValueError: an input is malformed (the message says which and how).
    :raises SodPolicyError: an SoD rule names an unknown role (with ``on_unknown_role="fail"``).
    """
    as_of = _aware(as_of, "as_of")
    synced_at = _aware(tables.synced_at, "synced_at")
    if isinstance(dormant_days, bool) or not isinstance(dormant_days, int) or dormant_days < 1:
        raise ValueError(f"dormant_days must be a whole number of days, at least 1; got {dormant_days!r}")
    if sso_enabled is not None and not isinstance(sso_enabled, bool):
        raise ValueError(f"sso_enabled must be True, False or None (unknown), got {sso_enabled!r}")
    policy = policy or PrivilegePolicy.preset("default")
    # What the caller gives wins; else what the snapshot carries (the sync's governance resources).
    sources = {
        "logins": "given" if logins is not None else ("snapshot" if tables.logins is not None else None),
        "federation": "given"
        if federation is not None
        else ("snapshot" if tables.federation is not None else None),
        "sso_enabled": "given"
        if sso_enabled is not None
        else ("snapshot" if tables.sso_enabled is not None else None),
    }
    logins = logins if logins is not None else tables.logins
    federation = federation if federation is not None else tables.federation
    sso_enabled = sso_enabled if sso_enabled is not None else tables.sso_enabled
    logins_table = as_logins(logins) if logins is not None else None
    federation_table = as_federation(federation) if federation is not None else None
    revocations = as_revocations(previous_revocations) if previous_revocations is not None else None

    grants = effective_grants(tables.user_role_grants.to_pylist(), tables.group_role_grants.to_pylist())
    by_user: dict[str, list[Grant]] = {}
    for grant in grants:
        by_user.setdefault(grant.user_id, []).append(grant)
    emails = {u["user_id"]: u.get("email") for u in tables.users.to_pylist()}
    fed_ids: dict[str, str | None] = (
        {r["user_id"]: r["federation_id"] for r in federation_table.to_pylist()}
        if federation_table is not None
        else {}
    )
    users = sorted(set(emails) | set(by_user))
    matches = match_users(users, people, fed_ids)
    privileged = _classify(tables.roles, policy)
    builder = _Builder(tables, as_of, emails)
    warnings: list[str] = []

    def possibly_privileged(user_id: str) -> bool:
        return any(privileged.get(g.role_id) is not False for g in by_user.get(user_id, ()))

    for user_id in users:
        held = by_user.get(user_id, [])
        if not held:
            continue  # findings are about access held; a user row without grants holds none
        match = matches[user_id]
        raised = possibly_privileged(user_id)
        _identity_findings(builder, match, held, people, as_of, raised)
        _dormant_findings(builder, match, held, logins_table, as_of, dormant_days, raised)
        _sso_findings(builder, match, held, sso_enabled, federation_table, raised)
        for grant in held:
            _privilege_finding(builder, match, grant, privileged.get(grant.role_id, None), policy)
    if revocations is not None:
        _regrant_findings(builder, matches, grants, revocations, synced_at)
    if sod_rules is not None:
        conflicts, unresolved = evaluate_sod(
            sod_rules,
            grants,
            role_names_of(tables.roles.to_pylist(), grants),
            on_unknown_role=on_unknown_role,
        )
        warnings.extend(unresolved)
        for conflict in conflicts:
            _sod_finding(builder, matches[conflict.user_id], conflict)

    order = {kind: i for i, kind in enumerate(KINDS)}
    builder.rows.sort(key=lambda r: (order[r["kind"]], r["user_id"].casefold(), r["user_id"], r["subject"]))
    findings = pa.Table.from_pylist(builder.rows, schema=FINDINGS_SCHEMA)
    identities = pa.Table.from_pylist(
        [
            {
                "account_id": tables.account_id,
                "sync_id": tables.sync_id,
                "synced_at": synced_at,
                "user_id": user_id,
                "email": emails.get(user_id),
                "candidates": len(matches[user_id].candidates),
                "federation_id": matches[user_id].federation_id,
                **_identity_columns(matches[user_id]),
            }
            for user_id in users
        ],
        schema=IDENTITIES_SCHEMA,
    )
    for warning in warnings:
        log.warning("Findings of snapshot %s: %s", tables.sync_id, warning)
    summary = _summary(
        tables,
        synced_at,
        as_of,
        computed_at or datetime.now(UTC),
        builder.rows,
        matches,
        {
            "people": {"source": people.source, "rows": len(people)},
            "sod_policy": (
                None
                if sod_rules is None
                else {
                    "source": sod_rules.source,
                    "sha256": sod_rules.sha256,
                    "rules": [r.name for r in sod_rules.rules],
                }
            ),
            "privileged_policy": {
                "privileges": sorted(policy.privileges),
                "role_names": sorted(policy.role_names),
            },
            "dormant_days": dormant_days,
            "logins": None
            if logins_table is None
            else {"rows": logins_table.num_rows, "from": sources["logins"]},
            "federation": None
            if federation_table is None
            else {"rows": federation_table.num_rows, "from": sources["federation"]},
            "sso_enabled": sso_enabled,
            "sso_enabled_from": sources["sso_enabled"],
            "absent": {k: v for k, v in tables.absent.items() if sources.get(k) is None},
            "previous_revocations": None if revocations is None else {"rows": revocations.num_rows},
        },
        warnings,
    )
    return FindingsResult(tables.account_id, tables.sync_id, synced_at, as_of, findings, identities, summary)


def _summary(
    tables: SnapshotTables,
    synced_at: datetime,
    as_of: datetime,
    computed_at: datetime,
    rows: Sequence[Mapping[str, Any]],
    matches: Mapping[str, IdentityMatch],
    inputs: Mapping[str, Any],
    warnings: Sequence[str],
) -> dict[str, Any]:
    counts = dict.fromkeys(KINDS, 0)
    severity = dict.fromkeys(SEVERITIES, 0)
    for row in rows:
        counts[row["kind"]] += 1
        severity[row["severity"]] += 1
    outcomes = {"matched": 0, "unmatched": 0, "ambiguous": 0}
    for match in matches.values():
        outcomes[match.outcome] += 1
    return {
        "findings_schema_version": FINDINGS_SCHEMA_VERSION,
        "account_id": tables.account_id,
        "sync_id": tables.sync_id,
        "synced_at": synced_at.isoformat(),
        "as_of": as_of.isoformat(),
        "computed_at": computed_at.astimezone(UTC).isoformat(),
        "findings": len(rows),
        "counts": counts,
        "severity": severity,
        "users": len(matches),
        "identity": outcomes,
        "inputs": dict(inputs),
        "warnings": list(warnings),
    }


def _identity_findings(
    builder: _Builder,
    match: IdentityMatch,
    held: Sequence[Grant],
    people: People,
    as_of: datetime,
    raised: bool,
) -> None:
    """leaver, orphan, ambiguous_identity and service_account."""
    source = people.source
    if match.outcome == "ambiguous":
        rows = ", ".join(f"{by} of row {p.source_row}" for p, by in match.candidates)
        builder.add(
            "ambiguous_identity",
            "medium",
            match,
            held,
            f"{match.user_id} matches {len(match.candidates)} rows of the identity source ({rows}); "
            "not guessed: make the email or federation id unique",
            {"candidates": [_person_evidence(p, by, source) for p, by in match.candidates]},
        )
        return
    if match.outcome == "unmatched":
        builder.add(
            "orphan",
            "critical" if raised else "high",
            match,
            held,
            f"{match.user_id} holds {len(held)} grant(s) and matches no row of the identity source "
            f"by email{' or federation id ' + repr(match.federation_id) if match.federation_id else ''}",
            {"identity_source": source, "federation_id": match.federation_id},
        )
        return
    person = match.person
    assert person is not None
    day = as_of.date()
    if person.has_ended(day):
        reasons = []
        if person.status == "ended":
            reasons.append("status ended")
        if person.end_date is not None and person.end_date <= day:
            reasons.append(f"end date {person.end_date.isoformat()} on or before {day.isoformat()}")
        builder.add(
            "leaver",
            "critical" if raised else "high",
            match,
            held,
            f"{match.user_id} has left ({' and '.join(reasons)}; identity source row {person.source_row}) "
            f"and still holds {len(held)} grant(s)",
            {"person": _person_evidence(person, match.matched_by, source), "reasons": reasons},
        )
    if person.kind == "service":
        problem = _owner_problem(person, people, day)
        if problem is not None:
            builder.add(
                "service_account",
                "high",
                match,
                held,
                f"service account {match.user_id} (identity source row {person.source_row}): {problem}",
                {"person": _person_evidence(person, match.matched_by, source), "owner_problem": problem},
            )


def _owner_problem(service: Person, people: People, day: Any) -> str | None:
    """Why a service account has no accountable owner, or ``None`` when it has one."""
    if service.owner_email is None:
        return "no owner; set owner_email to the person accountable for it"
    owners = people.by_email(service.owner_email)
    if not owners:
        return f"its owner {service.owner_email} is not in the identity source"
    if len(owners) > 1:
        return f"its owner {service.owner_email} matches {len(owners)} rows of the identity source"
    owner = owners[0]
    if owner.kind != "person":
        return f"its owner {service.owner_email} is a service account, not a person"
    if owner.has_ended(day):
        return f"its owner {service.owner_email} has left (identity source row {owner.source_row})"
    return None


def _dormant_findings(
    builder: _Builder,
    match: IdentityMatch,
    held: Sequence[Grant],
    logins: pa.Table | None,
    as_of: datetime,
    dormant_days: int,
    raised: bool,
) -> None:
    """dormant and dormant_unknown."""
    threshold = timedelta(days=dormant_days)
    if logins is None:
        why = builder.tables.absent.get("logins")
        builder.add(
            "dormant_unknown",
            "info",
            match,
            held,
            "no login data was given (the logins input is absent"
            + (f"; {why}" if why else "")
            + "), so dormancy is unknown",
            {"reason": "no_logins_input", **({"why": why} if why else {})},
        )
        return
    index = builder.login_index(logins)
    if not any(r["last_login_at"] is not None for r in index.values()):
        builder.add(
            "dormant_unknown",
            "info",
            match,
            held,
            f"the login window read holds no login of anyone ({logins.num_rows} row(s)): the audit log "
            "may not record logins, so no user can be called dormant",
            {"reason": "empty_login_window", "rows": logins.num_rows},
        )
        return
    row = index.get(match.user_id)
    if row is None:
        builder.add(
            "dormant_unknown",
            "info",
            match,
            held,
            f"the logins input has no row for {match.user_id}",
            {"reason": "no_login_row"},
        )
        return
    last, start = row["last_login_at"], row["window_start"]
    columns = {"last_login_at": last, "login_window_start": start}
    evidence = {"last_login_at": last, "window_start": start, "as_of": as_of, "dormant_days": dormant_days}
    severity = "high" if raised else "medium"
    if last is not None:
        if as_of - last >= threshold:
            builder.add(
                "dormant",
                severity,
                match,
                held,
                f"last login {last.isoformat()}, {_days(as_of - last)} days before {as_of.isoformat()} "
                f"(threshold {dormant_days} days)",
                evidence,
                **columns,
            )
        return
    if as_of - start >= threshold:
        builder.add(
            "dormant",
            severity,
            match,
            held,
            f"no login since the start of the window read ({start.isoformat()}, {_days(as_of - start)} days "
            f"before {as_of.isoformat()}; threshold {dormant_days} days)",
            evidence,
            **columns,
        )
    else:
        builder.add(
            "dormant_unknown",
            "info",
            match,
            held,
            f"no login in the window read, which covers only {_days(as_of - start)} days "
            f"(from {start.isoformat()}), less than the {dormant_days} days that make a user dormant",
            {**evidence, "reason": "window_shorter_than_threshold"},
            **columns,
        )


def _sso_findings(
    builder: _Builder,
    match: IdentityMatch,
    held: Sequence[Grant],
    sso_enabled: bool | None,
    federation: pa.Table | None,
    raised: bool,
) -> None:
    """no_sso and sso_unknown."""
    if sso_enabled is False:
        return
    if sso_enabled is None or federation is None:
        missing = "the account's SSO setting" if sso_enabled is None else "the federation ids"
        why = builder.tables.absent.get("sso_enabled" if sso_enabled is None else "federation")
        builder.add(
            "sso_unknown",
            "info",
            match,
            held,
            f"{missing} {'was' if sso_enabled is None else 'were'} not given"
            + (f" ({why})" if why else "")
            + ", so SSO use is unknown",
            {
                "reason": "no_sso_setting" if sso_enabled is None else "no_federation_input",
                **({"why": why} if why else {}),
            },
        )
        return
    if match.federation_id is None:
        builder.add(
            "no_sso",
            "high" if raised else "medium",
            match,
            held,
            f"{match.user_id} has no federation id in an account with SSO enabled"
            + (" and holds possibly privileged access" if raised else ""),
            {"sso_enabled": True, "federation_id": None, "possibly_privileged": raised},
        )


def _privilege_finding(
    builder: _Builder, match: IdentityMatch, grant: Grant, classified: bool | None, policy: PrivilegePolicy
) -> None:
    """privileged and privilege_unknown, one per grant."""
    if classified is False:
        return
    label = grant.role_name or grant.role_id
    where = "" if grant.grant_kind == "global_role" else f" {grant.path}"
    columns = {
        "role_id": grant.role_id,
        "role_name": grant.role_name,
        "account_group_id": grant.account_group_id,
        "account_group_name": grant.account_group_name,
    }
    evidence = {"privileges": sorted(policy.privileges), "role_names": sorted(policy.role_names)}
    if classified:
        builder.add(
            "privileged",
            "low",
            match,
            [grant],
            f"holds privileged role {label}{where}",
            evidence,
            subject=grant.grant_id,
            **columns,
        )
    else:
        builder.add(
            "privilege_unknown",
            "medium",
            match,
            [grant],
            f"holds role {label}{where}, whose privileges are unknown (possibly privileged)",
            evidence,
            subject=grant.grant_id,
            **columns,
        )


def _regrant_findings(
    builder: _Builder,
    matches: Mapping[str, IdentityMatch],
    grants: Sequence[Grant],
    revocations: pa.Table,
    synced_at: datetime,
) -> None:
    """regranted: revoked before the snapshot was taken, present in it."""
    earlier: dict[tuple[str, str, str | None], list[dict[str, Any]]] = {}
    for row in revocations.to_pylist():
        if row["revoked_at"] < synced_at:
            earlier.setdefault((row["user_id"], row["role_id"], row["account_group_id"]), []).append(row)
    for grant in grants:
        found = earlier.get((grant.user_id, grant.role_id, grant.account_group_id))
        if not found:
            continue
        latest = max(found, key=lambda r: r["revoked_at"])
        where = "" if grant.grant_kind == "global_role" else f" {grant.path}"
        builder.add(
            "regranted",
            "high",
            matches[grant.user_id],
            [grant],
            f"role {grant.role_name or grant.role_id}{where} was revoked at "
            f"{latest['revoked_at'].isoformat()}"
            f"{' in ' + latest['revoked_in'] if latest['revoked_in'] else ''} and is held again",
            {"revocations": sorted(found, key=lambda r: r["revoked_at"])},
            subject=grant.grant_id,
            role_id=grant.role_id,
            role_name=grant.role_name,
            account_group_id=grant.account_group_id,
            account_group_name=grant.account_group_name,
            revoked_at=latest["revoked_at"],
            revoked_in=latest["revoked_in"],
        )


def _sod_finding(builder: _Builder, match: IdentityMatch, conflict: SodConflict) -> None:
    rule = conflict.rule
    paths = "; ".join(
        f"{entry}: " + ", ".join(f"{g.role_name or g.role_id} ({g.path})" for g in grants)
        for entry, grants in conflict.held
    )
    scope = (
        ""
        if conflict.account_group_id is None
        else f" within account group {conflict.account_group_name or conflict.account_group_id}"
    )
    subject = f"sod:{rule.name}" + (
        "" if conflict.account_group_id is None else f":group:{conflict.account_group_id}"
    )
    builder.add(
        "sod_conflict",
        rule.severity,
        match,
        conflict.grants,
        f"holds every role of SoD rule {rule.name!r}{scope}: {paths}",
        {
            "rule": {
                "name": rule.name,
                "roles": list(rule.roles),
                "scope": rule.scope,
                "description": rule.description,
            },
            "held": {entry: [g.grant_id for g in grants] for entry, grants in conflict.held},
        },
        subject=subject,
        sod_rule=rule.name,
        account_group_id=conflict.account_group_id,
        account_group_name=conflict.account_group_name,
    )
