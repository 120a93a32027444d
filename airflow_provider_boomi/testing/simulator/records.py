"""The record kept of every request the simulator receives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RequestRecord:
    """One request as the simulator saw and answered it.

    ``object_type`` is the Boomi object of the path (``"AccountUserRole"``, ``"getAssignableRoles"``)
    or ``None`` when the path is not under ``/api/rest/v1/{accountId}/``. ``operation`` is one of
    ``query``, ``queryMore``, ``get``, ``create``, ``delete``, ``getAssignableRoles`` or ``unknown``.
    ``status`` is 0 when the connection was dropped without an answer. ``fault`` names an injected
    fault kind (``"503"``, ``"drop"``, ``"slow"`` ...) or ``"rate_limited"`` for a request refused by
    the rate limiter; ``None`` otherwise.
    """

    seq: int
    time: float
    method: str
    path: str
    object_type: str | None
    operation: str
    status: int
    request_body: Any
    fault: str | None
