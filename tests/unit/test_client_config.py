"""ClientConfig validation and the secret-free repr."""

from __future__ import annotations

import base64

import pytest

from airflow_provider_boomi.client import DEFAULT_BASE_URL, ClientConfig

TOKEN = "tok-3f9a1c77-secret-value"


def make(**overrides: object) -> ClientConfig:
    values: dict[str, object] = {"account_id": "acme-Q7R2ZK", "email": "ops@acme.example", "api_token": TOKEN}
    values.update(overrides)
    return ClientConfig(**values)  # type: ignore[arg-type]


def test_defaults() -> None:
    config = make()
    assert config.base_url == DEFAULT_BASE_URL
    assert config.requests_per_second == 10.0
    assert config.max_retries == 8
    assert config.timeout == 60.0
    assert config.max_retry_time == 300.0
    assert config.verify is True
    assert config.account_url == "https://api.boomi.com/api/rest/v1/acme-Q7R2ZK"


def test_username_prefix_added_once() -> None:
    assert make().username == "BOOMI_TOKEN.ops@acme.example"
    assert make(email="BOOMI_TOKEN.ops@acme.example").username == "BOOMI_TOKEN.ops@acme.example"


def test_trailing_slash_normalised() -> None:
    assert make(base_url="https://api.boomi.com/api/rest/v1/").base_url == DEFAULT_BASE_URL


def test_frozen() -> None:
    config = make()
    with pytest.raises(AttributeError):
        config.account_id = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "account_id",
    ["", " acme-1", "acme 1", "acme/1", "..", "acme..x", "a\tb", "acme?x", "acme%2F", "acme#1", "ünïcode"],
)
def test_bad_account_ids(account_id: str) -> None:
    with pytest.raises(ValueError, match="account_id"):
        make(account_id=account_id)


@pytest.mark.parametrize("account_id", ["acme-Q7R2ZK", "boomiqa-T7KIDU", "account-123456", "a.b_c-D"])
def test_good_account_ids(account_id: str) -> None:
    assert make(account_id=account_id).account_id == account_id


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("email", "", "email"),
        ("email", "   ", "email"),
        ("api_token", "", "api_token"),
        ("requests_per_second", 0, "requests_per_second"),
        ("requests_per_second", -1.0, "requests_per_second"),
        ("requests_per_second", float("inf"), "requests_per_second"),
        ("requests_per_second", True, "requests_per_second"),
        ("max_retries", -1, "max_retries"),
        ("max_retries", 1.5, "max_retries"),
        ("timeout", 0, "timeout"),
        ("max_retry_time", 0, "max_retry_time"),
        ("base_url", "", "base_url"),
        ("base_url", "ftp://api.boomi.com/api/rest/v1", "http"),
        ("base_url", "api.boomi.com/api/rest/v1", "http"),
        ("base_url", "https://user:pw@api.boomi.com/api/rest/v1", "credentials"),
    ],
)
def test_invalid_values(field: str, value: object, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        make(**{field: value})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/api/rest/v1",
        "http://127.8.9.10/api/rest/v1",
        "http://[::1]:9000/api/rest/v1",
        "http://localhost:1234/api/rest/v1",
        "https://api.platform.gb.boomi.com/api/rest/v1",
    ],
)
def test_http_allowed_only_for_loopback(url: str) -> None:
    assert make(base_url=url).base_url == url


@pytest.mark.parametrize(
    "url", ["http://api.boomi.com/api/rest/v1", "http://10.0.0.5/api/rest/v1", "http://localhost.evil.com/x"]
)
def test_plain_http_refused_for_other_hosts(url: str) -> None:
    with pytest.raises(ValueError, match="use https"):
        make(base_url=url)


def test_repr_and_str_hide_token() -> None:
    config = make()
    b64 = base64.b64encode(f"{config.username}:{TOKEN}".encode()).decode()
    for text in (repr(config), str(config), f"{config}", repr([config])):
        assert TOKEN not in text
        assert b64 not in text
    assert "api_token" not in repr(config)
