"""Fault injection: rules that make chosen requests fail in chosen ways, deterministically."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass

FAULT_KINDS = (
    "503", "500", "502", "504", "429", "drop", "slow", "malformed", "401", "timeout_after_answer",
)  # fmt: skip
"""Fault kinds: an HTTP error status, ``drop`` (close the socket without an answer, before the
request has any effect), ``slow`` (wait ``delay`` seconds, then answer normally), ``malformed``
(200 with a body that is not JSON) and ``timeout_after_answer`` (process the request fully -- a
queryMore consumes its token, a create or delete is applied -- then close the socket without an
answer: the client sees a lost connection although Boomi acted, §g.7)."""


@dataclass(frozen=True)
class FaultRule:
    """One fault to inject.

    A rule matches requests for ``object_type`` (``None``: any) and ``operation`` (``None``: any).
    It lets the first ``after`` matching requests through, then injects into up to ``count``
    requests (``None``: unlimited), each with ``probability`` drawn from the simulator's seeded RNG.
    ``retry_after`` adds a ``Retry-After`` header (seconds) to 503 and 429 answers; ``delay`` is the
    wait of a ``slow`` fault.
    """

    kind: str
    object_type: str | None = None
    operation: str | None = None
    after: int = 0
    count: int | None = None
    probability: float = 1.0
    retry_after: float | None = None
    delay: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if self.after < 0 or (self.count is not None and self.count < 0):
            raise ValueError("after and count must be >= 0")

    @classmethod
    def parse(cls, spec: str) -> FaultRule:
        """Parse the CLI form ``KIND[:key=value,...]``, e.g. ``503:count=5,object=Role,op=query``.

        Keys: ``object`` (or ``object_type``), ``op`` (or ``operation``), ``after``, ``count``,
        ``probability`` (or ``p``), ``retry_after``, ``delay``.
        """
        kind, _, rest = spec.partition(":")
        fields: dict[str, object] = {}
        for part in filter(None, (p.strip() for p in rest.split(","))):
            key, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"fault option {part!r} is not key=value")
            key = {"object": "object_type", "op": "operation", "p": "probability"}.get(key, key)
            if key in ("object_type", "operation"):
                fields[key] = value
            elif key in ("after", "count"):
                fields[key] = int(value)
            elif key in ("probability", "retry_after", "delay"):
                fields[key] = float(value)
            else:
                raise ValueError(f"unknown fault option {key!r}")
        return cls(kind=kind.strip(), **fields)  # type: ignore[arg-type]

    def matches(self, object_type: str | None, operation: str) -> bool:
        """Whether this rule targets the request (before counting ``after``/``count``)."""
        return (self.object_type is None or self.object_type == object_type) and (
            self.operation is None or self.operation == operation
        )


class FaultInjector:
    """Decides, thread-safely and reproducibly for a seed, which fault (if any) a request gets.

    Rules are checked in order; each counts the requests it matches; the first that fires wins.
    """

    def __init__(self, rules: Iterable[FaultRule] = (), seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._rules: list[FaultRule] = []
        self._seen: list[int] = []
        self._injected: list[int] = []
        self.set_rules(rules)

    def set_rules(self, rules: Iterable[FaultRule]) -> None:
        """Replace all rules; counters restart from zero."""
        with self._lock:
            self._rules = list(rules)
            self._seen = [0] * len(self._rules)
            self._injected = [0] * len(self._rules)

    def pick(self, object_type: str | None, operation: str) -> FaultRule | None:
        """The rule to apply to this request, or ``None``."""
        with self._lock:
            for i, rule in enumerate(self._rules):
                if not rule.matches(object_type, operation):
                    continue
                self._seen[i] += 1
                if self._seen[i] <= rule.after:
                    continue
                if rule.count is not None and self._injected[i] >= rule.count:
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                self._injected[i] += 1
                return rule
            return None
