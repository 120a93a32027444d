"""Helpers shared by test modules (fixtures live in ``tests/conftest.py``).

``make_client`` is a plain function rather than a fixture because tests call it with
different settings, several times, and inside ``with`` blocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_boomi.client import BoomiClient, ClientConfig

if TYPE_CHECKING:
    from airflow_provider_boomi.client import RateLimiter
    from airflow_provider_boomi.testing.simulator import BoomiSimulator

#: What every test client starts from: the simulator's credentials, no client-side pacing to
#: speak of (the simulators of the tests run unthrottled), and short backoffs so retries are
#: quick; the retry policy itself is the production one.
CLIENT_DEFAULTS: dict[str, Any] = {
    "requests_per_second": 1000.0,
    "backoff_initial": 0.01,
    "backoff_max": 0.05,
}


def client_config(sim: BoomiSimulator, **overrides: Any) -> ClientConfig:
    """The :class:`ClientConfig` of ``sim``'s account, with :data:`CLIENT_DEFAULTS` and ``overrides``."""
    settings: dict[str, Any] = {
        "base_url": sim.base_url,
        "account_id": sim.account_id,
        "email": sim.email,
        "api_token": sim.token,
        **CLIENT_DEFAULTS,
    }
    settings.update(overrides)
    return ClientConfig(**settings)


def make_client(sim: BoomiSimulator, *, limiter: RateLimiter | None = None, **overrides: Any) -> BoomiClient:
    """A :class:`BoomiClient` for ``sim``'s account (see :func:`client_config`).

    ``limiter``: a private rate limiter; without one the client shares the process-wide limiter
    of its account, as in production.
    """
    return BoomiClient(client_config(sim, **overrides), limiter=limiter)
