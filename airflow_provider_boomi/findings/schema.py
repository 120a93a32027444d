"""Arrow schemas of the findings tables, the finding kinds and severities, defined once.

Every consumer (the store, the warehouse, the review) reads these names from here: a kind
spelled differently in two places would make a finding silently disappear from one of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from types import MappingProxyType

import pyarrow as pa

from airflow_provider_boomi.dataset.schemas import TIMESTAMP_UTC

__all__ = [
    "FINDINGS_SCHEMA",
    "FINDINGS_SCHEMA_VERSION",
    "IDENTITIES_SCHEMA",
    "KINDS",
    "SEVERITIES",
    "UNKNOWN_KINDS",
    "finding_id",
]

#: Bumped whenever a column of the findings or identities table changes.
FINDINGS_SCHEMA_VERSION = 1

#: Every kind of finding, with what it means (``docs/findings.md`` gives each exact rule).
KINDS: Mapping[str, str] = MappingProxyType(
    {
        "leaver": "ended in the identity source and still holds access",
        "orphan": "matches no person or service account of the identity source",
        "service_account": "a service account without an owner who is an active person",
        "ambiguous_identity": "matches more than one row of the identity source; not guessed",
        "dormant": "no login for at least dormant_days",
        "dormant_unknown": "whether the user is dormant cannot be told from the inputs given",
        "no_sso": "no federation id in an account with SSO enabled",
        "sso_unknown": "whether the user signs in through SSO cannot be told from the inputs given",
        "regranted": "a grant revoked in an earlier review is present again",
        "sod_conflict": "holds every role of a segregation-of-duties rule",
        "privileged": "a grant of a privileged role",
        "privilege_unknown": "a grant of a role whose privileges are unknown (possibly privileged)",
    }
)

#: The kinds that record a gap in the inputs rather than a problem in the account.
UNKNOWN_KINDS: frozenset[str] = frozenset({"dormant_unknown", "sso_unknown"})

#: Severities, most severe first.
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")

_STRING_LIST = pa.list_(pa.field("element", pa.string(), nullable=False))


def _f(name: str, type_: pa.DataType, nullable: bool, description: str) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


_SNAPSHOT_COLUMNS = (
    _f("account_id", pa.string(), False, "Boomi account id of the snapshot the findings are about."),
    _f("sync_id", pa.string(), False, "Id of the snapshot the findings were computed from."),
    _f("synced_at", TIMESTAMP_UTC, False, "When that snapshot was taken (UTC)."),
)

_PERSON_COLUMNS = (
    _f("identity_match", pa.string(), False, "matched, unmatched or ambiguous (see docs/findings.md)."),
    _f("matched_by", pa.string(), True, "email, federation_id or email+federation_id; null unless matched."),
    _f("person_kind", pa.string(), True, "person or service, from the identity source; null unless matched."),
    _f("person_email", pa.string(), True, "The matched row's email as the identity source spells it."),
    _f("employee_id", pa.string(), True, "The matched row's employee id."),
    _f("person_status", pa.string(), True, "The matched row's status: active, leave, pending or ended."),
    _f("end_date", pa.date32(), True, "The matched row's end date."),
    _f("manager_email", pa.string(), True, "The matched row's manager (who reviews the user's access)."),
    _f("department", pa.string(), True, "The matched row's department."),
    _f("owner_email", pa.string(), True, "The matched service account's owner."),
    _f("source_row", pa.int64(), True, "Row of the identity source matched (CSV: line; else 1-based row)."),
)

FINDINGS_SCHEMA = pa.schema(
    [
        *_SNAPSHOT_COLUMNS,
        _f("as_of", TIMESTAMP_UTC, False, "The time the rules were evaluated at (end dates, dormancy)."),
        _f("finding_id", pa.string(), False, "Deterministic id from (account, kind, user, subject)."),
        _f("kind", pa.string(), False, "Kind of finding (see KINDS)."),
        _f("severity", pa.string(), False, "critical, high, medium, low or info."),
        _f("user_id", pa.string(), False, "Boomi userId the finding is about."),
        _f("email", pa.string(), True, "The user's lower-cased email from the snapshot."),
        _f("subject", pa.string(), False, "What within the user: '' (the user), a grant id, or an SoD rule."),
        _f("role_id", pa.string(), True, "Role of a grant finding (privileged, regranted)."),
        _f("role_name", pa.string(), True, "Name of that role, when known."),
        _f(
            "account_group_id",
            pa.string(),
            True,
            "Account group of a group grant or a group-scoped SoD rule.",
        ),
        _f("account_group_name", pa.string(), True, "Name of that account group, when known."),
        _f(
            "grant_ids",
            _STRING_LIST,
            False,
            "The grants the finding is about (all of the user's for a user finding).",
        ),
        _f("sod_rule", pa.string(), True, "Name of the SoD rule of an sod_conflict."),
        *_PERSON_COLUMNS,
        _f("federation_id", pa.string(), True, "The user's federation id from the federation input."),
        _f("last_login_at", TIMESTAMP_UTC, True, "The user's last login within the login window read."),
        _f("login_window_start", TIMESTAMP_UTC, True, "Start of the login window read for the user."),
        _f("revoked_at", TIMESTAMP_UTC, True, "When the regranted grant was revoked (latest revocation)."),
        _f("revoked_in", pa.string(), True, "Where that revocation was recorded (e.g. a campaign id)."),
        _f("detail", pa.string(), False, "One sentence saying what was found, from which rows."),
        _f("evidence", pa.string(), False, "JSON object with the rows the finding derives from."),
    ],
    metadata={"boomi.table": "findings", "boomi.findings_schema_version": str(FINDINGS_SCHEMA_VERSION)},
)
"""One row per finding. ``docs/findings.md`` lists every column and kind."""

IDENTITIES_SCHEMA = pa.schema(
    [
        *_SNAPSHOT_COLUMNS,
        _f("user_id", pa.string(), False, "Boomi userId."),
        _f("email", pa.string(), True, "The user's lower-cased email from the snapshot."),
        *_PERSON_COLUMNS,
        _f("candidates", pa.int32(), False, "Rows of the identity source the user matched (0, 1 or more)."),
        _f("federation_id", pa.string(), True, "The user's federation id from the federation input."),
    ],
    metadata={"boomi.table": "identities", "boomi.findings_schema_version": str(FINDINGS_SCHEMA_VERSION)},
)
"""One row per Boomi user of the snapshot: who they are in the identity source (and so who their
manager is, for routing review items)."""


def finding_id(account_id: str, kind: str, user_id: str, subject: str) -> str:
    """The deterministic id of a finding: the same finding in two snapshots has the same id.

    A SHA-256 over the four parts separated by a unit separator (which no Boomi id contains),
    so ``("a:b", "c")`` and ``("a", "b:c")`` cannot collide.

    :param account_id: Boomi account id.
    :param kind: the finding's kind (one of :data:`KINDS`).
    :param user_id: the Boomi userId.
    :param subject: what within the user ('' for the user, a grant id, an SoD rule).
    """
    digest = hashlib.sha256("\x1f".join((account_id, kind, user_id, subject)).encode("utf-8"))
    return "f-" + digest.hexdigest()[:32]
