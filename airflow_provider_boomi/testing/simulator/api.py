"""Routing of Platform API requests to the account state: which object, which operation, which answer.

Pure functions of (method, path, body): no sockets here, so routing is testable without HTTP.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from .errors import SimulatorApiError
from .filters import DEFAULT_DIALECT, FilterDialect, compile_query
from .governance import GOVERNANCE_ROUTES, Governance
from .paging import CursorStore
from .state import SimulatorState

API_PREFIX = ("api", "rest", "v1")
GROUP_OBJECTS = frozenset({"AccountGroup", "AccountGroupUserRole", "AccountGroupAccount"})

# (object type, operation) pairs the simulator implements.
ROUTES = frozenset(
    {
        ("Role", "query"),
        ("Role", "queryMore"),
        ("Role", "get"),
        ("AccountUserRole", "create"),
        ("AccountUserRole", "query"),
        ("AccountUserRole", "queryMore"),
        ("AccountUserRole", "delete"),
        ("AccountGroup", "query"),
        ("AccountGroup", "queryMore"),
        ("AccountGroup", "get"),
        ("AccountGroupUserRole", "create"),
        ("AccountGroupUserRole", "query"),
        ("AccountGroupUserRole", "queryMore"),
        ("AccountGroupUserRole", "delete"),
        ("Account", "get"),
        ("getAssignableRoles", "getAssignableRoles"),
    }
    | GOVERNANCE_ROUTES
)

FORBIDDEN = "Access denied due to insufficient permissions."
DEFAULT_GROUP_NAME = "All Accounts"


@dataclass(frozen=True)
class Target:
    """What a request path addresses: ``account_id`` and ``object_type`` are ``None`` off the API."""

    account_id: str | None
    object_type: str | None
    operation: str
    object_id: str | None


def parse_target(method: str, raw_path: str) -> Target:
    """Classify ``METHOD /api/rest/v1/{accountId}/{Object}[/{id|query|queryMore}]``."""
    parts = [unquote(p) for p in urlsplit(raw_path).path.split("/") if p]
    if len(parts) < 5 or tuple(parts[:3]) != API_PREFIX:
        return Target(parts[3] if len(parts) > 3 else None, None, "unknown", None)
    account_id, object_type, rest = parts[3], parts[4], parts[5:]
    operation, object_id = "unknown", None
    if object_type == "getAssignableRoles":
        operation = "getAssignableRoles" if method == "GET" and not rest else "unknown"
    elif method == "POST" and not rest:
        operation = "create"
    elif method == "POST" and rest in (["query"], ["queryMore"]):
        operation = rest[0]
    elif method in ("GET", "DELETE") and len(rest) == 1:
        operation, object_id = ("get" if method == "GET" else "delete"), rest[0]
    return Target(account_id, object_type, operation, object_id)


def decode_json_body(raw: bytes) -> Any:
    """The JSON request body, ``None`` when empty; 400 when it is not JSON."""
    text = raw.decode("utf-8", errors="replace").strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SimulatorApiError(400, f"Malformed JSON request body: {exc}") from None


def decode_token(raw: bytes) -> str:
    """A queryMore body: the bare token, tolerating whitespace and JSON-style quotes."""
    return raw.decode("utf-8", errors="replace").strip().strip('"').strip()


class ApiRouter:
    """Answers an authenticated, authorised request for the simulated account.

    ``groups_mode`` (§g.6) decides what AccountGroup and AccountGroupUserRole calls do on a
    non-primary account: ``empty`` (queries find nothing), ``forbidden`` (403), ``bad_request``
    (400 "Unknown object type"), ``not_found`` (404) or ``default_group`` (AccountGroup/query finds
    one "All Accounts" default group, AccountGroupUserRole/query nothing). ``filters`` carries the
    filter-grammar switches (§g.1, §g.4, §g.9).
    """

    def __init__(
        self,
        state: SimulatorState,
        cursors: CursorStore,
        groups_mode: str,
        filters: FilterDialect = DEFAULT_DIALECT,
        governance: Governance | None = None,
    ) -> None:
        self.state = state
        self.cursors = cursors
        self.groups_mode = groups_mode
        self.filters = filters
        self.governance = governance or Governance(state)

    def default_group(self) -> dict[str, Any]:
        """The lone default group a non-primary account shows in ``default_group`` mode."""
        group_id = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"boomi-simulator:{self.state.account_id}:default-group")
        )
        return {
            "@type": "AccountGroup",
            "id": group_id,
            "accountId": self.state.account_id,
            "name": DEFAULT_GROUP_NAME,
            "defaultGroup": True,
            "autoSubscribeAlertLevel": "none",
        }

    def _non_primary_groups(self, obj: str, op: str, target: Target, raw_body: bytes) -> Any:
        """The answer of an account-group call on a non-primary account, or ``None`` to carry on."""
        mode = self.groups_mode
        if mode == "forbidden":
            raise SimulatorApiError(403, FORBIDDEN)
        if mode in ("bad_request", "not_found"):
            status = 400 if mode == "bad_request" else 404
            raise SimulatorApiError(status, f"Unknown object type {obj} for this account.")
        if op == "query":
            compiled = compile_query(decode_json_body(raw_body), obj, self.filters)  # still validated
            rows = []
            if mode == "default_group" and obj == "AccountGroup":
                rows = [g for g in (self.default_group(),) if compiled.matches(g)]
            return self.cursors.first_page(obj, rows)
        if mode == "default_group" and obj == "AccountGroup" and op == "get":
            group = self.default_group()
            if target.object_id == group["id"]:
                return {**group, "Resources": {"@type": "Resources", "Resource": []}}
        return None

    def handle(self, target: Target, raw_body: bytes) -> Any:
        """The JSON payload of a 200 answer, ``None`` for an empty 200; raises ``SimulatorApiError``."""
        obj, op = target.object_type, target.operation
        if obj is None or (obj, op) not in ROUTES:
            where = f"{obj}/{op}" if obj else "this path"
            raise SimulatorApiError(404, f"Endpoint is invalid or no longer exists: {where}.")
        state = self.state
        if obj in GROUP_OBJECTS and not state.primary:
            # Account groups belong to primary accounts; elsewhere Boomi's answer is unknown (§g.6).
            answer = self._non_primary_groups(obj, op, target, raw_body)
            if answer is not None:
                return answer
        if (obj, op) in GOVERNANCE_ROUTES:  # Account/query too (sub-accounts); GET Account is below
            return self.governance.handle(
                obj,
                op,
                target.object_id,
                raw_body,
                self.cursors,
                self.filters,
                decode_json_body,
                decode_token,
            )
        if op == "query":
            compiled = compile_query(decode_json_body(raw_body), obj, self.filters)
            return self.cursors.first_page(obj, state.query(obj, compiled))
        if op == "queryMore":
            return self.cursors.next_page(obj, decode_token(raw_body))
        if op == "getAssignableRoles":
            return state.assignable_roles()
        object_id = target.object_id or ""
        if op == "get":
            if obj == "Account":
                if object_id != state.account_id:
                    raise SimulatorApiError(403, FORBIDDEN)
                return state.account()
            return state.get_role(object_id) if obj == "Role" else state.get_account_group(object_id)
        if op == "create":
            body = decode_json_body(raw_body)
            if obj == "AccountUserRole":
                return state.create_user_role(body)
            return state.create_group_role(body)
        # delete: the body ({} or none) is ignored.
        if obj == "AccountUserRole":
            state.delete_user_role(object_id)
        else:
            state.delete_group_role(object_id)
        return None
