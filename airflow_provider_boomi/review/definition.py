"""A campaign definition: what a recurring access review covers, who reviews, and by when.

The sync runs daily; a campaign runs on its own schedule (quarterly, say) against the latest
complete snapshot of each account it covers. The definition is the campaign's policy, written
once (in a DAG's params, a JSON file, or Python) and recorded in every ``campaign.json`` it
produces, so an auditor reads the rules a campaign was built under next to its items.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any, Final

from airflow_provider_boomi._rules import parse_bool
from airflow_provider_boomi.dataset.paths import validate_account_id

from .owners import DEFAULT_OWNER_PRECEDENCE, Owners, validate_precedence

__all__ = [
    "DEFAULT_DUE_IN_DAYS",
    "DEFAULT_MAX_SNAPSHOT_AGE_HOURS",
    "GRANT_KIND_OF",
    "KINDS",
    "CampaignDefinition",
]

#: Which grants a definition can cover: ``user_role`` (global roles, the ``user_role_grants``
#: table) and ``group_role`` (roles held through an account group).
KINDS: Final[tuple[str, ...]] = ("user_role", "group_role")
#: The review item's ``grant_kind`` for each of :data:`KINDS` (items name global grants
#: ``global_role``, as grant ids and snapshots do; that spelling is accepted here too).
GRANT_KIND_OF: Final[Mapping[str, str]] = MappingProxyType(
    {"user_role": "global_role", "global_role": "global_role", "group_role": "group_role"}
)
#: Days reviewers have when a definition does not say.
DEFAULT_DUE_IN_DAYS: Final = 14
#: Oldest snapshot (hours since its manifest was written) a campaign accepts by default.
DEFAULT_MAX_SNAPSHOT_AGE_HOURS: Final = 48.0


@dataclass(frozen=True)
class CampaignDefinition:
    """What a recurring review campaign covers and how it is run.

    :ivar name: the campaign's name (``quarterly-uar``); the start of each campaign id.
    :ivar account_ids: the accounts reviewed, one campaign each; empty means every account in
        the snapshot store.
    :ivar kinds: which grants: ``user_role`` (global roles) and/or ``group_role`` (roles through
        account groups); default both.
    :ivar only_privileged: review only grants of privileged roles (and of roles whose privileges
        are unknown, which are never filtered out).
    :ivar owners: role/group id or name -> reviewer (see :class:`~.owners.Owners`).
    :ivar default_reviewer: reviewer of grants no owner covers.
    :ivar fallback_reviewer: reviewer of the items a reviewer would otherwise review about
        themselves (default: ``default_reviewer``).
    :ivar owner_precedence: which owner reviews a group grant (see :class:`~.owners.Owners`):
        ``privileged_role_first`` (default), ``group_first`` or ``role_first``.
    :ivar due_in_days: reviewers have until the campaign's start date plus this many days.
    :ivar max_snapshot_age_hours: a campaign refuses a snapshot whose sync finished longer ago.
    :ivar cadence: how often it runs, for people (``quarterly``); recorded, not scheduled (the
        DAG's schedule runs it).
    :ivar require_attestation: decisions must carry a proven reviewer identity (an attestation
        token or the authenticated Airflow user); see :func:`~.decisions.read_decisions`.
    :ivar findings_path: the findings root (``BoomiFindingsOperator``'s ``findings_path``): each
        campaign reads the findings of the snapshot it reviews from there, flags its items
        with them and adds a Findings section to the report; a snapshot without findings
        is refused. ``None``: no findings.
    :ivar route_to_manager: each item goes to the user's manager from the identity source the
        findings were computed with (owners then cover the users without one); needs
        ``findings_path``. See :class:`~.owners.ReviewerRouting` for the whole order.
    """

    name: str
    account_ids: tuple[str, ...] = ()
    kinds: tuple[str, ...] = KINDS
    only_privileged: bool = False
    owners: Mapping[str, str] = field(default_factory=dict)
    default_reviewer: str | None = None
    fallback_reviewer: str | None = None
    owner_precedence: str = DEFAULT_OWNER_PRECEDENCE
    due_in_days: int = DEFAULT_DUE_IN_DAYS
    max_snapshot_age_hours: float = DEFAULT_MAX_SNAPSHOT_AGE_HOURS
    cadence: str | None = None
    require_attestation: bool = True
    findings_path: str | None = None
    route_to_manager: bool = False

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not isinstance(self.name, str) or not self.name.strip():
            problems.append("name is empty; name the campaign (e.g. 'quarterly-uar')")
        accounts = []
        for account in self.account_ids:
            try:
                accounts.append(validate_account_id(account))
            except ValueError as exc:
                problems.append(f"account_ids: {exc}")
        if len(set(accounts)) != len(accounts):
            problems.append("account_ids lists an account twice; list each once")
        kinds = [str(k).strip().lower() for k in self.kinds]
        unknown = [k for k in kinds if k not in GRANT_KIND_OF]
        if unknown:
            problems.append(f"kinds has {', '.join(map(repr, unknown))}; use {' and/or '.join(KINDS)}")
        elif not kinds:
            problems.append(f"kinds is empty; list {' and/or '.join(KINDS)}")
        for name in ("default_reviewer", "fallback_reviewer", "cadence", "findings_path"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                problems.append(f"{name} is empty; give a value or leave it out")
        if self.route_to_manager and not self.findings_path:
            problems.append(
                "route_to_manager needs findings_path: the managers come from the identity source "
                "the findings were computed with"
            )
        try:
            validate_precedence(self.owner_precedence)
        except ValueError as exc:
            problems.append(str(exc))
        try:
            Owners(self.owners, self.default_reviewer, self.owner_precedence)
        except ValueError as exc:
            problems.append(f"owners: {exc}")
        if (
            isinstance(self.due_in_days, bool)
            or not isinstance(self.due_in_days, int)
            or self.due_in_days < 1
        ):
            problems.append(
                f"due_in_days must be a whole number of days, at least 1, got {self.due_in_days!r}"
            )
        age = self.max_snapshot_age_hours
        if isinstance(age, bool) or not isinstance(age, int | float) or not math.isfinite(age) or age <= 0:
            problems.append(f"max_snapshot_age_hours must be a number of hours above 0, got {age!r}")
        if problems:
            raise ValueError(f"campaign definition {self.name!r} is invalid: " + "; ".join(problems))
        object.__setattr__(self, "name", self.name.strip())
        object.__setattr__(self, "account_ids", tuple(accounts))
        # One spelling per kind, in the order of KINDS, so campaign.json reads the same always.
        chosen = {GRANT_KIND_OF[k] for k in kinds}
        object.__setattr__(self, "kinds", tuple(k for k in KINDS if GRANT_KIND_OF[k] in chosen))
        object.__setattr__(self, "owners", MappingProxyType({str(k): str(v) for k, v in self.owners.items()}))
        for name in ("default_reviewer", "fallback_reviewer", "cadence", "findings_path"):
            value = getattr(self, name)
            object.__setattr__(self, name, value.strip() if value else None)
        object.__setattr__(self, "max_snapshot_age_hours", float(age))

    @property
    def grant_kinds(self) -> frozenset[str]:
        """The review items' ``grant_kind`` values this definition covers."""
        return frozenset(GRANT_KIND_OF[k] for k in self.kinds)

    def owners_resolver(self) -> Owners:
        """The :class:`~.owners.Owners` of this definition."""
        return Owners(self.owners, self.default_reviewer, self.owner_precedence)

    def due_date(self, start: date) -> date:
        """The last day to decide for a campaign started on ``start``."""
        return start + timedelta(days=self.due_in_days)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (recorded in ``campaign.json``; :meth:`from_mapping` reads it back)."""
        return {
            "name": self.name,
            "account_ids": list(self.account_ids),
            "kinds": list(self.kinds),
            "only_privileged": self.only_privileged,
            "owners": dict(self.owners),
            "default_reviewer": self.default_reviewer,
            "fallback_reviewer": self.fallback_reviewer,
            "owner_precedence": self.owner_precedence,
            "due_in_days": self.due_in_days,
            "max_snapshot_age_hours": self.max_snapshot_age_hours,
            "cadence": self.cadence,
            "require_attestation": self.require_attestation,
            "findings_path": self.findings_path,
            "route_to_manager": self.route_to_manager,
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | CampaignDefinition) -> CampaignDefinition:
        """Read a definition from DAG params or JSON, with errors that say what to fix.

        Keys are the attribute names. ``account_ids`` and ``kinds`` take a list or a
        comma-separated string; flags take what :func:`~airflow_provider_boomi._rules.parse_bool`
        accepts; numbers may be given as text (a rendered template); empty text means "not
        set" for the reviewers and ``cadence``. Unknown keys are refused (a typo would
        otherwise silently drop a rule).

        :raises ValueError: not a mapping, an unknown key, a value of the wrong type, or an
            invalid definition; the message names every problem.
        """
        if isinstance(data, CampaignDefinition):
            return data
        if not isinstance(data, Mapping):
            raise ValueError(
                f"a campaign definition must be a mapping, got {type(data).__name__}: with a "
                "template, set render_template_as_native_obj=True on the DAG"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise ValueError(
                f"campaign definition has unknown key(s) {', '.join(map(repr, unknown))}; "
                f"known keys: {', '.join(sorted(known))}"
            )
        problems: list[str] = []
        values: dict[str, Any] = {}
        for key, raw in data.items():
            try:
                values[key] = _convert(key, raw)
            except ValueError as exc:
                problems.append(str(exc))
        if "name" not in values and not problems:
            problems.append("name is missing; name the campaign (e.g. 'quarterly-uar')")
        if problems:
            raise ValueError(f"campaign definition {data.get('name')!r} is invalid: " + "; ".join(problems))
        return cls(**values)


def _list(key: str, raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if isinstance(raw, list | tuple):
        if not all(isinstance(v, str) for v in raw):
            raise ValueError(f"{key} must list strings, got {raw!r}")
        return tuple(v.strip() for v in raw if v.strip())
    raise ValueError(f"{key} must be a list or a comma-separated string, got {type(raw).__name__}")


def _optional_text(key: str, raw: Any) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str):
        raise ValueError(f"{key} must be text, got {type(raw).__name__}")
    return raw


def _number(key: str, raw: Any, kind: type) -> Any:
    if isinstance(raw, bool):
        raise ValueError(f"{key} must be a number, got {raw!r}")
    if isinstance(raw, str):
        try:
            raw = float(raw.strip()) if kind is float else int(raw.strip())
        except ValueError:
            raise ValueError(f"{key} must be a number, got {raw!r}") from None
    if kind is int and isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if not isinstance(raw, int | float) or (kind is int and not isinstance(raw, int)):
        raise ValueError(f"{key} must be a whole number, got {raw!r}")
    return raw


def _convert(key: str, raw: Any) -> Any:
    if key in ("account_ids", "kinds"):
        return _list(key, raw)
    if key in ("only_privileged", "require_attestation", "route_to_manager"):
        return parse_bool(raw, key, default=key == "require_attestation")
    if key == "owners":
        if raw is None or raw == "":
            return {}
        if not isinstance(raw, Mapping):
            raise ValueError(
                f"owners must be a mapping of role or group to reviewer, got {type(raw).__name__}"
            )
        return raw
    if key in ("default_reviewer", "fallback_reviewer", "cadence", "findings_path"):
        return _optional_text(key, raw)
    if key == "due_in_days":
        return _number(key, raw, int)
    if key == "max_snapshot_age_hours":
        return _number(key, raw, float)
    if not isinstance(raw, str):
        raise ValueError(f"{key} must be text, got {type(raw).__name__}")
    return raw
