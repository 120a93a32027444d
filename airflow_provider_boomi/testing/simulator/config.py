"""The simulator's options in one dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field

from .faults import FaultRule

GROUPS_MODES = ("empty", "forbidden")


@dataclass
class SimulatorConfig:
    """Everything that shapes a simulator run. ``BoomiSimulator(**kwargs)`` builds one of these.

    * ``profile``/``seed``: the generated account (see ``profiles``); the seed changes names only.
    * ``rate_limit``: requests per second for the account (``None``/``0``: unlimited); over it the
      answer is ``rate_limit_status`` (503, Boomi's documented status, or 429) with an optional
      ``retry_after`` header.
    * ``latency`` seconds added to every answer, varied by ``±latency_jitter`` (a fraction).
    * ``groups_mode``: on a non-primary account, ``"empty"`` (AccountGroup queries find nothing)
      or ``"forbidden"`` (AccountGroup* calls answer 403). ``primary`` overrides the profile's.
    * ``api_privileges=False``: the API user lacks API/ACCOUNT_ADMIN, every call answers 403.
    * ``advanced_user_security=False``: custom roles are invisible, as on accounts without that
      feature.
    """

    profile: str = "demo"
    seed: int = 0
    rate_limit: float | None = 10.0
    latency: float = 0.0
    latency_jitter: float = 0.0
    account_id: str | None = None
    port: int = 0
    host: str = "127.0.0.1"
    faults: list[FaultRule] = field(default_factory=list)
    groups_mode: str = "empty"
    api_privileges: bool = True
    token: str | None = None
    email: str | None = None
    rate_limit_status: int = 503
    retry_after: float | None = None
    primary: bool | None = None
    advanced_user_security: bool = True

    def __post_init__(self) -> None:
        if self.groups_mode not in GROUPS_MODES:
            raise ValueError(f"groups_mode must be one of {GROUPS_MODES}, not {self.groups_mode!r}")
        if self.rate_limit_status not in (503, 429):
            raise ValueError("rate_limit_status must be 503 or 429")
        if self.latency < 0 or not 0 <= self.latency_jitter <= 1:
            raise ValueError("latency must be >= 0 and latency_jitter between 0 and 1")
        self.faults = list(self.faults)
