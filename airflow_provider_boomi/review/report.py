"""The campaign's HTML report: one self-contained file, inline CSS and hand-made SVG charts.

No JavaScript, no fonts, no CDN, no external images: the report is audit evidence that must
open the same way years later, offline, and must not call anywhere when opened. Every value
from Boomi goes through :func:`_h`: invisible characters made visible (a direction override
must not reorder a role name, a zero-width space must not make two names look the same), then
HTML-escaped.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from airflow_provider_boomi.findings.schema import KINDS

from .campaign import FLAGGED_KINDS, GROUP_ROLE, Campaign, ReviewItem
from .cells import visible_text

if TYPE_CHECKING:
    from .status import CampaignStatus

__all__ = ["bar_chart", "render_report"]

#: Rows shown per table; the workbook has everything, the report is the overview.
TABLE_LIMIT = 500
#: Bars per chart; the rest is summed into one "other" bar.
CHART_BARS = 15
#: The order of the Findings section: people who left and toxic combinations first (what an
#: auditor asks about first), then every other kind in the findings' own order.
FINDINGS_ORDER: tuple[str, ...] = (
    "leaver",
    "sod_conflict",
    *(kind for kind in FLAGGED_KINDS if kind not in ("leaver", "sod_conflict")),
)

_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:2rem;color:#1f2933;
max-width:1100px}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d9e2ec;
padding-bottom:.3rem}
.meta{color:#52606d;font-size:.9rem}
.cards{display:flex;flex-wrap:wrap;gap:.75rem;margin:1rem 0}
.card{border:1px solid #d9e2ec;border-radius:6px;padding:.6rem .9rem;min-width:8rem}
.card .n{font-size:1.4rem;font-weight:600}.card .l{color:#52606d;font-size:.8rem}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{border-bottom:1px solid #e4e7eb;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f4f8}
.added{color:#1c7c54}.removed{color:#b42318}.flag{font-size:.75rem;background:#fde68a;border-radius:3px;
padding:0 .3rem;margin-left:.3rem}
.note{color:#52606d;font-size:.85rem}
.overdue{color:#b42318;font-weight:600}.decided{color:#1c7c54}.loud{color:#b42318;font-weight:600}
svg text{font-family:inherit;font-size:12px;fill:#1f2933}
"""


def _h(value: object) -> str:
    """A value from Boomi as HTML text: control, direction and zero-width characters visible."""
    return escape(visible_text(str(value)))


def _top(counts: Mapping[str, int], limit: int = CHART_BARS) -> list[tuple[str, int]]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ranked) <= limit:
        return ranked
    head = ranked[: limit - 1]
    return [*head, (f"other ({len(ranked) - len(head)})", sum(v for _, v in ranked[limit - 1 :]))]


def bar_chart(
    title: str, data: Sequence[tuple[str, int]], *, width: int = 720, color: str = "#3e7cb1"
) -> str:
    """A horizontal bar chart as an inline ``<svg>`` element.

    :param title: accessible title of the chart.
    :param data: (label, value) pairs, drawn in the given order.
    :param width: total width in pixels.
    :param color: bar fill.
    """
    bar, gap, label_w, value_w = 18, 6, 260, 60
    height = max(1, len(data)) * (bar + gap) + gap
    plot_w = width - label_w - value_w
    peak = max((v for _, v in data), default=0) or 1
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
    ]
    if not data:
        parts.append(f'<text x="0" y="{bar}">no data</text>')
    for index, (label, value) in enumerate(data):
        y = gap + index * (bar + gap)
        w = max(1.0, plot_w * value / peak) if value else 0.0
        label = visible_text(label)
        short = label if len(label) <= 38 else label[:36] + "…"
        parts.append(
            f"<g><title>{escape(label)}: {value}</title>"
            f'<text x="{label_w - 8}" y="{y + bar - 5}" text-anchor="end">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar}" fill="{color}" rx="2"></rect>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + bar - 5}">{value}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], total: int) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    note = ""
    if total > TABLE_LIMIT:
        note = f'<p class="note">Showing {TABLE_LIMIT} of {total}; the workbook lists every item.</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


def _listing(values: Any) -> str:
    if values is None:
        return "<em>unknown</em>"
    return _h(", ".join(str(v) for v in values)) or "-"


def _completeness_html(facts: Mapping[str, Any]) -> str:
    """Where the reviewed snapshot came from, how it was taken, and that it was read whole."""
    if not facts:
        return '<p class="note">This campaign was built before completeness evidence was recorded.</p>'
    source = facts.get("source") or {}
    extraction = facts.get("extraction") or {}
    facts_rows = [
        ["source API", _h(source.get("api", "not recorded"))],
        ["account", _h(source.get("account_id", ""))],
        ["extraction started", _h(extraction.get("started_at", ""))],
        ["extraction finished", _h(extraction.get("finished_at", ""))],
        ["snapshot time", _h(extraction.get("synced_at", ""))],
        ["parameters", _h(json.dumps(facts.get("parameters") or {}, sort_keys=True))],
    ]
    policy = facts.get("privileged_policy")
    if policy:
        facts_rows.append(
            [
                "privileged when",
                f"a privilege among {_listing(policy.get('privileges'))}, "
                f"or the role is named {_listing(policy.get('role_names'))}",
            ]
        )
    api = facts.get("api_stats") or {}
    facts_rows.append(["API calls", _h(f"{api.get('calls', '?')} ({api.get('retries', 0)} retried)")])
    tables = facts.get("tables") or {}
    table_rows = [
        [
            _h(name),
            _h(t.get("rows_manifest")),
            _h(t.get("rows_read")),
            "yes" if t.get("reconciled") else "<strong>NO</strong>",
            f"<code>{_h(t.get('sha256') or '')}</code>",
        ]
        for name, t in sorted(tables.items())
    ]
    reconciled = all(t.get("reconciled") for t in tables.values())
    verdict = (
        "Every table read for this campaign has the row count its manifest records."
        if reconciled
        else "<strong>A table does not match its manifest: do not rely on this campaign.</strong>"
    )
    warnings = facts.get("warnings") or []
    warnings_html = (
        "<ul>" + "".join(f"<li>{_h(w)}</li>" for w in warnings) + "</ul>"
        if warnings
        else '<p class="note">The sync recorded no warning.</p>'
    )
    roles = facts.get("roles") or []
    role_rows = [
        [
            _h(r.get("name") or r.get("role_id")),
            _listing(r.get("privileges")),
            _listing(r.get("effective_privileges")),
            {True: "yes", False: "", None: "unknown"}.get(r.get("is_privileged"), "unknown"),
        ]
        for r in roles
    ]
    return (
        _table(["fact", "value"], facts_rows, len(facts_rows))
        + f'<p class="note">{verdict}</p>'
        + _table(
            ["table", "rows (manifest)", "rows (read)", "reconciled", "sha256"], table_rows, len(table_rows)
        )
        + "<h3>Warnings of the sync</h3>"
        + warnings_html
        + "<h3>Roles and their privileges</h3>"
        + _table(["role", "privileges", "effective privileges", "privileged"], role_rows, len(role_rows))
    )


def _flags(item: ReviewItem) -> str:
    flags = [
        ("new", item.is_new),
        ("never reviewed", item.never_reviewed),
        ("only via group", item.only_via_group),
    ]
    shown = "".join(f'<span class="flag">{label}</span>' for label, on in flags if on)
    return shown + "".join(f'<span class="flag">{_h(label)}</span>' for label in item.findings)


def _findings_html(campaign: Campaign) -> str:
    """Per finding kind, leavers and SoD conflicts first: how many items, and which."""
    facts = campaign.findings
    if facts is None:
        return (
            '<p class="note">No findings were given to this campaign: its items carry no finding '
            "(build it with the findings of the snapshot to flag leavers, SoD conflicts...).</p>"
        )
    counts = campaign.finding_counts()
    in_snapshot = facts.get("counts") or {}
    intro = (
        f'<p class="note">Findings of snapshot {_h(facts.get("sync_id", ""))}, computed '
        f"{_h(facts.get('computed_at') or '')} (rules evaluated as of {_h(facts.get('as_of') or '')}). "
        f"{sum(bool(i.findings) for i in campaign.items)} of {len(campaign.items)} items are flagged.</p>"
    )
    unknown = {kind: n for kind, n in (facts.get("unknown_users") or {}).items() if n}
    if unknown:
        intro += (
            '<p class="loud">Inputs were missing: '
            + "; ".join(
                f"{_h(kind)} for {n} user(s) ({_h(KINDS.get(kind, ''))})" for kind, n in unknown.items()
            )
            + ". Those users are not flagged for it: give the missing input to the findings.</p>"
        )
    summary_rows = [
        [_h(kind), _h(KINDS.get(kind, "")), str(counts.get(kind, 0)), _h(in_snapshot.get(kind, 0))]
        for kind in FINDINGS_ORDER
    ]
    parts = [
        intro,
        _table(
            ["finding", "meaning", "items flagged", "findings in the snapshot"],
            summary_rows,
            len(summary_rows),
        ),
    ]
    for kind in FINDINGS_ORDER:
        flagged = [i for i in campaign.items if kind in i.finding_kinds]
        if not flagged:
            continue
        rows = [
            [
                _h(i.email or i.user_id),
                _h(i.name),
                _h(i.role_label),
                _h(i.group_label) or "<em>global</em>",
                _h("; ".join(label for label in i.findings if label.split(":", 1)[0] == kind)),
                _h(i.reviewer) if i.reviewer else '<span class="loud">nobody</span>',
            ]
            for i in flagged[:TABLE_LIMIT]
        ]
        parts.append(f'<h3 id="finding-{escape(kind)}">{escape(kind)} ({len(flagged)})</h3>')
        parts.append(_table(["user", "name", "role", "group", "finding", "reviewer"], rows, len(flagged)))
    return "".join(parts)


def _change_rows(changes: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    rows = []
    for c in changes[:TABLE_LIMIT]:
        kind = str(c.get("change_type", ""))
        rows.append(
            [
                f'<span class="{escape(kind)}">{_h(kind)}</span>',
                _h(c.get("email") or c.get("user_id") or ""),
                _h(c.get("role_name") or c.get("role_id") or ""),
                _h(c.get("account_group_name") or c.get("account_group_id") or ""),
                "yes" if c.get("is_privileged") else "",
            ]
        )
    return rows


def _status_html(status: CampaignStatus | None) -> str:
    """Per reviewer: items, decided, pending, overdue, and the state."""
    if status is None:
        return '<p class="note">No status was computed for this report.</p>'
    rows = [
        [
            _h(r.reviewer) if r.reviewer is not None else '<span class="loud">(no reviewer)</span>',
            str(r.items),
            str(r.decided),
            str(r.pending),
            str(r.overdue),
            f'<span class="{escape(r.state)}">{escape(r.state)}</span>',
            _h(r.last_decided_at.isoformat()) if r.last_decided_at else "",
        ]
        for r in status.reviewers
    ]
    rows.append(
        [
            "<strong>total</strong>",
            str(status.items),
            str(status.decided),
            str(status.pending),
            str(status.overdue),
            "",
            "",
        ]
    )
    due = f"due {escape(status.due_date.isoformat())}" if status.due_date else "no due date"
    return f'<p class="note">As of {escape(status.as_of.isoformat())}; {due}.</p>' + _table(
        ["reviewer", "items", "decided", "pending", "overdue", "state", "last decision"], rows, len(rows)
    )


def _rerouted_html(campaign: Campaign) -> str:
    """Items whose owner was their own user: where each went instead."""
    rerouted = [i for i in campaign.items if i.routed_from is not None]
    if not rerouted:
        return '<p class="note">No item would have been reviewed by its own user.</p>'
    stranded = sum(i.reviewer is None for i in rerouted)
    note = (
        f'<p class="loud">{stranded} of them have no reviewer at all: the fallback reviewer is the '
        "user too. Name another fallback_reviewer and build the campaign again.</p>"
        if stranded
        else ""
    )
    rows = [
        [
            _h(i.email or i.user_id),
            _h(i.role_label),
            _h(i.group_label) or "<em>global</em>",
            _h(i.routed_from or ""),
            _h(i.reviewer) if i.reviewer else '<span class="loud">nobody</span>',
        ]
        for i in rerouted[:TABLE_LIMIT]
    ]
    return note + _table(["user", "role", "group", "owner (the user)", "reviewed by"], rows, len(rerouted))


def render_report(campaign: Campaign, status: CampaignStatus | None = None) -> str:
    """The report of ``campaign`` as one HTML document (a string).

    :param campaign: the campaign.
    :param status: its status (:func:`~.status.campaign_status`) for the Status section.
    """
    summary = campaign.summary()
    cards = [
        ("review items", summary["items"]),
        ("users", summary["users"]),
        ("global grants", summary["global_grants"]),
        ("group grants", summary["group_grants"]),
        ("privileged grants", summary["privileged"]),
        ("new since last review", summary["new"]),
        ("never reviewed", summary["never_reviewed"]),
        ("users only via groups", summary["only_via_group_users"]),
        ("reviewers", summary["reviewers"]),
        ("without reviewer", summary["without_reviewer"]),
        ("self-reviews rerouted", summary["self_reviews_rerouted"]),
        ("self-reviews without reviewer", summary["self_reviews_without_reviewer"]),
    ]
    if campaign.findings is not None:
        cards.append(("items with findings", summary["with_findings"]))
        cards.append(("routed to managers", summary["via_manager"]))
    card_html = "".join(
        f'<div class="card"><div class="n">{value}</div><div class="l">{escape(label)}</div></div>'
        for label, value in cards
    )

    changes = sorted(
        campaign.changes,
        key=lambda c: (str(c.get("change_type")), str(c.get("user_id")), str(c.get("grant_id"))),
    )
    if campaign.previous_campaign_id is not None:
        since = f"since the last review (campaign {_h(campaign.previous_campaign_id)}, snapshot "
        changes_title = "Changes since the last review"
    else:
        since = "since snapshot "
        changes_title = "Changes since the last snapshot"
    if campaign.previous_sync_id is None:
        changes_html = (
            '<p class="note">This is the first snapshot of the account: nothing to compare with.</p>'
        )
    else:
        since += _h(campaign.previous_sync_id) + (")" if campaign.previous_campaign_id is not None else "")
        if not changes:
            changes_html = f'<p class="note">No grant changed {since}.</p>'
        else:
            changes_html = (
                f'<p class="note">{summary["changes_added"]} added, {summary["changes_removed"]} removed '
                f"{since}.</p>"
                + _table(
                    ["change", "user", "role", "group", "privileged"], _change_rows(changes), len(changes)
                )
            )

    privileged = [i for i in campaign.items if i.is_privileged]
    privileged_rows = [
        [
            _h(i.email or i.user_id) + _flags(i),
            _h(i.name),
            _h(i.role_label),
            _h(i.group_label) or "<em>global</em>",
            _h(i.reviewer or ""),
        ]
        for i in privileged[:TABLE_LIMIT]
    ]
    privileged_html = (
        _table(["user", "name", "role", "group", "reviewer"], privileged_rows, len(privileged))
        if privileged
        else '<p class="note">No privileged grants.</p>'
    )

    by_role = Counter(i.role_label for i in campaign.items)
    by_group = Counter(i.group_label for i in campaign.items if i.grant_kind == GROUP_ROLE)
    by_reviewer = Counter(i.reviewer or "(no reviewer)" for i in campaign.items)
    group_chart = (
        bar_chart("Group grants by account group", _top(by_group), color="#7b61a8")
        if by_group
        else '<p class="note">No account-group grants.</p>'
    )
    reviewer_rows = [[_h(name), str(count)] for name, count in sorted(by_reviewer.items())]

    title = f"Access review {campaign.campaign_id}"
    definition = campaign.definition or {}
    policy = []
    if definition.get("name"):
        policy.append(f"definition {_h(definition['name'])}")
    if definition.get("cadence"):
        policy.append(f"cadence {_h(definition['cadence'])}")
    policy.append(f"due {escape(campaign.due_date.isoformat())}" if campaign.due_date else "no due date")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p class="meta">Account {_h(campaign.account_id)} · snapshot {_h(campaign.sync_id)} taken
{escape(campaign.synced_at.isoformat())} · campaign created {escape(campaign.created_at.isoformat())}</p>
<p class="meta">{" · ".join(policy)}</p>
<h2 id="summary">Summary</h2>
<div class="cards">{card_html}</div>
<h2 id="status">Status</h2>
{_status_html(status)}
<h2 id="findings">Findings</h2>
{_findings_html(campaign)}
<h2 id="changes">{changes_title}</h2>
{changes_html}
<h2 id="privileged">Privileged access</h2>
{privileged_html}
<h2 id="by-role">Grants by role</h2>
{bar_chart("Grants by role", _top(by_role))}
<h2 id="by-group">Grants by account group</h2>
{group_chart}
<h2 id="reviewers">Items per reviewer</h2>
{_table(["reviewer", "items"], reviewer_rows, len(reviewer_rows))}
<h2 id="self-reviews">Self-reviews routed away</h2>
{_rerouted_html(campaign)}
<h2 id="completeness">Completeness and accuracy</h2>
{_completeness_html(campaign.completeness)}
</body>
</html>
"""
