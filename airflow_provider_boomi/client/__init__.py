"""Boomi Platform API client: plain Python, no Airflow.

>>> from airflow_provider_boomi.client import BoomiClient, ClientConfig, QueryFilter
>>> config = ClientConfig(account_id="acme-Q7R2ZK", email="ops@acme.example", api_token="...")
>>> with BoomiClient(config) as client:                                     # doctest: +SKIP
...     admins = list(client.query_roles(QueryFilter.equals("name", "Administrator")))
"""

from airflow_provider_boomi.client.client import USER_AGENT, BoomiClient
from airflow_provider_boomi.client.config import (
    DEFAULT_BASE_URL,
    DEFAULT_REQUESTS_PER_SECOND,
    TOKEN_USER_PREFIX,
    ClientConfig,
)
from airflow_provider_boomi.client.errors import (
    BoomiAuthenticationError,
    BoomiBadRequestError,
    BoomiError,
    BoomiNotFoundError,
    BoomiPermissionError,
    BoomiQueryTokenError,
    BoomiRateLimitedError,
    BoomiResponseError,
    BoomiServerError,
    BoomiTransportError,
    parse_error_body,
)
from airflow_provider_boomi.client.query import OPERATOR_ARITY, QueryFilter
from airflow_provider_boomi.client.ratelimit import RateLimiter, limiter_for
from airflow_provider_boomi.client.records import (
    Account,
    AccountGroup,
    AccountGroupUserRole,
    AccountUserRole,
    Role,
    is_canonical_uuid,
)
from airflow_provider_boomi.client.stats import ClientStats

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_REQUESTS_PER_SECOND",
    "OPERATOR_ARITY",
    "TOKEN_USER_PREFIX",
    "USER_AGENT",
    "Account",
    "AccountGroup",
    "AccountGroupUserRole",
    "AccountUserRole",
    "BoomiAuthenticationError",
    "BoomiBadRequestError",
    "BoomiClient",
    "BoomiError",
    "BoomiNotFoundError",
    "BoomiPermissionError",
    "BoomiQueryTokenError",
    "BoomiRateLimitedError",
    "BoomiResponseError",
    "BoomiServerError",
    "BoomiTransportError",
    "ClientConfig",
    "ClientStats",
    "QueryFilter",
    "RateLimiter",
    "Role",
    "is_canonical_uuid",
    "limiter_for",
    "parse_error_body",
]
