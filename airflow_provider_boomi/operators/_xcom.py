"""Reading what an upstream Boomi operator returned, whichever way a DAG passes it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def field_of(value: Any, key: str) -> Any:
    """``value[key]`` when ``value`` is an upstream operator's result dict, else ``value``.

    ``sync.output`` is the whole dict a ``BoomiSyncOperator`` returned (``sync.output["x"]``
    would name an XCom *key*, not a dict item), so operators accept either the dict or the
    field itself: ``snapshot=sync.output`` and ``snapshot="/path/to/snapshot"`` both work.
    """
    if isinstance(value, Mapping):
        if key not in value:
            raise ValueError(f"expected {key!r} in the upstream result, which has {sorted(value)}")
        return value[key]
    return value
