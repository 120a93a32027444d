"""Who reviews a grant: an owners mapping from roles and account groups to reviewers.

Kept apart from campaign building because it is the one policy users configure most, and its
precedence rules deserve one place and one docstring.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["Owners"]

_KINDS = ("role", "group")


class Owners:
    """Resolves the reviewer of a grant.

    Keys of ``mapping`` are role ids, role names, account group ids or group names; values are
    reviewer emails (or any reviewer label). A key may be prefixed ``role:`` or ``group:`` to
    say which kind it names when a role and a group share a name. Keys match case-insensitively
    and ignoring surrounding spaces.

    Precedence, most specific first:

    - group grants: the group (id, then name), then the role (id, then name): whoever owns a
      group decides who is in it;
    - global grants: the role (id, then name);
    - then ``default_reviewer``; then no reviewer (``None``).

    Args:
        mapping: role/group id or name -> reviewer.
        default_reviewer: reviewer of grants no key matches.

    Raises:
        ValueError: a reviewer is empty, or two keys differing only in case map to different
            reviewers.
    """

    def __init__(self, mapping: Mapping[str, str] | None = None, default_reviewer: str | None = None) -> None:
        self._by_kind: dict[str, dict[str, str]] = {"role": {}, "group": {}, "any": {}}
        for raw_key, reviewer in (mapping or {}).items():
            if not isinstance(reviewer, str) or not reviewer.strip():
                raise ValueError(f"owners[{raw_key!r}] is empty; give a reviewer email")
            kind, key = "any", str(raw_key)
            for prefix in _KINDS:
                if key.lower().startswith(f"{prefix}:"):
                    kind, key = prefix, key[len(prefix) + 1 :]
                    break
            norm = key.strip().casefold()
            existing = self._by_kind[kind].get(norm)
            if existing is not None and existing != reviewer.strip():
                raise ValueError(
                    f"owners has two keys for {key!r} ({existing!r} and {reviewer.strip()!r}); keep one"
                )
            self._by_kind[kind][norm] = reviewer.strip()
        if default_reviewer is not None and not default_reviewer.strip():
            raise ValueError("default_reviewer is empty; pass None for no default")
        self.default_reviewer = default_reviewer.strip() if default_reviewer else None

    def _lookup(self, kind: str, *candidates: str | None) -> str | None:
        for candidate in candidates:
            if not candidate:
                continue
            norm = candidate.strip().casefold()
            for table in (self._by_kind[kind], self._by_kind["any"]):
                if norm in table:
                    return table[norm]
        return None

    def reviewer_for(
        self,
        *,
        role_id: str,
        role_name: str | None,
        account_group_id: str | None = None,
        account_group_name: str | None = None,
    ) -> str | None:
        """The reviewer of one grant (see the class docstring for the precedence)."""
        if account_group_id is not None:
            found = self._lookup("group", account_group_id, account_group_name)
            if found:
                return found
        return self._lookup("role", role_id, role_name) or self.default_reviewer
