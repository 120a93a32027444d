"""Query paging: 100 rows a page, the rest behind an opaque ``queryToken``.

How long a token lives is one of Boomi's open questions (§g.7), so the store plays each answer:
``single_use`` (a token works once), ``reusable`` (a token may be presented again and returns the
same page again) and ``expiring`` (single use, and void ``ttl`` seconds after it was issued).
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import SimulatorApiError

PAGE_SIZE = 100
"""Boomi's maximum number of results in one query response."""
TOKEN_MODES = ("single_use", "reusable", "expiring")
"""The lives a ``queryToken`` can have (§g.7)."""
INVALID_TOKEN = "Invalid query token."


@dataclass
class _Cursor:
    object_type: str
    rows: list[dict[str, Any]]
    offset: int
    issued: float = 0.0
    next_token: str | None = None  # reusable mode: the token this page hands out, once minted


class CursorStore:
    """Server-side cursors over result snapshots taken at query time.

    A token is valid for ``queryMore`` of the same object type only. In ``single_use`` mode (the
    default) that call consumes it and, when rows remain, issues a new token; ``reusable`` keeps it,
    and presenting it again returns the same page with the same next token; ``expiring`` is
    ``single_use`` with tokens void ``ttl`` seconds after issue. Beyond ``max_cursors`` the oldest
    cursors are forgotten. An unknown, used, expired or cross-object token is a 400.
    """

    def __init__(
        self,
        page_size: int = PAGE_SIZE,
        max_cursors: int = 10_000,
        *,
        mode: str = "single_use",
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in TOKEN_MODES:
            raise ValueError(f"query_tokens must be one of {TOKEN_MODES}, not {mode!r}")
        self._lock = threading.Lock()
        self._page_size = page_size
        self._max = max_cursors
        self._mode = mode
        self._ttl = ttl
        self._clock = clock
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()

    @property
    def mode(self) -> str:
        """The token life this store plays (``single_use``, ``reusable`` or ``expiring``)."""
        return self._mode

    def first_page(self, object_type: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The QueryResult for a fresh query over ``rows`` (a snapshot the store now owns)."""
        return self._page(_Cursor(object_type, rows, 0))

    def next_page(self, object_type: str, token: str) -> dict[str, Any]:
        """The QueryResult for ``queryMore``; 400 "Invalid query token." if unknown, used up,
        expired or issued for another object type."""
        with self._lock:
            # A reusable token stays; any other is consumed by being presented, valid or not.
            cursor = self._cursors.get(token) if self._mode == "reusable" else self._cursors.pop(token, None)
        if cursor is None or cursor.object_type != object_type:
            raise SimulatorApiError(400, INVALID_TOKEN)
        if self._mode == "expiring" and self._clock() - cursor.issued > self._ttl:
            raise SimulatorApiError(400, INVALID_TOKEN)
        return self._page(cursor)

    def _page(self, cursor: _Cursor) -> dict[str, Any]:
        end = cursor.offset + self._page_size
        page = cursor.rows[cursor.offset : end]
        result: dict[str, Any] = {"@type": "QueryResult", "numberOfResults": len(page), "result": page}
        if end < len(cursor.rows):
            with self._lock:
                token = cursor.next_token
                if token is None or token not in self._cursors:
                    token = base64.b64encode(os.urandom(60)).decode("ascii")
                    self._cursors[token] = _Cursor(cursor.object_type, cursor.rows, end, self._clock())
                    while len(self._cursors) > self._max:
                        self._cursors.popitem(last=False)
                    if self._mode == "reusable":
                        cursor.next_token = token  # presenting this page's token again repeats it
            result["queryToken"] = token
        return result
