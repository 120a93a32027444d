"""The simulator's settings: one dataclass, the single list of every option.

``SimulatorConfig`` is the only place a setting is declared. ``BoomiSimulator(**settings)`` builds
one, and the command line (``__main__``) derives its options from the fields and their metadata
(help text, choices, value parser, flag name), so a setting added here appears everywhere.

Precedence of a setting's value, highest first: a value given explicitly, the ``dialect`` preset
(``DIALECTS``), the profile's own settings (``profiles.PROFILE_SETTINGS``), the built-in default.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from .faults import FaultRule
from .filters import ACCOUNT_PROPERTY_CASES, FilterDialect
from .governance import (
    AUDIT_LOG_MODES,
    DEFAULT_LOGIN_MARKER,
    ENVIRONMENT_MODES,
    FEDERATION_MODES,
    SSO_CONFIG_MODES,
    SUB_ACCOUNT_MODES,
    GovernanceSettings,
    parse_login_marker,
)
from .paging import TOKEN_MODES as QUERY_TOKEN_MODES
from .profiles import DEFAULT_SUB_ACCOUNTS, PROFILE_SETTINGS, PROFILES
from .ratelimit import RATE_LIMITERS
from .state import BUILTIN_ROLES_MODES, GROUP_ROLES_ON_REMOVAL, USER_ID_CASES

# The value lists of switches implemented by one module live there (paging: §g.7, ratelimit: §g.8,
# state: §g.2 and §g.4); the others are defined here.

GROUPS_MODES = ("empty", "forbidden", "bad_request", "not_found", "default_group")
"""§g.6: what account-group calls do on a non-primary account."""
ROLE_ID_FILTERS = ("honoured", "ignored", "refused")
"""§g.1: what AccountUserRole/query does with a ``roleId`` term."""
BUILTIN_PARENTS = ("standard_user", "none")
"""§g.3: the ``parentId`` of the built-in roles."""
FILTER_OPERATOR_MODES = ("lenient", "schema", "role_equals_only")
"""§g.9: which filter operators and properties each object accepts."""
USER_ID_OR_FILTERS = ("honoured", "ignored", "refused")
"""What AccountUserRole/query and AccountGroupUserRole/query do with an ``or`` grouping of
``userId`` terms (provisioning's batched reads of several users)."""

DIALECTS: dict[str, dict[str, Any]] = {
    # Everything as Boomi's REST documentation reads: the built-in defaults.
    "documented": {},
    # What the SOAP-era object pages suggest: roleId is not filterable (silently dropped), Role is
    # "an account's custom roles" and is filtered by EQUALS only.
    "soap_pages": {
        "role_id_filter": "ignored",
        "builtin_roles": "by_id_only",
        "filter_operators": "role_equals_only",
    },
    # The least forgiving reading of every open question a client could get wrong silently.
    "strict": {
        "user_id_case": "sensitive",
        "cross_account_rows": True,
        "query_tokens": "expiring",
        "query_token_ttl": 5.0,
        "rate_limiter": "sliding_window",
        "filter_operators": "schema",
    },
}
"""Named presets of the §g switches, selected with ``dialect=`` / ``--dialect``."""


def _rate(value: str) -> float | None:
    """CLI form of ``rate_limit``: a number, or ``0``/``none``/``off`` for unlimited."""
    return None if value.lower() in ("none", "off", "0") else float(value)


def _optional_float(value: str) -> float | None:
    return None if value.lower() in ("none", "off") else float(value)


def setting(
    default: Any = MISSING,
    *,
    help: str,
    default_factory: Callable[[], Any] | Any = MISSING,
    choices: tuple[Any, ...] | None = None,
    parse: Callable[[str], Any] | None = None,
    flag: str | None = None,
    dest: str | None = None,
    metavar: str | None = None,
    cli: bool = True,
) -> Any:
    """A ``SimulatorConfig`` field with what the command line needs to offer it.

    ``flag`` defaults to ``--field-name`` (``--no-field-name`` for a boolean that defaults to true),
    ``parse`` to the type of the default, ``dest`` (the argparse attribute) to the field name.
    ``cli=False`` keeps a field off the command line.
    """
    metadata = {
        "help": help,
        "choices": choices,
        "parse": parse,
        "flag": flag,
        "dest": dest,
        "metavar": metavar,
        "cli": cli,
    }
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class SimulatorConfig:
    """Everything that shapes a simulator run. ``BoomiSimulator(**settings)`` builds one of these.

    The account and the server:

    * ``profile``/``seed``: the generated account (see ``profiles``); the seed changes names only.
    * ``account_id``, ``email``, ``token``: fix the connection facts (generated otherwise);
      ``host``/``port`` where to listen (port 0: any free port).
    * ``rate_limit``: requests per second for the account (``None``/``0``: unlimited); over it the
      answer is ``rate_limit_status`` (503, Boomi's documented status, or 429) with an optional
      ``retry_after`` header.
    * ``latency`` seconds added to every answer, varied by ``±latency_jitter`` (a fraction).
    * ``faults``: ``FaultRule``s to inject (see ``faults``).
    * ``api_privileges=False``: the API user lacks API/ACCOUNT_ADMIN, every call answers 403.
    * ``primary``: overrides the profile's primary-account flag.
    * ``advanced_user_security=False``: custom roles are invisible everywhere, as on accounts
      without that feature.

    Boomi's open questions (``boomi-platform-api.md`` §g), one switch each, default first:

    * §g.1 ``role_id_filter``: ``"honoured"`` (a ``roleId`` term of AccountUserRole/query filters),
      ``"ignored"`` (every ``roleId`` term, any operator, is true for every row, as if the server
      dropped it) or ``"refused"`` (any AccountUserRole query mentioning ``roleId`` is a 400).
    * §g.2 ``builtin_roles``: ``"listed"`` (Role/query lists the built-in roles, accountId ``"1"``)
      or ``"by_id_only"`` (Role/query lists only the account's custom roles; ``GET Role/{id}`` and
      ``getAssignableRoles`` still return the built-ins).
    * §g.3 ``builtin_parent``: ``"standard_user"`` (every built-in role's ``parentId`` is Standard
      User, which names itself) or ``"none"`` (built-in roles carry no ``parentId``).
    * §g.4 ``user_id_case``: ``"insensitive"`` or ``"sensitive"`` (``userId`` filters compare
      exactly, and the directory keys users by exact spelling: a differently-cased POST invites a
      new user, a differently-cased group grant fails as for an unknown user).
    * §g.5 ``cross_account_rows``: ``False``, or ``True`` (the account also holds AccountUserRole
      rows of sibling accounts ``<account_id>-sub1``/``-sub2``, returned by queries that do not
      narrow ``accountId`` to this account; never deletable or visible through the state's own rows).
    * §g.6 ``groups_mode``, on a non-primary account: ``"empty"`` (AccountGroup* queries find
      nothing), ``"forbidden"`` (403), ``"bad_request"`` (400 "Unknown object type ..."),
      ``"not_found"`` (404) or ``"default_group"`` (one "All Accounts" default group, no group rows).
    * §g.7 ``query_tokens``: ``"single_use"``, ``"reusable"`` (a token may be presented again and
      returns the same page) or ``"expiring"`` (single use, and invalid ``query_token_ttl`` seconds
      after it was issued). A reused or expired token is a 400 "Invalid query token.".
    * §g.8 ``rate_limiter``: ``"token_bucket"`` (one second of burst) or ``"sliding_window"`` (at
      most ``rate_limit`` requests admitted in any one-second window).
    * §g.9 ``filter_operators``: ``"lenient"`` (every operator the engine knows, STARTS_WITH too),
      ``"schema"`` (exactly the operators and properties of each object's OpenAPI enums) or
      ``"role_equals_only"`` (as ``"schema"``, but Role accepts only EQUALS).
    * ``user_id_or_filter`` (the batched reads of provisioning; the grammar allows the shape, no
      source shows Boomi serving it): ``"honoured"`` (an ``or`` grouping with a ``userId`` term
      filters AccountUserRole and AccountGroupUserRole queries), ``"ignored"`` (such a grouping is
      validated, then true for every row, as if the server kept only the other terms) or
      ``"refused"`` (any such query is a 400).

    The governance objects (``governance.py``), one switch per open answer: ``federation_mode``
    (``"listed"`` or ``"forbidden"``), ``sso_config_mode`` (``"enabled"``, ``"disabled"`` or
    ``"forbidden"``), ``audit_log_mode`` (``"listed"``, ``"forbidden"`` or ``"empty"``),
    ``login_marker`` (``"type/action/modifier"`` of simulated login records, default
    ``"account/ON_ENTRY/SUCCESS"``), ``environments_mode`` (``"listed"`` or ``"forbidden"``),
    ``sub_accounts_mode`` (g.15, Account/query: ``"listed"``, ``"with_self"``, ``"self_only"``,
    ``"empty"`` or ``"forbidden"``), ``sub_accounts`` (how many sub-accounts a primary account has,
    default 3) and ``account_property_case`` (g.15: Account/query's filter properties spelt
    ``"upper"`` as the schema, or ``"camel"`` as the examples; the other spelling is a 400).

    ``dialect`` names a preset of those switches (``DIALECTS``: ``"documented"``, ``"soap_pages"``,
    ``"strict"``). The preset, and after it the profile's own settings, fill every field still
    holding its built-in default; a field given a non-default value is never changed. To keep a
    built-in default *against* a preset, list the field in ``explicit`` or build the config with
    ``SimulatorConfig.with_dialect(name, **settings)`` (``BoomiSimulator(**settings)`` and the
    command line do this for you: what you pass explicitly always wins).
    """

    profile: str = setting("demo", help="account to generate", choices=PROFILES)
    seed: int = setting(0, help="seed for names and ids (never sizes)")
    rate_limit: float | None = setting(
        10.0, help="requests/s; 0 or none: unlimited", parse=_rate, metavar="R"
    )
    latency: float = setting(0.0, help="seconds added to every answer", metavar="S")
    latency_jitter: float = setting(0.0, help="latency variation, a fraction", metavar="F")
    account_id: str | None = setting(None, help="fix the account id", parse=str)
    port: int = setting(0, help="TCP port (0: any free port)")
    host: str = setting("127.0.0.1", help="address to bind")
    faults: list[FaultRule] = setting(  # noqa: RUF009 (setting() returns dataclasses.field)
        default_factory=list,
        help="inject a fault, repeatable, e.g. 503:count=5,object=Role,op=query,after=2,p=0.5,retry_after=1",
        parse=FaultRule.parse,
        flag="--fault",
        dest="fault",
        metavar="KIND[:k=v,...]",
    )
    groups_mode: str = setting(
        "empty", help="§g.6: account groups on a non-primary account", choices=GROUPS_MODES
    )
    api_privileges: bool = setting(True, help="the API user lacks API/ACCOUNT_ADMIN: every call answers 403")
    token: str | None = setting(None, help="fix the API token", parse=str)
    email: str | None = setting(None, help="fix the API user's email", parse=str)
    rate_limit_status: int = setting(503, help="status of a throttled request", choices=(503, 429))
    retry_after: float | None = setting(
        None, help="Retry-After seconds on throttled answers", parse=_optional_float, metavar="S"
    )
    primary: bool | None = setting(None, help="override the profile's primary-account flag")
    advanced_user_security: bool = setting(True, help="the account lacks Advanced User Security")
    role_id_filter: str = setting(
        "honoured", help="§g.1: roleId terms of AccountUserRole/query", choices=ROLE_ID_FILTERS
    )
    builtin_roles: str = setting(
        "listed", help="§g.2: does Role/query list the built-in roles", choices=BUILTIN_ROLES_MODES
    )
    builtin_parent: str = setting(
        "standard_user", help="§g.3: parentId of the built-in roles", choices=BUILTIN_PARENTS
    )
    user_id_case: str = setting(
        "insensitive", help="§g.4: userId matching in filters and the directory", choices=USER_ID_CASES
    )
    cross_account_rows: bool = setting(
        False, help="§g.5: AccountUserRole queries also return rows of sibling accounts"
    )
    group_roles_on_removal: str = setting(
        "kept",
        help="a user losing the last global role leaves the account; their group role rows: kept or removed",
        choices=GROUP_ROLES_ON_REMOVAL,
    )
    query_tokens: str = setting("single_use", help="§g.7: queryToken life", choices=QUERY_TOKEN_MODES)
    query_token_ttl: float = setting(60.0, help="§g.7: seconds an expiring queryToken lives", metavar="S")
    rate_limiter: str = setting("token_bucket", help="§g.8: how the rate limit counts", choices=RATE_LIMITERS)
    filter_operators: str = setting(
        "lenient", help="§g.9: operators and properties each object accepts", choices=FILTER_OPERATOR_MODES
    )
    user_id_or_filter: str = setting(
        "honoured",
        help="userId terms grouped with 'or' in AccountUserRole/AccountGroupUserRole queries",
        choices=USER_ID_OR_FILTERS,
    )
    federation_mode: str = setting(
        "listed", help="AccountUserFederation: listed, or 403 (SSO not licensed)", choices=FEDERATION_MODES
    )
    sso_config_mode: str = setting(
        "enabled", help="AccountSSOConfig: SSO enabled, disabled, or 403", choices=SSO_CONFIG_MODES
    )
    audit_log_mode: str = setting(
        "listed",
        help="AuditLog: listed, 403 (no privilege), empty (no record) or unfiltered (filter ignored)",
        choices=AUDIT_LOG_MODES,
    )
    login_marker: str = setting(
        DEFAULT_LOGIN_MARKER,
        help="type/action/modifier of the audit-log records the simulator writes for logins",
        metavar="T/A/M",
    )
    environments_mode: str = setting(
        "listed", help="Environment and EnvironmentRole: listed, or 403", choices=ENVIRONMENT_MODES
    )
    sub_accounts_mode: str = setting(
        "listed",
        help="g.15: Account/query lists the sub-accounts, with the account itself, only it, none, or 403",
        choices=SUB_ACCOUNT_MODES,
    )
    sub_accounts: int = setting(
        DEFAULT_SUB_ACCOUNTS, help="sub-accounts of a primary (partner) account", metavar="N"
    )
    account_property_case: str = setting(
        "upper",
        help="g.15: Account/query filter properties as the schema (ACCOUNTID) or the examples (accountId)",
        choices=ACCOUNT_PROPERTY_CASES,
    )
    dialect: str | None = setting(
        None, help="a preset of the §g switches", choices=tuple(DIALECTS), parse=str
    )
    explicit: frozenset[str] = setting(
        default_factory=frozenset,
        help="fields the dialect preset and profile settings must not change",
        cli=False,
    )

    def __post_init__(self) -> None:
        self.faults = list(self.faults or [])
        self.explicit = frozenset(self.explicit)
        self._resolve_presets()
        self._validate()

    @classmethod
    def with_dialect(cls, name: str | None, **settings: Any) -> SimulatorConfig:
        """The config for dialect ``name`` (``None``: no preset) where every setting given here wins
        over the preset, even one equal to the built-in default."""
        return cls(dialect=name, explicit=frozenset(settings), **settings)

    def governance_settings(self) -> GovernanceSettings:
        """The switches of the governance objects (``governance.py``)."""
        return GovernanceSettings(
            federation_mode=self.federation_mode,
            sso_config_mode=self.sso_config_mode,
            audit_log_mode=self.audit_log_mode,
            login_marker=self.login_marker,
            environments_mode=self.environments_mode,
            sub_accounts_mode=self.sub_accounts_mode,
            sub_accounts=self.sub_accounts,
        )

    def filter_dialect(self) -> FilterDialect:
        """The filter-grammar switches (§g.1, §g.4, §g.9, ``user_id_or_filter``) the query engine
        applies."""
        return FilterDialect(
            role_id_filter=self.role_id_filter,
            user_id_case=self.user_id_case,
            filter_operators=self.filter_operators,
            user_id_or_filter=self.user_id_or_filter,
            account_property_case=self.account_property_case,
        )

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every field's built-in default (fields with a factory: a fresh value)."""
        out: dict[str, Any] = {}
        for f in fields(cls):
            out[f.name] = f.default_factory() if f.default_factory is not MISSING else f.default
        return out

    def _resolve_presets(self) -> None:
        if self.dialect is not None and self.dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {tuple(DIALECTS)} or None, not {self.dialect!r}")
        layers = [DIALECTS.get(self.dialect or "", {}), PROFILE_SETTINGS.get(self.profile, {})]
        defaults = self.defaults()
        for name, default in defaults.items():
            if name in self.explicit or name in ("profile", "dialect", "explicit"):
                continue
            if getattr(self, name) != default:
                continue  # given a value of its own
            for layer in layers:
                if name in layer:
                    setattr(self, name, layer[name])
                    break

    def _validate(self) -> None:
        choices: dict[str, tuple[Any, ...]] = {
            "profile": PROFILES,
            "groups_mode": GROUPS_MODES,
            "role_id_filter": ROLE_ID_FILTERS,
            "builtin_roles": BUILTIN_ROLES_MODES,
            "builtin_parent": BUILTIN_PARENTS,
            "user_id_case": USER_ID_CASES,
            "query_tokens": QUERY_TOKEN_MODES,
            "rate_limiter": RATE_LIMITERS,
            "filter_operators": FILTER_OPERATOR_MODES,
            "user_id_or_filter": USER_ID_OR_FILTERS,
            "federation_mode": FEDERATION_MODES,
            "sso_config_mode": SSO_CONFIG_MODES,
            "audit_log_mode": AUDIT_LOG_MODES,
            "environments_mode": ENVIRONMENT_MODES,
            "sub_accounts_mode": SUB_ACCOUNT_MODES,
            "account_property_case": ACCOUNT_PROPERTY_CASES,
            "rate_limit_status": (503, 429),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, not {getattr(self, name)!r}")
        for name in ("cross_account_rows", "api_privileges", "advanced_user_security"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, not {getattr(self, name)!r}")
        if self.latency < 0 or not 0 <= self.latency_jitter <= 1:
            raise ValueError("latency must be >= 0 and latency_jitter between 0 and 1")
        if self.rate_limit is not None and self.rate_limit < 0:
            raise ValueError("rate_limit must be >= 0 or None")
        if not (self.query_token_ttl > 0 and math.isfinite(self.query_token_ttl)):
            raise ValueError(
                f"query_token_ttl must be a positive number of seconds, not {self.query_token_ttl!r}"
            )
        parse_login_marker(self.login_marker)
        self.governance_settings()  # checks the sub-account count (GovernanceSettings holds the rule)
        unknown = set(self.explicit) - set(self.defaults())
        if unknown:
            raise ValueError(f"explicit names unknown settings: {sorted(unknown)}")
