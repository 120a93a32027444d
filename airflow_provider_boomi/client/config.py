"""Connection settings for one Boomi account, validated before any request is made."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from airflow_provider_boomi._rules import DEFAULT_REQUESTS_PER_SECOND, validate_account_id

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_REQUESTS_PER_SECOND", "TOKEN_USER_PREFIX", "ClientConfig"]

DEFAULT_BASE_URL = "https://api.boomi.com/api/rest/v1"
"""Boomi's US Platform API endpoint (EU accounts use ``https://api.platform.gb.boomi.com/api/rest/v1``)."""

TOKEN_USER_PREFIX = "BOOMI_TOKEN."
"""Prefix Boomi requires on the Basic-auth user name when the password is a Platform API token."""


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ClientConfig:
    """Everything :class:`BoomiClient` needs to talk to one Boomi account.

    Validated at construction: a :class:`ValueError` names the field and says how to fix it.
    The API token is excluded from ``repr()`` and never printed.

    :param base_url: Platform API base URL without the account id. Plain ``http`` is accepted
        only for loopback hosts (the simulator); anything else must use ``https``.
    :param account_id: the Boomi account id, e.g. ``acme-Q7R2ZK``; it becomes a URL path segment, so
        it must pass :func:`~airflow_provider_boomi.dataset.paths.validate_account_id`.
    :param email: the Boomi user's email (user name). ``BOOMI_TOKEN.`` is prefixed when sending.
    :param api_token: the Platform API token (the Basic-auth password).
    :param requests_per_second: client-side pace for this account; default
        :data:`DEFAULT_REQUESTS_PER_SECOND` (Boomi's documented limit).
    :param max_retries: retries after the first attempt for transient failures (0 = no retry).
    :param timeout: per-request connect and read timeout in seconds.
    :param max_retry_time: upper bound in seconds on the time one call spends retrying.
    :param verify: TLS verification (``True``, ``False`` or a CA bundle path).
    :param backoff_initial: first backoff cap in seconds; doubles per retry (full jitter).
    :param backoff_max: largest backoff cap in seconds (a Retry-After header takes precedence).
    """

    base_url: str = DEFAULT_BASE_URL
    account_id: str = ""
    email: str = ""
    api_token: str = field(default="", repr=False)
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND
    max_retries: int = 8
    timeout: float = 60.0
    max_retry_time: float = 300.0
    verify: bool | str = True
    backoff_initial: float = 0.5
    backoff_max: float = 30.0

    def __post_init__(self) -> None:
        self._validate_base_url()
        validate_account_id(self.account_id, what="account_id", where="a Boomi API URL")
        if not isinstance(self.email, str) or not self.email.strip():
            raise ValueError("email is empty: set it to the Boomi user's email (the connection login)")
        if not isinstance(self.api_token, str) or not self.api_token:
            raise ValueError(
                "api_token is empty: set it to a Boomi Platform API token (the connection password)"
            )
        if not _positive(self.requests_per_second):
            raise ValueError(f"requests_per_second must be a number > 0, got {self.requests_per_second!r}")
        if (
            isinstance(self.max_retries, bool)
            or not isinstance(self.max_retries, int)
            or self.max_retries < 0
        ):
            raise ValueError(f"max_retries must be an integer >= 0, got {self.max_retries!r}")
        if not _positive(self.timeout):
            raise ValueError(f"timeout must be a number of seconds > 0, got {self.timeout!r}")
        if not _positive(self.max_retry_time):
            raise ValueError(f"max_retry_time must be a number of seconds > 0, got {self.max_retry_time!r}")
        if not _positive(self.backoff_initial) or not _positive(self.backoff_max):
            raise ValueError("backoff_initial and backoff_max must be numbers of seconds > 0")
        if self.verify is not True and self.verify is not False and not isinstance(self.verify, str):
            raise ValueError("verify must be True, False or the path of a CA bundle")
        # Normalise once so URL building never doubles a slash.
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    def _validate_base_url(self) -> None:
        if not isinstance(self.base_url, str) or not self.base_url.strip():
            raise ValueError(f"base_url is empty: use {DEFAULT_BASE_URL}")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url {self.base_url!r} is not an http(s) URL: use e.g. {DEFAULT_BASE_URL}")
        if parts.username or parts.password:
            raise ValueError("base_url must not contain credentials: put them in email and api_token")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise ValueError(
                f"base_url {self.base_url!r} uses plain http to a non-loopback host: use https "
                "(plain http is only accepted for 127.0.0.0/8, ::1 and localhost, e.g. the simulator)"
            )

    @property
    def username(self) -> str:
        """The Basic-auth user name: ``BOOMI_TOKEN.<email>`` (kept as is if already prefixed)."""
        email = self.email.strip()
        return email if email.startswith(TOKEN_USER_PREFIX) else TOKEN_USER_PREFIX + email

    @property
    def account_url(self) -> str:
        """``{base_url}/{account_id}``: the root every object path hangs from."""
        return f"{self.base_url}/{self.account_id}"


def _positive(value: object) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    )
