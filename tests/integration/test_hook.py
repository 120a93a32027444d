"""BoomiHook: connection parsing, the client it builds, test_connection and secret masking."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_boomi.client import DEFAULT_BASE_URL, BoomiClient
from airflow_provider_boomi.hooks.boomi import BoomiHook
from airflow_provider_boomi.testing.simulator import BoomiSimulator, FaultRule

TOKEN = "hook-token-5e1d2c3b-secret"


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str = "boomi_default", **fields: Any) -> None:
    conn: dict[str, Any] = {
        "conn_type": "boomi",
        "login": "ops@acme.example",
        "password": TOKEN,
        "extra": {"account_id": "acme-Q7R2ZK"},
    }
    conn.update(fields)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


# --- connection parsing (no server needed) --------------------------------------------------------


def test_class_attributes() -> None:
    assert BoomiHook.conn_name_attr == "boomi_conn_id"
    assert BoomiHook.default_conn_name == "boomi_default"
    assert BoomiHook.conn_type == "boomi"
    assert BoomiHook.hook_name == "Boomi"
    assert BoomiHook().boomi_conn_id == "boomi_default"


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        (None, None, DEFAULT_BASE_URL),
        ("", None, DEFAULT_BASE_URL),
        ("api.platform.gb.boomi.com", None, "https://api.platform.gb.boomi.com/api/rest/v1"),
        ("https://api.boomi.com/api/rest/v1/", None, DEFAULT_BASE_URL),
        ("http://127.0.0.1/api/rest/v1", 8123, "http://127.0.0.1:8123/api/rest/v1"),
        ("http://127.0.0.1:9000/api/rest/v1", 8123, "http://127.0.0.1:9000/api/rest/v1"),
        ("https://api.boomi.com/partner/api/rest/v1", None, "https://api.boomi.com/partner/api/rest/v1"),
    ],
)
def test_base_url_from_host(
    monkeypatch: pytest.MonkeyPatch, host: str | None, port: int | None, expected: str
) -> None:
    set_conn(monkeypatch, host=host, port=port)
    assert BoomiHook().get_config().base_url == expected


def test_config_from_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(
        monkeypatch,
        conn_id="boomi_tuned",
        extra={
            "account_id": "acme-Q7R2ZK",
            "requests_per_second": "4.5",
            "max_retries": 3,
            "timeout": "15",
            "max_retry_time": 90,
            "verify": "false",
            "provisioning_enabled": "true",
        },
    )
    hook = BoomiHook(boomi_conn_id="boomi_tuned")
    config = hook.get_config()
    assert config.account_id == "acme-Q7R2ZK" == hook.account_id
    assert config.email == "ops@acme.example"
    assert config.username == "BOOMI_TOKEN.ops@acme.example"
    assert config.api_token == TOKEN
    assert (config.requests_per_second, config.max_retries, config.timeout, config.max_retry_time) == (
        4.5,
        3,
        15.0,
        90.0,
    )
    assert config.verify is False
    assert hook.provisioning_enabled is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (True, True),
        (False, False),
        ("TRUE", True),
        ("false", False),
        ("Yes", True),
        ("", False),
    ],
)
def test_provisioning_enabled(monkeypatch: pytest.MonkeyPatch, value: Any, expected: bool) -> None:
    extra: dict[str, Any] = {"account_id": "acme-Q7R2ZK"}
    if value is not None:
        extra["provisioning_enabled"] = value
    set_conn(monkeypatch, extra=extra)
    assert BoomiHook().provisioning_enabled is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("off", False), (" ON ", True), ("", True), ("/etc/ssl/corp-ca.pem", "/etc/ssl/corp-ca.pem")],
)
def test_verify_is_a_flag_or_a_ca_bundle(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: object
) -> None:
    # An empty value is unset, so TLS verification stays on (it used to read as "false").
    set_conn(monkeypatch, extra={"account_id": "acme-Q7R2ZK", "verify": value})
    assert BoomiHook().get_config().verify == expected


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"extra": {}}, "account_id"),
        ({"extra": {"account_id": "acme/../x"}}, "account_id"),
        ({"extra": {"account_id": "a-1", "max_retries": "many"}}, "max_retries"),
        ({"extra": {"account_id": "a-1", "max_retries": 2.5}}, "max_retries"),
        ({"extra": {"account_id": "a-1", "requests_per_second": 0}}, "requests_per_second"),
        ({"extra": {"account_id": "a-1", "provisioning_enabled": "perhaps"}}, "provisioning_enabled"),
        ({"login": None}, "email"),
        ({"password": None}, "api_token"),
        ({"host": "http://api.boomi.com/api/rest/v1"}, "https"),
    ],
)
def test_clear_errors(monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any], needle: str) -> None:
    set_conn(monkeypatch, **fields)
    hook = BoomiHook()
    with pytest.raises(ValueError, match=needle) as info:
        hook.get_config()
        hook.provisioning_enabled  # noqa: B018 - the property is what raises for that case
    assert "boomi_default" in str(info.value)
    assert TOKEN not in str(info.value)


def test_repr_hides_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch)
    hook = BoomiHook()
    config = hook.get_config()
    assert TOKEN not in repr(hook)
    assert TOKEN not in repr(config)


# --- against the simulator ------------------------------------------------------------------------


def test_reads_everything_through_503s(monkeypatch: pytest.MonkeyPatch) -> None:
    faults = [
        FaultRule(kind="503", object_type="Role", count=3, retry_after=0.01),
        FaultRule(kind="503", object_type="AccountUserRole", count=3, retry_after=0.01),
    ]
    with BoomiSimulator(profile="demo", rate_limit=None, faults=faults) as sim:
        monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", sim.connection_json())
        hook = BoomiHook()
        client = hook.get_conn()
        assert isinstance(client, BoomiClient)
        assert hook.get_conn() is client  # cached
        assert hook.provisioning_enabled is False
        roles = list(client.query_roles())
        rows = list(client.query_account_user_roles())
        assert sorted(r.id or "" for r in roles) == sorted(r["id"] for r in sim.state.roles())
        assert sorted(r.id or "" for r in rows) == sorted(r["id"] for r in sim.state.user_roles())
        assert client.stats.status_503 == 6
        assert client.stats.retries == 6


def test_token_is_masked(monkeypatch: pytest.MonkeyPatch, sim: BoomiSimulator) -> None:
    from airflow.sdk.log import redact

    monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", sim.connection_json())
    BoomiHook().get_conn()
    assert sim.token not in str(redact(f"leaked {sim.token} here"))


def test_test_connection_ok(monkeypatch: pytest.MonkeyPatch, sim: BoomiSimulator) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", sim.connection_json())
    ok, message = BoomiHook().test_connection()
    assert ok is True
    assert sim.account_id in message
    assert sim.state.account()["name"] in message
    assert [(r.object_type, r.operation) for r in sim.requests] == [("Account", "get")]


def test_test_connection_wrong_token(monkeypatch: pytest.MonkeyPatch, sim: BoomiSimulator) -> None:
    conn = sim.connection_dict()
    conn["password"] = "wrong-token-value"
    monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", json.dumps(conn))
    ok, message = BoomiHook().test_connection()
    assert ok is False
    assert "401" in message
    assert "BOOMI_TOKEN.<email>" in message
    assert "wrong-token-value" not in message
    assert len(sim.requests) == 1


def test_test_connection_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, extra={})
    ok, message = BoomiHook().test_connection()
    assert ok is False
    assert "account_id" in message
    set_conn(
        monkeypatch, host="http://127.0.0.1:1/api/rest/v1", extra={"account_id": "a-1", "max_retries": 0}
    )
    ok, message = BoomiHook().test_connection()
    assert ok is False
    assert "127.0.0.1:1" in message
    assert TOKEN not in message
    ok, message = BoomiHook(boomi_conn_id="does_not_exist").test_connection()
    assert ok is False
