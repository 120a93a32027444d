"""``BoomiSimulator``: the public face — build the account, serve it on loopback, observe and steer it."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

from .api import ApiRouter
from .config import SimulatorConfig
from .faults import FaultInjector, FaultRule
from .governance import Governance
from .paging import CursorStore
from .profiles import build_state, make_token
from .ratelimit import SlidingWindow, TokenBucket
from .records import RequestRecord
from .server import Dispatcher, SimulatorHTTPServer
from .state import SimulatorState


class BoomiSimulator:
    """A Boomi Platform API for one account, served over HTTP on loopback.

    Use as a context manager (or ``start()``/``stop()``); then point a client at ``base_url`` with
    ``email``/``token`` and ``account_id``. ``state`` is the live account; ``requests`` records every
    call. Runtime knobs (``set_faults``, ``set_rate_limit``, ``set_latency``, ``set_token_valid``)
    take effect for the next request.

    ``BoomiSimulator(profile, **settings)`` takes every ``SimulatorConfig`` field as a keyword
    (``seed``, ``rate_limit``, ``faults``, ``groups_mode``, the §g switches such as
    ``role_id_filter`` or ``query_tokens``, a ``dialect`` preset ...); ``config=`` takes a whole one.
    """

    def __init__(
        self, profile: str = "demo", *, config: SimulatorConfig | None = None, **settings: Any
    ) -> None:
        """Build the account and the server (not yet listening: see ``start``).

        ``settings`` are ``SimulatorConfig`` fields (``seed=``, ``rate_limit=``, ``faults=``,
        ``dialect=``, the §g switches ...); what is passed explicitly wins over the ``dialect``
        preset and the profile's settings. Alternatively pass a whole ``config`` (then neither
        ``settings`` nor ``profile`` may be given).
        """
        if config is None:
            config = SimulatorConfig.with_dialect(settings.pop("dialect", None), profile=profile, **settings)
        elif settings or profile != "demo":
            given = sorted(settings) + (["profile"] if profile != "demo" else [])
            raise TypeError(f"pass either config or settings, not both (got config and {', '.join(given)})")
        # A copy, so that later changes to the caller's config (or its faults list) do not leak in.
        config = copy.copy(config)
        config.faults = list(config.faults)
        self.config = config
        self.state: SimulatorState = build_state(
            config.profile,
            config.seed,
            account_id=config.account_id,
            api_email=config.email,
            primary=config.primary,
            advanced_user_security=config.advanced_user_security,
            builtin_parent=config.builtin_parent,
            builtin_roles=config.builtin_roles,
            user_id_case=config.user_id_case,
            cross_account_rows=config.cross_account_rows,
            group_roles_on_removal=config.group_roles_on_removal,
        )
        self.email: str = config.email or self.state.api_user_id or ""
        self.token: str = config.token or make_token(config.seed)
        filters = config.filter_dialect()
        cursors = CursorStore(mode=config.query_tokens, ttl=config.query_token_ttl)
        self._dispatcher = Dispatcher(
            ApiRouter(
                self.state,
                cursors,
                config.groups_mode,
                filters,
                Governance(self.state, config.governance_settings(), seed=config.seed),
            ),
            email=self.email,
            token=self.token,
            rate_limit=config.rate_limit,
            rate_limit_status=config.rate_limit_status,
            retry_after=config.retry_after,
            latency=config.latency,
            latency_jitter=config.latency_jitter,
            faults=FaultInjector(config.faults, config.seed),
            api_privileges=config.api_privileges,
            seed=config.seed,
            rate_limiter=config.rate_limiter,
        )
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def governance(self) -> Governance:
        """The account's federation ids, SSO settings, audit log, account-group coverage and
        environments (generated on first use), e.g. ``governance.last_logins()``."""
        return self._dispatcher.router.governance

    @classmethod
    def from_config(cls, config: SimulatorConfig) -> BoomiSimulator:
        """Build a simulator from a ``SimulatorConfig``."""
        return cls(config=config)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> BoomiSimulator:
        """Bind and serve in a daemon thread. Returns ``self``."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._dispatcher.stopped.clear()
        self._server = SimulatorHTTPServer((self.config.host, self.config.port), self._dispatcher)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="boomi-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        self._dispatcher.stopped.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> BoomiSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._server is not None

    # ---------------------------------------------------------------- connection facts

    @property
    def port(self) -> int:
        """The bound TCP port (the ephemeral one when ``port=0``)."""
        if self._server is None:
            raise RuntimeError("the simulator is not running: use it as a context manager or call start()")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The connection host: ``http://127.0.0.1:PORT/api/rest/v1`` (no account id)."""
        return f"http://{self.config.host}:{self.port}/api/rest/v1"

    @property
    def account_id(self) -> str:
        """The simulated account's id, e.g. ``acme-T36WFB``."""
        return self.state.account_id

    def connection_dict(self, provisioning_enabled: bool = False) -> dict[str, Any]:
        """The Airflow connection as a dict (the JSON form's content)."""
        return {
            "conn_type": "boomi",
            "host": self.base_url,
            "login": self.email,
            "password": self.token,
            "extra": {"account_id": self.account_id, "provisioning_enabled": provisioning_enabled},
        }

    def connection_json(self, provisioning_enabled: bool = False) -> str:
        """The Airflow connection in JSON form, e.g. for ``AIRFLOW_CONN_BOOMI_DEFAULT``."""
        return json.dumps(self.connection_dict(provisioning_enabled))

    def connection_uri(self, provisioning_enabled: bool = False) -> str:
        """The Airflow connection in URI form; the base URL is percent-encoded into the host part
        (as Airflow's own ``Connection.get_uri`` does) and the extras travel as ``__extra__``."""
        extra = {"account_id": self.account_id, "provisioning_enabled": provisioning_enabled}
        return (
            f"boomi://{quote(self.email, safe='')}:{quote(self.token, safe='')}@"
            f"{quote(self.base_url, safe='')}/?{urlencode({'__extra__': json.dumps(extra)})}"
        )

    # ---------------------------------------------------------------- observation and control

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received so far (a snapshot copy)."""
        return self._dispatcher.records()

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        self._dispatcher.clear_records()

    def set_faults(self, faults: Iterable[FaultRule]) -> None:
        """Replace the fault rules (their counters restart)."""
        self._dispatcher.faults.set_rules(faults)

    def set_rate_limit(self, rate_limit: float | None) -> None:
        """Change the requests-per-second limit (``None``/``0``: unlimited), whichever limiter
        counts it (§g.8): a token bucket refills, a sliding window forgets its admissions."""
        self._dispatcher.bucket.set_rate(rate_limit)

    @property
    def rate_limiter(self) -> TokenBucket | SlidingWindow:
        """The live rate limiter (§g.8): a ``TokenBucket`` or a ``SlidingWindow``, whose
        ``admitted()`` lists the clock readings of the requests it let through."""
        return self._dispatcher.bucket

    def set_latency(self, latency: float, jitter: float | None = None) -> None:
        """Change the added latency (seconds) and optionally its jitter fraction."""
        if latency < 0:
            raise ValueError("latency must be >= 0")
        self._dispatcher.latency = latency
        if jitter is not None:
            self._dispatcher.latency_jitter = jitter

    def set_token_valid(self, valid: bool) -> None:
        """Revoke (``False``) or restore the API token: a revoked token gets 401 on every call."""
        self._dispatcher.token_valid = valid

    def set_api_privileges(self, enabled: bool) -> None:
        """Grant or withdraw the API user's API/ACCOUNT_ADMIN privileges (403 when withdrawn)."""
        self._dispatcher.api_privileges = enabled

    def __repr__(self) -> str:
        where = self.base_url if self.running else "stopped"
        return f"BoomiSimulator(profile={self.config.profile!r}, account_id={self.account_id!r}, {where})"
