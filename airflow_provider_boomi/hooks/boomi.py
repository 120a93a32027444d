"""BoomiHook: turns an Airflow connection of type ``boomi`` into a :class:`BoomiClient`."""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow.sdk import BaseHook, Connection

from airflow_provider_boomi._rules import is_flag_word, parse_bool
from airflow_provider_boomi.client import DEFAULT_BASE_URL, BoomiClient, ClientConfig
from airflow_provider_boomi.client.errors import secret_forms
from airflow_provider_boomi.get_provider_info import UI_FIELD_BEHAVIOUR

__all__ = ["BoomiHook"]

log = logging.getLogger(__name__)

_API_PATH = "/api/rest/v1"


def _mask(config: ClientConfig) -> None:
    """Register the connection's credentials with Airflow's log masker (no-op outside Airflow).

    Not only the token: the Authorization header value, its base64 part and the decoded
    ``BOOMI_TOKEN.<email>:<token>`` pair are registered too, since a log line quoting a request
    (or a server echoing it) shows those forms, which the masker would not recognise.
    """
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - present in every Airflow 3 task SDK
        return
    try:
        for form in secret_forms(config.username, config.api_token):
            mask_secret(form)
    except Exception:  # masking must never break building a client
        log.debug("could not register the Boomi token with the secrets masker", exc_info=True)


class BoomiHook(BaseHook):
    """Hook for the Boomi Platform API.

    Connection fields: host = base URL (empty means ``https://api.boomi.com/api/rest/v1``; no
    scheme means https; no path means ``/api/rest/v1``), login = the Boomi user's email,
    password = Platform API token, extras ``account_id`` (required), ``requests_per_second``,
    ``max_retries``, ``timeout``, ``max_retry_time``, ``verify``, ``provisioning_enabled``.

    :param boomi_conn_id: the Airflow connection id (default ``boomi_default``).
    """

    conn_name_attr = "boomi_conn_id"
    default_conn_name = "boomi_default"
    conn_type = "boomi"
    hook_name = "Boomi"

    def __init__(self, boomi_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.boomi_conn_id = boomi_conn_id
        self._conn: Connection | None = None
        self._config: ClientConfig | None = None
        self._client: BoomiClient | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form customisation (the same content as ``get_provider_info()`` declares).

        Airflow 3.2+ reads it from the provider info; this method serves older form code paths.
        """
        return {
            "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden-fields"]),
            "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
            "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
        }

    # --- connection parsing ---------------------------------------------------------------------

    def _connection(self) -> Connection:
        # Looked up once: secrets backends may be remote and slow.
        if self._conn is None:
            self._conn = self.get_connection(self.boomi_conn_id)
        return self._conn

    def _connection_extras(self) -> dict[str, Any]:
        extras = self._connection().extra_dejson
        if not isinstance(extras, dict):
            raise self._error("extra must be a JSON object")
        return extras

    def _error(self, problem: str) -> ValueError:
        return ValueError(f"Boomi connection {self.boomi_conn_id!r}: {problem}")

    def get_config(self) -> ClientConfig:
        """Build (once) the validated :class:`ClientConfig` from the connection."""
        if self._config is not None:
            return self._config
        conn = self._connection()
        extras = self._connection_extras()
        account_id = str(extras.get("account_id") or "").strip()
        if not account_id:
            raise self._error(
                'the extra field "account_id" is required: set it to your Boomi account id '
                '(e.g. {"account_id": "acme-Q7R2ZK"})'
            )
        options: dict[str, Any] = {}
        for name, kind in (
            ("requests_per_second", float),
            ("max_retries", int),
            ("timeout", float),
            ("max_retry_time", float),
        ):
            if extras.get(name) not in (None, ""):
                options[name] = self._number(name, extras[name], kind)
        if "verify" in extras:
            options["verify"] = self._verify(extras["verify"])
        try:
            self._config = ClientConfig(
                base_url=self._base_url(conn.host, conn.port),
                account_id=account_id,
                email=conn.login or "",
                api_token=conn.password or "",
                **options,
            )
        except ValueError as err:
            raise self._error(str(err)) from None
        return self._config

    @staticmethod
    def _base_url(host: str | None, port: int | None) -> str:
        host = (host or "").strip()
        if not host:
            return DEFAULT_BASE_URL
        if "://" not in host:
            host = "https://" + host
        parts = urlsplit(host)
        netloc = parts.netloc
        if port and parts.port is None:
            netloc = f"{netloc}:{port}"
        path = parts.path.rstrip("/") or _API_PATH
        return urlunsplit((parts.scheme, netloc, path, "", ""))

    def _number(self, name: str, value: Any, kind: type[int] | type[float]) -> int | float:
        try:
            number = kind(value)
            if isinstance(value, bool) or (kind is int and float(value) != number):
                raise ValueError
        except (TypeError, ValueError):
            raise self._error(f"extra {name!r} must be a number, got {value!r}") from None
        if isinstance(number, float) and not math.isfinite(number):
            raise self._error(f"extra {name!r} must be finite, got {value!r}")
        return number

    def _bool(self, name: str, value: Any, default: bool) -> bool:
        try:
            return parse_bool(value, f"extra {name!r}", default=default)
        except ValueError as err:
            raise self._error(str(err)) from None

    def _verify(self, value: Any) -> bool | str:
        if isinstance(value, str) and value.strip() and not is_flag_word(value):
            return value  # a CA bundle path
        return self._bool("verify", value, True)

    # --- public surface ---------------------------------------------------------------------------

    @property
    def account_id(self) -> str:
        """The Boomi account id of the connection."""
        return self.get_config().account_id

    @property
    def provisioning_enabled(self) -> bool:
        """Whether operators may change Boomi through this connection (extra, default False)."""
        value = self._connection_extras().get("provisioning_enabled")
        return self._bool("provisioning_enabled", value, False)

    def get_conn(self) -> BoomiClient:
        """The :class:`BoomiClient` for this connection (built once, then reused)."""
        if self._client is None:
            config = self.get_config()
            _mask(config)
            self._client = BoomiClient(config)
        return self._client

    def test_connection(self) -> tuple[bool, str]:
        """Check the credentials with one ``GET Account/{id}``. Never raises.

        Uses a short retry budget (at most 2 retries, 30 s) so that a wrong host answers the UI
        quickly instead of after the full retry time of a sync.
        """
        try:
            config = self.get_config()
            _mask(config)
            quick = dataclasses.replace(
                config,
                max_retries=min(config.max_retries, 2),
                max_retry_time=min(config.max_retry_time, 30.0),
                timeout=min(config.timeout, 20.0),
            )
            with BoomiClient(quick) as client:
                account = client.get_account()
        except Exception as err:  # the UI needs a message, not a traceback
            return False, f"Boomi connection test failed: {err}"
        name = account.name or "(no name)"
        status = f", status {account.status}" if account.status else ""
        return True, f"Connected to Boomi account {name} ({account.account_id or self.account_id}){status}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(boomi_conn_id={self.boomi_conn_id!r})"
