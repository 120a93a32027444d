"""Query paging: 100 rows a page, the rest behind an opaque, single-use ``queryToken``."""

from __future__ import annotations

import base64
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .errors import SimulatorApiError

PAGE_SIZE = 100
"""Boomi's maximum number of results in one query response."""


@dataclass
class _Cursor:
    object_type: str
    rows: list[dict[str, Any]]
    offset: int


class CursorStore:
    """Server-side cursors over result snapshots taken at query time.

    A token is valid for one ``queryMore`` of the same object type; that call consumes it and, when
    rows remain, issues a new token. The oldest cursors are forgotten beyond ``max_cursors``.
    """

    def __init__(self, page_size: int = PAGE_SIZE, max_cursors: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._page_size = page_size
        self._max = max_cursors
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()

    def first_page(self, object_type: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The QueryResult for a fresh query over ``rows`` (a snapshot the store now owns)."""
        return self._page(_Cursor(object_type, rows, 0))

    def next_page(self, object_type: str, token: str) -> dict[str, Any]:
        """The QueryResult for ``queryMore``; 400 "Invalid query token" if unknown or used up."""
        with self._lock:
            cursor = self._cursors.pop(token, None)
        if cursor is None or cursor.object_type != object_type:
            raise SimulatorApiError(400, "Invalid query token.")
        return self._page(cursor)

    def _page(self, cursor: _Cursor) -> dict[str, Any]:
        end = cursor.offset + self._page_size
        page = cursor.rows[cursor.offset : end]
        result: dict[str, Any] = {"@type": "QueryResult", "numberOfResults": len(page), "result": page}
        if end < len(cursor.rows):
            token = base64.b64encode(os.urandom(60)).decode("ascii")
            with self._lock:
                self._cursors[token] = _Cursor(cursor.object_type, cursor.rows, end)
                while len(self._cursors) > self._max:
                    self._cursors.popitem(last=False)
            result["queryToken"] = token
        return result
