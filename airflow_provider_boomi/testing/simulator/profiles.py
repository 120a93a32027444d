"""Seeded synthetic accounts ("profiles"). The seed changes names and ids, never sizes.

Profiles: ``demo`` (small, readable), ``large`` (10,000 users), ``non_primary`` (demo without
account groups or sub-accounts), ``empty`` (built-in roles and the API user only) and ``skewed``
(5,000 users with long-tailed role and group sizes). Primary accounts are partners: they have
sub-accounts (``sub_accounts``, three unless the ``sub_accounts`` setting says otherwise). Every
profile except ``empty`` carries the edge cases listed in ``EDGE_USERS`` and the non-canonical
role.
"""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass, field
from typing import Any

from .state import (
    ADMINISTRATOR_ID,
    BUILTIN_ACCOUNT_ID,
    PRODUCTION_SUPPORT_ID,
    STANDARD_USER_ID,
    SUPPORT_ID,
    SimulatorState,
)

PROFILES = ("demo", "large", "non_primary", "empty", "skewed")
PROFILE_SETTINGS: dict[str, dict[str, Any]] = {name: {} for name in PROFILES}
"""Simulator settings a profile carries (for instance §g dialect switches), keyed by profile.

They fill the ``SimulatorConfig`` fields left at their built-in defaults, below explicit settings and
the ``dialect`` preset. No profile carries any today: each plays the documented dialect."""
NON_CANONICAL_ROLE_ID = "fedcba98-7654-3210-fedc-ba9876543c210"
"""A role id of the malformed shape Boomi's docs show (13-character last group)."""

ALL_PRIVILEGES = (
    "API", "ACCOUNT_ADMIN", "BUILD", "DEPLOY", "EXECUTE", "VIEW_RESULT", "EMBED", "ATOM_MANAGEMENT",
    "ATOM_MANAGEMENT_READ_ONLY", "SCHEDULE_MAINTENANCE", "ENV_MANAGEMENT", "PACKAGE_MANAGEMENT",
    "DASHBOARD", "VIEW_AUDIT_LOGS", "CLOUD_MANAGEMENT",
)  # fmt: skip

# (id, name, privileges, description). Built-ins parent Standard User, which (as in Boomi's own
# getAssignableRoles example) names itself as parent: clients resolving parents must stop at cycles.
BUILTIN_ROLES = (
    (ADMINISTRATOR_ID, "Administrator", ALL_PRIVILEGES, "Boomi Default Administrator role."),
    (STANDARD_USER_ID, "Standard User", ("BUILD", "EXECUTE", "VIEW_RESULT", "DASHBOARD"),
     "Boomi Default Standard User role."),
    (PRODUCTION_SUPPORT_ID, "Production Support",
     ("ATOM_MANAGEMENT_READ_ONLY", "EXECUTE", "VIEW_RESULT", "DASHBOARD"),
     "Boomi Default Production Support User role."),
    (SUPPORT_ID, "Support", ("VIEW_RESULT", "DASHBOARD"), "Boomi Default Basic Support User role."),
)  # fmt: skip

# (key, name, privileges, parent key or None for Standard User). Some parent another custom role.
CUSTOM_ROLES: tuple[tuple[str, str, tuple[str, ...], str | None], ...] = (
    ("release", "Release Manager", ("DEPLOY", "PACKAGE_MANAGEMENT", "ENV_MANAGEMENT"), None),
    ("auditor", "Auditor", ("VIEW_AUDIT_LOGS", "VIEW_RESULT"), None),
    ("developer", "Developer", ("BUILD", "EXECUTE", "VIEW_RESULT"), None),
    ("senior", "Senior Developer", ("DEPLOY",), "developer"),
    ("lead", "Tech Lead", ("ATOM_MANAGEMENT",), "senior"),
    ("operator", "Operator", ("ATOM_MANAGEMENT", "SCHEDULE_MAINTENANCE"), None),
    ("viewer", "Dashboard Viewer", ("DASHBOARD",), None),
    ("delegate", "Account Admin Delegate", ("ACCOUNT_ADMIN", "API"), None),
    ("legacy", "Legacy Partner Role", ("EMBED",), None),
)

FIRST_NAMES = (
    "Ada", "Ben", "Chloe", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jia", "Kofi", "Lena",
    "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Uma", "Viktor", "Wen",
    "Ximena", "Yusuf", "Zara", "Aiko", "Bruno", "Carmen", "Dmitri", "Esme", "Felix", "Greta",
    "Hugo", "Ines", "Jonas", "Kira", "Liam", "Maya", "Nils",
)  # fmt: skip
LAST_NAMES = (
    "Lee", "Okafor", "Schmidt", "Garcia", "Nakamura", "Rossi", "Dubois", "Kowalski", "Silva",
    "Andersen", "Haddad", "Murphy", "Novak", "Patel", "Chen", "Larsen", "Moreau", "Costa", "Ivanova",
    "Bauer", "Fischer", "Kim", "Lopez", "Mensah", "Nguyen", "Olsen", "Park", "Quist", "Rahman",
    "Sato", "Torres", "Varga", "Weber", "Yilmaz", "Zhang", "Berg", "Cruz", "Dahl", "Eze", "Frost",
)  # fmt: skip

ALERT_LEVELS = ("none", "info", "warning", "error")


@dataclass(frozen=True)
class EdgeUser:
    """A user that exists in every profile to exercise an edge case."""

    local: str  # email local part ("" when ``email`` is given in full)
    first: str
    last: str
    roles: tuple[str, ...]  # role keys; empty: directory user with group roles only
    logged_in: bool = True
    email: str | None = None
    why: str = ""


_POWER_ROLES = (
    "standard", "admin", "prodsupport", "support", "release", "auditor", "developer", "senior", "lead",
    "legacy",
)  # fmt: skip

EDGE_USERS = (
    EdgeUser("zoe.angstrom", "Zoë", "Ångström", ("standard", "developer"), why="unicode name"),
    EdgeUser("li.lei", "李", "雷", ("standard", "viewer"), why="CJK name"),
    EdgeUser("jose.nino", "José", "Niño", ("developer",), why="accented name"),
    EdgeUser("a+ops", "Ops", "Alias", ("operator",), why="plus-addressed email"),
    EdgeUser("", "Mixed", "Case", ("auditor",), email="Mixed.Case@Example.COM", why="mixed-case email"),
    EdgeUser("power.user", "Pat", "Power", _POWER_ROLES, why="many roles, including the non-canonical one"),
    EdgeUser("legacy.partner", "Lars", "Legacy", ("legacy",), why="holds only the non-canonical role"),
    EdgeUser("new.hire", "Nina", "Newhire", ("standard",), logged_in=False, why="never logged in"),
    EdgeUser("only.standard", "Olga", "Standard", ("standard",), why="holds only Standard User"),
    EdgeUser("group.only", "Gina", "Grouponly", (), why="group roles only, not in the account"),
)


@dataclass
class Profile:
    """A generated account, ready to load into a ``SimulatorState``."""

    name: str
    account_name: str
    domain: str
    primary: bool
    api_email: str
    users: list[tuple[str, str, str, bool]] = field(default_factory=list)  # email, first, last, logged in
    roles: list[tuple[str, str, tuple[str, ...], str | None, str]] = field(default_factory=list)
    user_roles: list[tuple[str, str]] = field(default_factory=list)
    groups: list[tuple[str, str, bool, str]] = field(default_factory=list)  # id, name, default, alert
    group_roles: list[tuple[str, str, str]] = field(default_factory=list)


_SIZES = {
    # profile: (account name, generated users, custom roles in total, groups, primary)
    "demo": ("acme", 104, len(CUSTOM_ROLES), 4, True),
    "non_primary": ("initech", 104, len(CUSTOM_ROLES), 0, False),
    "large": ("globex", 10_000 - 1 - sum(1 for e in EDGE_USERS if e.roles), 56, 200, True),
    "empty": ("emptyco", 0, 0, 0, True),
}
# Roles per generated user cycle through this pattern (large: 2.5 on average -> ~25,000 rows).
_ROLE_COUNTS = {"demo": (1, 1, 2, 1), "non_primary": (1, 1, 2, 1), "large": (1, 2, 3, 4)}


def make_account_id(account_name: str, seed: int) -> str:
    """Boomi-shaped account id: lower-case name, hyphen, six upper-case alphanumerics."""
    rng = random.Random(f"account:{account_name}:{seed}")
    return f"{account_name}-" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=6))


def make_token(seed: int) -> str:
    """A deterministic API token for a seed (Boomi tokens are UUID-shaped)."""
    return str(uuid.UUID(int=random.Random(f"token:{seed}").getrandbits(128), version=4))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def generate(profile: str, seed: int = 0, api_email: str | None = None) -> Profile:
    """Generate ``profile`` for ``seed``. The API user holds Administrator and has logged in."""
    if profile == "skewed":
        return _skewed(seed, api_email)
    if profile not in _SIZES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    account_name, n_users, n_custom, n_groups, primary = _SIZES[profile]
    rng = random.Random(f"profile:{profile}:{seed}")
    domain = f"{account_name}.example"
    email = api_email or f"api.admin@{domain}"
    out = Profile(profile, account_name, domain, primary, email)
    out.users.append((email, "API", "Admin", True))
    out.user_roles.append((email, ADMINISTRATOR_ID))
    for role_id, name, privs, desc in BUILTIN_ROLES:
        out.roles.append((role_id, name, privs, STANDARD_USER_ID, desc))
    if profile == "empty":
        return out

    key_to_id = _custom_roles(out, rng, n_custom)
    assignable = [r[0] for r in out.roles if r[0] != NON_CANONICAL_ROLE_ID]
    generated = _generated_users(out, rng, n_users, domain, assignable, _ROLE_COUNTS[profile])
    edge_emails = _edge_users(out, domain, key_to_id)
    if n_groups:
        _groups(out, rng, n_groups, generated, assignable, edge_emails["group.only"])
    return out


def _custom_roles(out: Profile, rng: random.Random, n_custom: int) -> dict[str, str]:
    key_to_id = {
        "admin": ADMINISTRATOR_ID,
        "standard": STANDARD_USER_ID,
        "prodsupport": PRODUCTION_SUPPORT_ID,
        "support": SUPPORT_ID,
    }
    for key, name, privs, parent in CUSTOM_ROLES:
        role_id = NON_CANONICAL_ROLE_ID if key == "legacy" else _uuid(rng)
        key_to_id[key] = role_id
        parent_id = key_to_id[parent] if parent else STANDARD_USER_ID
        out.roles.append((role_id, name, privs, parent_id, f"{name} (simulated custom role)"))
    previous = STANDARD_USER_ID
    for i in range(n_custom - len(CUSTOM_ROLES)):
        role_id = _uuid(rng)
        privs = tuple(sorted(rng.sample(ALL_PRIVILEGES[2:], 3)))
        # Every fifth generated role extends the one before it: deeper inheritance chains.
        parent_id = previous if i % 5 == 4 else STANDARD_USER_ID
        out.roles.append((role_id, f"Custom Role {i + 1:02d}", privs, parent_id, ""))
        previous = role_id
    return key_to_id


def _generated_users(
    out: Profile, rng: random.Random, n: int, domain: str, assignable: list[str], counts: tuple[int, ...]
) -> list[str]:
    """Regular users; role counts follow ``counts`` cyclically so sizes do not depend on the seed.
    Returns the emails of those who have logged in (eligible for group roles)."""
    logged_in: list[str] = []
    seen: set[str] = set()
    for i in range(n):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower()
        if local in seen:
            local = f"{local}{i}"
        seen.add(local)
        email = f"{local}@{domain}"
        active = i % 25 != 24  # a few invitees who never logged in
        out.users.append((email, first, last, active))
        for role_id in rng.sample(assignable, counts[i % len(counts)]):
            out.user_roles.append((email, role_id))
        if active:
            logged_in.append(email)
    return logged_in


def _edge_users(out: Profile, domain: str, key_to_id: dict[str, str]) -> dict[str, str]:
    emails = {}
    for edge in EDGE_USERS:
        email = edge.email or f"{edge.local}@{domain}"
        emails[edge.local or email] = email
        out.users.append((email, edge.first, edge.last, edge.logged_in))
        out.user_roles.extend((email, key_to_id[k]) for k in edge.roles)
    return emails


def _groups(
    out: Profile,
    rng: random.Random,
    n_groups: int,
    members: list[str],
    assignable: list[str],
    group_only_email: str,
) -> None:
    """Groups: "All Accounts" (default), one with exactly 100 rows, one with exactly 101, and the
    rest (demo: one empty group; large: rows spread so the total is 40,000)."""
    names = ["All Accounts", "EMEA Customers", "Partner Support", "Sandbox"]
    sizes = [20, 100, 101, 0]
    if n_groups > 4:
        names += [f"Region {i:03d} Customers" for i in range(4, n_groups)]
        rest = 40_000 - 1 - sum(sizes[:3])  # 40,000 rows with the group-only user's row
        per, extra = divmod(rest, n_groups - 3)
        sizes = sizes[:3] + [per + (1 if i < extra else 0) for i in range(n_groups - 3)]
    _fill_groups(out, rng, names, sizes, members, assignable, group_only_email)


def _fill_groups(
    out: Profile,
    rng: random.Random,
    names: list[str],
    sizes: list[int],
    members: list[str],
    assignable: list[str],
    group_only_email: str,
) -> None:
    """Create the groups ``names`` with ``sizes`` rows each. The first is the default group; the
    third (sized 101) holds 100 users, one of them with two roles."""
    offset = 0
    for gi, (name, size) in enumerate(zip(names, sizes, strict=True)):
        group_id = _uuid(rng)
        out.groups.append((group_id, name, gi == 0, "none" if gi == 0 else ALERT_LEVELS[gi % 4]))
        distinct = min(size, 100) if gi == 2 else size  # 101 rows: 100 users, one holding two roles
        chosen = [members[(offset + j) % len(members)] for j in range(distinct)]
        offset += distinct
        for email in chosen:
            out.group_roles.append((group_id, email, rng.choice(assignable)))
        if len(chosen) < size:
            first_role = out.group_roles[-distinct][2]
            other = next(r for r in assignable if r != first_role)
            out.group_roles.append((group_id, chosen[0], other))
    # The group-only directory user: a role in "All Accounts", no AccountUserRole row anywhere.
    out.group_roles.append((out.groups[0][0], group_only_email, SUPPORT_ID))


# --------------------------------------------------------------------------- the skewed profile

_SKEWED_USERS = 5_000
"""Users in the ``skewed`` account: the API user, the edge users holding roles, generated ones."""
_SKEWED_BIG_ROLES = (("developer", 2_000), ("viewer", 1_500), ("operator", 400), ("release", 150))
"""The few custom roles that hold most grants besides Standard User (role key, holders)."""
_SKEWED_BUILTIN_HOLDERS = (("admin", 11), ("prodsupport", 60), ("support", 40))
"""Generated holders of built-in roles; with the API user and ``power.user``: 13 Administrators."""
_SKEWED_TAIL_ROLES = 30
"""Generated custom roles in the long tail, 1-20 holders each."""
_SKEWED_GROUPS = 60


def _skewed(seed: int, api_email: str | None) -> Profile:
    """A 5,000-user account with the long tails real accounts have.

    The API user and every generated user hold Standard User (the edge users keep their own roles);
    Developer, Dashboard Viewer, Operator and Release Manager hold most other grants; ~35 custom
    roles have 1-20 holders each; 13 users are Administrators. 60 account groups: "All Accounts"
    with ~2,500 rows, a few with hundreds, most with 0-10.
    """
    rng = random.Random(f"profile:skewed:{seed}")
    domain = "umbrella.example"
    email = api_email or f"api.admin@{domain}"
    out = Profile("skewed", "umbrella", domain, True, email)
    out.users.append((email, "API", "Admin", True))
    out.user_roles.extend([(email, ADMINISTRATOR_ID), (email, STANDARD_USER_ID)])
    for role_id, name, privs, desc in BUILTIN_ROLES:
        out.roles.append((role_id, name, privs, STANDARD_USER_ID, desc))
    key_to_id = _custom_roles(out, rng, len(CUSTOM_ROLES) + _SKEWED_TAIL_ROLES)

    n = _SKEWED_USERS - 1 - sum(1 for e in EDGE_USERS if e.roles)
    emails: list[str] = []
    logged_in: list[str] = []
    for i in range(n):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email_i = f"{first}.{last}{i}@{domain}".lower()
        active = i % 25 != 24  # a few invitees who never logged in
        out.users.append((email_i, first, last, active))
        emails.append(email_i)
        if active:
            logged_in.append(email_i)
    # Holders per user, in role order, so a user's rows are adjacent as in the other profiles.
    held: list[list[str]] = [[STANDARD_USER_ID] for _ in range(n)]
    sized = [(key_to_id[k], size) for k, size in _SKEWED_BUILTIN_HOLDERS + _SKEWED_BIG_ROLES]
    big_ids = {key_to_id[k] for k, _size in _SKEWED_BIG_ROLES}
    tail = [r[0] for r in out.roles if r[0] not in _BUILTIN_IDS and r[0] not in big_ids]
    tail = [r for r in tail if r != NON_CANONICAL_ROLE_ID]  # held by the edge users only
    sized += [(role_id, 1 + (i * 7) % 20) for i, role_id in enumerate(tail)]
    for role_id, size in sized:
        for i in rng.sample(range(n), size):
            held[i].append(role_id)
    for email_i, roles in zip(emails, held, strict=True):
        out.user_roles.extend((email_i, r) for r in roles)

    edge_emails = _edge_users(out, domain, key_to_id)
    names = ["All Accounts", "EMEA Customers", "Partner Support", "Americas Customers", "APAC Customers",
             "Integration Partners"]  # fmt: skip
    sizes = [2_500, 100, 101, 600, 350, 200]
    names += [f"Team {i:03d}" for i in range(len(names), _SKEWED_GROUPS)]
    sizes += [(i * 3) % 11 for i in range(_SKEWED_GROUPS - len(sizes))]  # 0-10 rows each
    assignable = [r[0] for r in out.roles if r[0] != NON_CANONICAL_ROLE_ID]
    _fill_groups(out, rng, names, sizes, logged_in, assignable, edge_emails["group.only"])
    return out


# --------------------------------------------------------------------------- loading


def build_state(
    profile: str,
    seed: int = 0,
    *,
    account_id: str | None = None,
    api_email: str | None = None,
    primary: bool | None = None,
    advanced_user_security: bool = True,
    builtin_parent: str = "standard_user",
    builtin_roles: str = "listed",
    user_id_case: str = "insensitive",
    cross_account_rows: bool = False,
    group_roles_on_removal: str = "kept",
) -> SimulatorState:
    """Generate ``profile`` and load it into a new ``SimulatorState``.

    ``builtin_parent="none"`` (§g.3) leaves the built-in roles without ``parentId``;
    ``cross_account_rows`` (§g.5) adds rows of sibling accounts (``foreign_rows``). The other
    keywords are ``SimulatorState``'s.
    """
    if builtin_parent not in ("standard_user", "none"):
        raise ValueError(f"builtin_parent must be 'standard_user' or 'none', not {builtin_parent!r}")
    data = generate(profile, seed, api_email)
    state = SimulatorState(
        account_id or make_account_id(data.account_name, seed),
        data.account_name.capitalize() + " Corp",
        primary=data.primary if primary is None else primary,
        advanced_user_security=advanced_user_security,
        seed=seed,
        user_id_case=user_id_case,
        builtin_roles=builtin_roles,
        group_roles_on_removal=group_roles_on_removal,
    )
    role_names = {}
    for role_id, name, privs, parent_id, desc in data.roles:
        owner = BUILTIN_ACCOUNT_ID if role_id in _BUILTIN_IDS else None
        if owner is not None and builtin_parent == "none":
            parent_id = None
        state.add_role(name, privs, parent_id=parent_id, role_id=role_id, description=desc, account_id=owner)
        role_names[role_id] = name
    for email, first, last, logged_in in data.users:
        state.add_user(email, first, last, logged_in)
    used_roles: dict[str, list[str]] = {}
    for group_id, _email, role_id in data.group_roles:
        roles = used_roles.setdefault(group_id, [])
        if role_id not in roles and len(roles) < 5:
            roles.append(role_id)
    for group_id, name, default, alert in data.groups:
        resources = [
            {"resourceId": r, "resourceName": role_names[r], "objectType": "Role"}
            for r in used_roles.get(group_id, [])
        ]
        state.add_account_group(
            name,
            default_group=default,
            auto_subscribe_alert_level=alert,
            group_id=group_id,
            resources=resources,
        )
    state.load_rows(data.user_roles, data.group_roles)
    state.api_user_id = data.api_email
    if cross_account_rows:
        foreign_rows(state, seed)
    return state


def foreign_rows(state: SimulatorState, seed: int = 0) -> None:
    """§g.5: give every third user of the account one or two built-in roles in sibling accounts
    ``<account_id>-sub1`` (and ``-sub2``), as a primary account's view might include them."""
    rng = random.Random(f"foreign:{seed}")
    builtins = [r[0] for r in BUILTIN_ROLES]
    members = [u["userId"] for u in state.users() if u["inAccount"]]
    for i, user_id in enumerate(members[::3]):
        for sub in range(1 + i % 2):
            state.add_foreign_user_role(f"{state.account_id}-sub{sub + 1}", user_id, rng.choice(builtins))


# --------------------------------------------------------------------------- sub-accounts

SUB_ACCOUNT_TEMPLATES: tuple[tuple[str, str, str, str | None], ...] = (
    ("EMEA Customer", "active", "2022-05-10T09:00:00Z", None),
    ("Partner Trial", "trial", "2025-11-03T14:30:00Z", "2027-01-31T00:00:00Z"),
    ("Retired Customer", "deleted", "2021-08-19T08:15:00Z", "2024-12-31T00:00:00Z"),
)
"""(name, status, dateCreated, expirationDate) of a partner's sub-accounts, in order; beyond
these they repeat with a number. The first two are the sub-accounts the account groups cover
(``governance.py``); the third, deleted, is covered by none."""
DEFAULT_SUB_ACCOUNTS = len(SUB_ACCOUNT_TEMPLATES)


def sub_accounts(
    account_id: str, account_name: str, count: int = DEFAULT_SUB_ACCOUNTS
) -> list[dict[str, Any]]:
    """The Account objects of a primary (partner) account's ``count`` sub-accounts, ids
    ``<account_id>-sub1``, ``-sub2``... (the ids the account-group coverage and §g.5's rows of
    sibling accounts use), shaped as Boomi's ``Account`` schema types them."""
    accounts = []
    for i in range(count):
        name, status, created, expires = SUB_ACCOUNT_TEMPLATES[i % len(SUB_ACCOUNT_TEMPLATES)]
        if i >= len(SUB_ACCOUNT_TEMPLATES):
            name = f"{name} {i + 1}"
        account: dict[str, Any] = {
            "@type": "Account",
            "accountId": f"{account_id}-sub{i + 1}",
            "name": f"{account_name} {name}",
            "status": status,
            "dateCreated": created,
            "widgetAccount": False,
            "supportAccess": True,
            "supportLevel": "standard",
            "overDeployed": False,
            "suggestionsEnabled": False,
        }
        if expires is not None:
            account["expirationDate"] = expires
        accounts.append(account)
    return accounts


_BUILTIN_IDS = frozenset(r[0] for r in BUILTIN_ROLES)
