"""Reading the role catalog from Boomi completely, whichever way Boomi lists roles (§g.2).

``Role/query`` may list the built-in roles (account ``"1"``) or only the account's custom roles
(the Role object page says it is for "an account's custom roles"). A catalog without the
built-ins would name no Administrator and no Standard User, so privileged flags and the
Standard User safeguard would be silently wrong. The reader detects that answer (no built-in
role in the listing) and fills the gaps from the two other sources Boomi has: ``GET
getAssignableRoles`` (names, no privileges) and ``GET Role/{id}`` (the full role). A role
whose privileges no source gives stays in the catalog with privileges unknown.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from airflow_provider_boomi.access.roles import PrivilegePolicy, RoleCatalog
from airflow_provider_boomi.client import (
    BoomiBadRequestError,
    BoomiClient,
    BoomiNotFoundError,
    BoomiPermissionError,
    Role,
)

__all__ = ["RoleSource"]

log = logging.getLogger(__name__)

# What Boomi answers for a role id it does not know or will not show: the role stays unknown.
_ROLE_UNREADABLE = (BoomiBadRequestError, BoomiNotFoundError, BoomiPermissionError)


class RoleSource:
    """The roles of one account as read so far, and the catalog resolved from them.

    Not thread-safe: one thread owns it. :meth:`fetch` only reads, so it may run on a worker
    thread; its answer is handed to :meth:`include` on the owner's thread.
    """

    def __init__(
        self,
        client: BoomiClient,
        policy: PrivilegePolicy | None = None,
        *,
        builtin_inheritance: bool = False,
    ) -> None:
        self._client = client
        self._policy = policy or PrivilegePolicy()
        self._builtin_inheritance = builtin_inheritance
        self._roles: dict[str, Role] = {}
        self._privileges_unknown: set[str] = set()
        self.warnings: list[str] = []
        """What the reader had to work around, for the manifest."""
        self.catalog = RoleCatalog()

    # --- reading -----------------------------------------------------------------------------------

    def read(self) -> RoleCatalog:
        """``Role/query``, then whatever it left out; returns the resolved catalog."""
        for role in self._client.query_roles():
            if role.id:
                self._roles.setdefault(role.id, role)
        if not any(r.account_id == "1" for r in self._roles.values()):
            self._fill_builtins()
        self._fill_parents()
        return self._resolve()

    def fetch(self, role_id: str) -> Role | None:
        """``GET Role/{id}``; ``None`` when Boomi does not know or will not show the role."""
        try:
            return self._client.get_role(role_id)
        except _ROLE_UNREADABLE as exc:
            log.warning("Boomi role %s could not be read: %s", role_id, exc)
            return None

    def include(self, role_id: str, role: Role | None) -> RoleCatalog:
        """Add a role read by :meth:`fetch` (``None``: unreadable) and return the new catalog."""
        if role_id not in self._roles:
            if role is None or not role.id:
                self._roles[role_id] = Role(id=role_id)
                self._privileges_unknown.add(role_id)
                self.warnings.append(
                    f"role {role_id} is named by grants but neither Role/query nor GET Role/{role_id} "
                    "returned it: its name and privileges are unknown (is_privileged null)"
                )
            else:
                self._roles[role_id] = role
                self.warnings.append(
                    f"role {role_id} ({role.name!r}) is named by grants but Role/query did not list it; "
                    "read with GET Role/{id}"
                )
            self._fill_parents()
        return self._resolve()

    # --- gaps --------------------------------------------------------------------------------------

    def _fill_builtins(self) -> None:
        """Role/query listed no built-in role: read them from getAssignableRoles and GET Role/{id}."""
        try:
            assignable = self._client.get_assignable_roles()
        except _ROLE_UNREADABLE as exc:
            assignable = []
            log.warning("Boomi getAssignableRoles failed: %s", exc)
        filled = unknown = 0
        for listed in assignable:
            if not listed.id or listed.id in self._roles:
                continue
            full = self.fetch(listed.id)
            if full is not None and full.id:
                self._roles[listed.id] = full
                filled += 1
            else:
                # Names without privileges: better than no role at all, and marked unknown.
                self._roles[listed.id] = listed
                self._privileges_unknown.add(listed.id)
                unknown += 1
        self.warnings.append(
            "Role/query listed no built-in role (reference §g.2: it may list only the account's custom "
            f"roles); {filled} role(s) were read with GET Role/{{id}} after getAssignableRoles"
            + (f", {unknown} with privileges unknown" if unknown else "")
        )
        if not filled and not unknown:
            self.warnings.append(
                "no built-in role could be read: Administrator and Standard User are not in the catalog"
            )

    def _fill_parents(self) -> None:
        """Read parents that no listing returned, so inherited privileges are not guessed."""
        for _ in range(10):  # a chain of missing parents is short; the bound stops a bad answer
            missing = sorted(
                {r.parent_id for r in self._roles.values() if r.parent_id and r.parent_id not in self._roles}
            )
            if not missing:
                return
            for role_id in missing:
                role = self.fetch(role_id)
                readable = role is not None and role.id == role_id
                self._roles[role_id] = role if role is not None and readable else Role(id=role_id)
                if not readable:
                    self._privileges_unknown.add(role_id)
                    self.warnings.append(
                        f"role {role_id} is the parent of a listed role but could not be read: roles "
                        "inheriting from it have unknown effective privileges"
                    )

    def _resolve(self) -> RoleCatalog:
        self.catalog = RoleCatalog.build(
            self._roles.values(),
            self._policy,
            privileges_unknown=self._privileges_unknown,
            builtin_inheritance=self._builtin_inheritance,
        )
        return self.catalog

    def unknown_ids(self, role_ids: Iterable[str]) -> list[str]:
        """The ids among ``role_ids`` that the catalog does not hold yet."""
        return [r for r in role_ids if r not in self._roles]
