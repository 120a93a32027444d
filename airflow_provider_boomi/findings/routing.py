"""What a review campaign takes from the findings: flags per grant, and a manager per user.

Kept here, next to the findings, so the review reads one answer instead of re-deriving it: a
review item is a grant, and a grant carries the kind of every finding whose ``grant_ids`` name
it (a finding about a user names all of the user's grants). The reviewer of a user's items can
be their manager from the identity source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pyarrow as pa

from .schema import KINDS, UNKNOWN_KINDS

__all__ = ["finding_labels_by_grant", "flags_by_grant", "managers_by_user"]


def flags_by_grant(findings: pa.Table, *, kinds: Iterable[str] | None = None) -> dict[str, tuple[str, ...]]:
    """Grant id -> the kinds of the findings about it, in the order of :data:`~.schema.KINDS`.

    :param findings: a findings table (:data:`~.schema.FINDINGS_SCHEMA`).
    :param kinds: only these kinds (for instance without the ``*_unknown`` ones); default all.
    """
    wanted = set(KINDS if kinds is None else kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise ValueError(f"unknown finding kind(s) {sorted(unknown)}; the kinds are {', '.join(KINDS)}")
    flags: dict[str, set[str]] = {}
    for kind, grant_ids in zip(
        findings.column("kind").to_pylist(), findings.column("grant_ids").to_pylist(), strict=True
    ):
        if kind in wanted:
            for grant_id in grant_ids:
                flags.setdefault(grant_id, set()).add(kind)
    order = {kind: i for i, kind in enumerate(KINDS)}
    return {grant_id: tuple(sorted(found, key=order.__getitem__)) for grant_id, found in flags.items()}


def finding_labels_by_grant(findings: pa.Table) -> dict[str, tuple[str, ...]]:
    """Grant id -> what a reviewer reads about it: one label per finding, kinds in the order of
    :data:`~.schema.KINDS`, each kind once, except ``sod_conflict``, once per rule and labelled
    ``sod_conflict: <rule>`` (which rule the grant breaks is what the reviewer must judge).

    The kinds of :data:`~.schema.UNKNOWN_KINDS` are left out: they say an input was missing
    (no logins, no federation ids), which is true of every user alike and tells a reviewer
    nothing about this grant; the campaign's report counts them instead.

    :param findings: a findings table (:data:`~.schema.FINDINGS_SCHEMA`).
    """
    order = {kind: i for i, kind in enumerate(KINDS)}
    labels: dict[str, set[tuple[int, str]]] = {}
    for kind, rule, grant_ids in zip(
        findings.column("kind").to_pylist(),
        findings.column("sod_rule").to_pylist(),
        findings.column("grant_ids").to_pylist(),
        strict=True,
    ):
        if kind in UNKNOWN_KINDS:
            continue
        label = f"{kind}: {rule}" if kind == "sod_conflict" and rule else kind
        for grant_id in grant_ids:
            labels.setdefault(grant_id, set()).add((order[kind], label))
    return {grant_id: tuple(label for _, label in sorted(found)) for grant_id, found in labels.items()}


def managers_by_user(identities: pa.Table) -> Mapping[str, str | None]:
    """User id -> the manager's email from the identity source (``None`` when the user matched no
    row, or several, or the row names no manager): where to route the user's review items."""
    return {
        user_id: manager if outcome == "matched" else None
        for user_id, outcome, manager in zip(
            identities.column("user_id").to_pylist(),
            identities.column("identity_match").to_pylist(),
            identities.column("manager_email").to_pylist(),
            strict=True,
        )
    }
