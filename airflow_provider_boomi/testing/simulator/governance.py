"""The objects an access review wants beyond roles and grants: federation ids, SSO settings, the
audit log, account-group coverage, environments and a partner's sub-accounts.

Their data is generated from the account's state (its users, groups and roles) when first asked
for, seeded like the profiles, with times counted back from when the simulator was built: a sync
reading "the last 90 days" finds the same users dormant whatever day the tests run. The answers
are shaped as Boomi's OpenAPI description types them (``AccountUserFederation``,
``AccountSSOConfig``, ``AccountGroupAccount``, ``AuditLog``, ``Environment``, ``EnvironmentRole``,
and ``Account`` for Account/query).

Switches (``SimulatorConfig``) for what Boomi leaves open:

* ``federation_mode``: ``"listed"`` or ``"forbidden"`` (403: SSO not licensed, or no privilege).
* ``sso_config_mode``: ``"enabled"``, ``"disabled"`` (SSO configured but off) or ``"forbidden"``.
* ``audit_log_mode``: ``"listed"``, ``"forbidden"`` (no View Audit Logs privilege), ``"empty"``
  (the log answers, but holds no record at all) or ``"unfiltered"`` (queries are validated, then
  answered with every record, as a server ignoring the filter would).
* ``login_marker``: ``"type/action/modifier"`` of the records written for logins.
* ``environments_mode``: ``"listed"`` or ``"forbidden"``.
* ``sub_accounts_mode`` (g.15), what Account/query answers: ``"listed"`` (the sub-accounts of a
  primary account, ``profiles.sub_accounts``; none on a non-primary one), ``"with_self"`` (the
  account itself, then its sub-accounts), ``"self_only"`` (only the account itself), ``"empty"``
  (no account) or ``"forbidden"`` (403). ``sub_accounts`` sets how many a primary account has.
"""

from __future__ import annotations

import copy
import random
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import SimulatorApiError
from .filters import FilterDialect, compile_query
from .paging import CursorStore
from .profiles import DEFAULT_SUB_ACCOUNTS, sub_accounts
from .state import ADMINISTRATOR_ID, PRODUCTION_SUPPORT_ID, SimulatorState, conceptual_id

FORBIDDEN = "Access denied due to insufficient permissions."

GOVERNANCE_OBJECTS = (
    "AccountUserFederation",
    "AccountSSOConfig",
    "AccountGroupAccount",
    "AuditLog",
    "Environment",
    "EnvironmentRole",
)
"""Object types this module answers."""

GOVERNANCE_ROUTES = frozenset(
    {(obj, op) for obj in GOVERNANCE_OBJECTS if obj != "AccountSSOConfig" for op in ("query", "queryMore")}
    | {("AccountSSOConfig", "get"), ("Account", "query"), ("Account", "queryMore")}
)
"""(object type, operation) pairs served: queries of five objects and of the sub-accounts
(Account/query; ``GET Account/{id}`` is the state's), a GET of the SSO settings."""

FEDERATION_MODES = ("listed", "forbidden")
SSO_CONFIG_MODES = ("enabled", "disabled", "forbidden")
AUDIT_LOG_MODES = ("listed", "forbidden", "empty", "unfiltered")
ENVIRONMENT_MODES = ("listed", "forbidden")
SUB_ACCOUNT_MODES = ("listed", "with_self", "self_only", "empty", "forbidden")
DEFAULT_LOGIN_MARKER = "account/ON_ENTRY/SUCCESS"
"""What the reference's audit of a real account suggests marks a login (``type/action/modifier``)."""

ACCESS_CHANGE_TYPE = "user"
"""The record type the simulator writes for role grants and revocations (Boomi's is undocumented)."""

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# (days ago) of the last login, by the position of a logged-in user: most within the last two
# months; every 7th between 100 and 115 days ago (dormant at 90 days, inside a 120-day window);
# every 11th 200 days ago (outside any window up to 199 days).
_DORMANT_EVERY = 7
_GONE_EVERY = 11


def parse_login_marker(value: str) -> tuple[str, str, str]:
    """``"type/action/modifier"`` as its three parts; ``ValueError`` naming the shape otherwise."""
    parts = value.split("/") if isinstance(value, str) else []
    if len(parts) != 3 or not all(p.strip() for p in parts):
        raise ValueError(
            f"login_marker must be 'type/action/modifier', e.g. {DEFAULT_LOGIN_MARKER!r}; got {value!r}"
        )
    return parts[0].strip(), parts[1].strip(), parts[2].strip()


@dataclass(frozen=True)
class GovernanceSettings:
    """The switches of this module (see the module docstring)."""

    federation_mode: str = "listed"
    sso_config_mode: str = "enabled"
    audit_log_mode: str = "listed"
    login_marker: str = DEFAULT_LOGIN_MARKER
    environments_mode: str = "listed"
    sub_accounts_mode: str = "listed"
    sub_accounts: int = DEFAULT_SUB_ACCOUNTS

    def __post_init__(self) -> None:
        for name, allowed in (
            ("federation_mode", FEDERATION_MODES),
            ("sso_config_mode", SSO_CONFIG_MODES),
            ("audit_log_mode", AUDIT_LOG_MODES),
            ("environments_mode", ENVIRONMENT_MODES),
            ("sub_accounts_mode", SUB_ACCOUNT_MODES),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, not {getattr(self, name)!r}")
        parse_login_marker(self.login_marker)
        count = self.sub_accounts
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"sub_accounts must be a whole number >= 0, not {count!r}")


class Governance:
    """The governance objects of one simulated account, and the answers to their requests.

    :param state: the account (users, groups and roles are read from it when data is first needed).
    :param settings: the switches.
    :param seed: varies ids and which users log in when; never how many.
    :param now: the time the audit log's records are counted back from (default: now, UTC).
    """

    def __init__(
        self,
        state: SimulatorState,
        settings: GovernanceSettings | None = None,
        *,
        seed: int = 0,
        now: datetime | None = None,
    ) -> None:
        self.state = state
        self.settings = settings or GovernanceSettings()
        self.seed = seed
        self.now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        self._lock = threading.Lock()
        self._data: dict[str, list[dict[str, Any]]] | None = None

    # ------------------------------------------------------------------ the data

    def rows(self, object_type: str) -> list[dict[str, Any]]:
        """Every object of ``object_type`` (copies), as the query of everything returns them."""
        with self._lock:
            if self._data is None:
                self._data = self._generate()
            return copy.deepcopy(self._data[object_type])

    def sso_config(self) -> dict[str, Any]:
        """The account's AccountSSOConfig object."""
        return {
            "@type": "AccountSSOConfig",
            "accountId": self.state.account_id,
            "enabled": self.settings.sso_config_mode == "enabled",
            "idpUrl": "https://idp.example/sso/saml",
            "signoutRedirectUrl": "https://idp.example/signed-out",
            "certInfo": "simulated~~Example IdP~~null~~null~~US~~2030-01-01T00:00:00.000Z",
            "fedIdFromNameId": False,
            "nameIdPolicy": "TRANSIENT",
            "authnContext": "PPT",
            "authnContextComparison": "EXACT",
            "assertionEncryption": True,
            "caseInsensitiveFederationId": True,
        }

    def last_logins(self) -> dict[str, datetime]:
        """Each user's latest successful login record (with the configured marker): what a sync
        of the whole log should find. Users who never logged in are absent."""
        kind, action, modifier = parse_login_marker(self.settings.login_marker)
        latest: dict[str, datetime] = {}
        for record in self.rows("AuditLog"):
            if (record["type"], record["action"], record["modifier"]) != (kind, action, modifier):
                continue
            at = datetime.strptime(record["date"], _TIME_FORMAT).replace(tzinfo=UTC)
            user = record["userId"]
            if user not in latest or at > latest[user]:
                latest[user] = at
        return latest

    def _generate(self) -> dict[str, list[dict[str, Any]]]:
        rng = random.Random(f"governance:{self.seed}")
        users = [u for u in self.state.users()]
        return {
            "AccountUserFederation": self._federation(users),
            "AccountGroupAccount": self._group_accounts(),
            "AuditLog": self._audit_log(rng, users),
            # A partner's sub-accounts; an account that is no primary account created none.
            "Account": sub_accounts(
                self.state.account_id, self.state.account_name, self.settings.sub_accounts
            )
            if self.state.primary
            else [],
            **self._environments(rng),
        }

    def _federation(self, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every user federated but every fifth (whose SSO login is then missing)."""
        account = self.state.account_id
        rows = []
        for i, user in enumerate(users):
            if i % 5 == 4:
                continue
            user_id = user["userId"]
            rows.append(
                {
                    "@type": "AccountUserFederation",
                    "id": conceptual_id("federation", account, user_id),
                    "accountId": account,
                    "userId": user_id,
                    "federationId": f"fed-{user_id.split('@', 1)[0].lower()}",
                }
            )
        return rows

    def _group_accounts(self) -> list[dict[str, Any]]:
        """The default group covers the account and both sub-accounts; the others the account and
        one sub-account each, alternately; the last group (Sandbox in demo) covers nothing."""
        account = self.state.account_id
        groups = self.state.account_groups()
        rows = []
        for i, group in enumerate(groups):
            if i == len(groups) - 1 and len(groups) > 1:
                continue
            covered = (
                [account, f"{account}-sub1", f"{account}-sub2"]
                if group.get("defaultGroup")
                else [
                    account,
                    f"{account}-sub{1 + i % 2}",
                ]
            )
            for covered_id in covered:
                rows.append(
                    {
                        "@type": "AccountGroupAccount",
                        "id": conceptual_id("group-account", group["id"], covered_id),
                        "accountGroupId": group["id"],
                        "accountId": covered_id,
                    }
                )
        return rows

    def _record(self, rng: random.Random, user_id: str, at: datetime, **fields: Any) -> dict[str, Any]:
        record: dict[str, Any] = {
            "@type": "AuditLog",
            "accountId": self.state.account_id,
            "containerId": "",
            "date": at.strftime(_TIME_FORMAT),
            "documentId": "".join(
                rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", k=20)
            ),
            "level": "INFO",
            "source": "UI",
            "userId": user_id,
        }
        record.update(fields)
        return record

    def _audit_log(self, rng: random.Random, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Logins of every user who has logged in (``_DORMANT_EVERY``/``_GONE_EVERY`` spaced out),
        failed logins (which are not logins), other records, and role grants and revocations."""
        if self.settings.audit_log_mode == "empty":
            return []
        kind, action, modifier = parse_login_marker(self.settings.login_marker)
        records: list[dict[str, Any]] = []
        active = [u for u in users if u["hasLoggedIn"]]
        for i, user in enumerate(active):
            if i % _GONE_EVERY == _GONE_EVERY - 1:
                last_days = 200.0
            elif i % _DORMANT_EVERY == _DORMANT_EVERY - 1:
                last_days = 100.0 + rng.uniform(0, 15)
            else:
                last_days = rng.uniform(0, 60)
            for extra in range(1 + i % 3):  # earlier logins too: the latest must win
                at = self.now - timedelta(days=last_days + extra * rng.uniform(1, 20))
                records.append(
                    self._record(rng, user["userId"], at, type=kind, action=action, modifier=modifier)
                )
        # Failed logins, recent: by every user who never logged in, and by some who did.
        for user in [u for u in users if not u["hasLoggedIn"]] + users[::9]:
            at = self.now - timedelta(days=rng.uniform(0, 5))
            records.append(
                self._record(rng, user["userId"], at, type=kind, action=action, modifier="FAILURE")
            )
        for j in range(5):  # unrelated management actions
            at = self.now - timedelta(days=rng.uniform(0, 100))
            records.append(
                self._record(
                    rng,
                    self.state.api_user_id or users[0]["userId"],
                    at,
                    type="as.atom",
                    action="EDIT",
                    modifier="NONE",
                    message=f"Runtime setting {j} changed",
                )
            )
        records += self._access_changes(rng, users)
        records.sort(key=lambda r: r["date"])
        return records

    def _access_changes(self, rng: random.Random, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Grants and revocations by the API user, with the affected user and role as properties
        (the property names are the simulator's own: Boomi documents none)."""
        actor = self.state.api_user_id or (users[0]["userId"] if users else "nobody@example.com")
        roles = {r["id"]: r["name"] for r in self.state.roles()}
        changes = []
        for k, user in enumerate(users[1:7]):
            role_id = PRODUCTION_SUPPORT_ID if k % 2 else ADMINISTRATOR_ID
            added = k % 3 != 2
            at = self.now - timedelta(days=rng.uniform(1, 80))
            changes.append(
                self._record(
                    rng,
                    actor,
                    at,
                    type=ACCESS_CHANGE_TYPE,
                    action="ADD" if added else "DELETE",
                    modifier="NONE",
                    source="API",
                    message=f"Role {roles.get(role_id, role_id)} {'granted to' if added else 'revoked from'} "
                    f"{user['userId']}",
                    AuditLogProperty=[
                        {"name": "USER_ID", "value": user["userId"]},
                        {"name": "ROLE_ID", "value": role_id},
                    ],
                )
            )
        return changes

    def _environments(self, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
        """Production (PROD), Test and Development (TEST), and which roles reach each."""
        names = {r["name"]: r["id"] for r in self.state.roles()}
        plan = (
            ("Production", "PROD", ("Administrator", "Release Manager", "Production Support")),
            ("Test", "TEST", ("Administrator", "Developer", "Release Manager")),
            ("Development", "TEST", ("Developer", "Senior Developer")),
        )
        environments, environment_roles = [], []
        for name, classification, role_names in plan:
            environment_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            environments.append(
                {"@type": "Environment", "id": environment_id, "name": name, "classification": classification}
            )
            for role_name in role_names:
                role_id = names.get(role_name)
                if role_id is None:  # a profile without that custom role
                    continue
                environment_roles.append(
                    {
                        "@type": "EnvironmentRole",
                        "id": conceptual_id("environment-role", role_id, environment_id),
                        "environmentId": environment_id,
                        "roleId": role_id,
                    }
                )
        return {"Environment": environments, "EnvironmentRole": environment_roles}

    # ------------------------------------------------------------------ the answers

    def _refused(self, object_type: str) -> bool:
        settings = self.settings
        return {
            "AccountUserFederation": settings.federation_mode == "forbidden",
            "AccountSSOConfig": settings.sso_config_mode == "forbidden",
            "AuditLog": settings.audit_log_mode == "forbidden",
            "Environment": settings.environments_mode == "forbidden",
            "EnvironmentRole": settings.environments_mode == "forbidden",
            "Account": settings.sub_accounts_mode == "forbidden",
        }.get(object_type, False)

    def listed_accounts(self) -> list[dict[str, Any]]:
        """What Account/query lists before its filter, as ``sub_accounts_mode`` says."""
        mode = self.settings.sub_accounts_mode
        own = [self.state.account()] if mode in ("with_self", "self_only") else []
        return own + (self.rows("Account") if mode in ("listed", "with_self") else [])

    def handle(
        self,
        object_type: str,
        operation: str,
        object_id: str | None,
        raw_body: bytes,
        cursors: CursorStore,
        filters: FilterDialect,
        decode_json: Any,
        decode_token: Any,
    ) -> Any:
        """The JSON answer of a request for one of :data:`GOVERNANCE_OBJECTS` (routed already)."""
        if self._refused(object_type):
            raise SimulatorApiError(403, FORBIDDEN)
        if object_type == "AccountSSOConfig":
            if object_id != self.state.account_id:
                raise SimulatorApiError(403, FORBIDDEN)
            return self.sso_config()
        if operation == "queryMore":
            return cursors.next_page(object_type, decode_token(raw_body))
        compiled = compile_query(decode_json(raw_body), object_type, filters)
        rows = self.listed_accounts() if object_type == "Account" else self.rows(object_type)
        if not (object_type == "AuditLog" and self.settings.audit_log_mode == "unfiltered"):
            rows = [r for r in rows if compiled.matches(r)]
        return cursors.first_page(object_type, rows)
