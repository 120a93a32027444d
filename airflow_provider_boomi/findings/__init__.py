"""Findings: what should not be there, computed once per snapshot for every consumer.

Leavers, orphans, service accounts without an owner, ambiguous identities, dormant users, users
outside SSO, grants revoked and present again, segregation-of-duties conflicts and privileged
access, from a snapshot, an identity source (:mod:`.identity`), an SoD policy (:mod:`.sod`) and
optional login and federation inputs (:mod:`.inputs`); leavers also become a proposed change
set of ``offboard_user`` changes (:mod:`.proposals`), never applied here. No Airflow import. See
``docs/findings.md`` for every rule.
"""

from __future__ import annotations

from .compute import DEFAULT_DORMANT_DAYS, FindingsResult, SnapshotTables, compute_findings
from .grants import Grant, effective_grants
from .identity import (
    IdentityMatch,
    IdentitySourceError,
    People,
    Person,
    identity_key,
    load_people,
    match_users,
    people_from_sql,
)
from .inputs import (
    FEDERATION_SCHEMA,
    LOGINS_SCHEMA,
    REVOCATIONS_SCHEMA,
    as_federation,
    as_logins,
    as_revocations,
)
from .proposals import (
    PROPOSAL_FILE,
    StaleProposalError,
    offboarding_changes,
    read_offboarding_proposal,
    remove_offboarding_proposal,
    write_offboarding_proposal,
)
from .routing import flags_by_grant, managers_by_user
from .schema import FINDINGS_SCHEMA, IDENTITIES_SCHEMA, KINDS, SEVERITIES, UNKNOWN_KINDS, finding_id
from .sod import (
    SodConflict,
    SodPolicy,
    SodPolicyError,
    SodRule,
    evaluate_sod,
    load_sod_policy,
    parse_sod_policy,
)
from .store import FindingsNotFoundError, StoredFindings, list_findings, read_findings, write_findings

__all__ = [
    "DEFAULT_DORMANT_DAYS",
    "FEDERATION_SCHEMA",
    "FINDINGS_SCHEMA",
    "IDENTITIES_SCHEMA",
    "KINDS",
    "LOGINS_SCHEMA",
    "PROPOSAL_FILE",
    "REVOCATIONS_SCHEMA",
    "SEVERITIES",
    "UNKNOWN_KINDS",
    "FindingsNotFoundError",
    "FindingsResult",
    "Grant",
    "IdentityMatch",
    "IdentitySourceError",
    "People",
    "Person",
    "SnapshotTables",
    "SodConflict",
    "SodPolicy",
    "SodPolicyError",
    "SodRule",
    "StaleProposalError",
    "StoredFindings",
    "as_federation",
    "as_logins",
    "as_revocations",
    "compute_findings",
    "effective_grants",
    "evaluate_sod",
    "finding_id",
    "flags_by_grant",
    "identity_key",
    "list_findings",
    "load_people",
    "load_sod_policy",
    "managers_by_user",
    "match_users",
    "offboarding_changes",
    "parse_sod_policy",
    "people_from_sql",
    "read_findings",
    "read_offboarding_proposal",
    "remove_offboarding_proposal",
    "write_findings",
    "write_offboarding_proposal",
]
