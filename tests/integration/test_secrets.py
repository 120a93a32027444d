"""Secrets and access: the API token never leaks, TLS and loopback rules hold, provisioning is opt-in.

DESIGN §7: secrets never appear in logs, exceptions, reprs or XCom (nor, here, in manifests,
snapshots or the ledger); runtime secrets go through Airflow's masker; TLS is verified; plain
http is accepted only for loopback hosts. DESIGN §3: operators that change Boomi refuse unless
the connection enables provisioning.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import logging
import pickle
import ssl
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_boomi.access.changes import AccessChange
from airflow_provider_boomi.access.ledger import read_ledger
from airflow_provider_boomi.access.provisioning import Provisioner, ProvisioningOptions
from airflow_provider_boomi.client import (
    BoomiAuthenticationError,
    BoomiClient,
    BoomiTransportError,
    ClientConfig,
)
from airflow_provider_boomi.testing.simulator import BoomiSimulator, FaultRule
from tests.conftest import load_dag
from tests.helpers import make_client

# A token no code path could produce by accident, so any occurrence is a leak.
TOKEN = f"tok-{uuid.uuid4().hex}-SECRET"

DAG_SOURCE = """
import json
import logging
import os

import pendulum
from airflow.sdk import dag, task

from airflow_provider_boomi.hooks.boomi import BoomiHook
from airflow_provider_boomi.operators.provisioning import BoomiApplyAccessChangesOperator
from airflow_provider_boomi.operators.sync import BoomiSyncOperator

P = json.loads(os.environ["BOOMI_SECRETS_TEST"])


@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False)
def secrets_dag():
    sync = BoomiSyncOperator(task_id="sync", output_path=P["out"])
    apply = BoomiApplyAccessChangesOperator(task_id="apply", changes=P["changes"], ledger_path=P["ledger"])

    @task(trigger_rule="all_done")
    def collect_xcom(ti=None):
        # Every XCom the run pushed, as a downstream task sees it (the failing apply task keeps
        # its summary under its own key), written where the test can search it.
        values = {
            "sync": ti.xcom_pull(task_ids="sync"),
            "apply": ti.xcom_pull(task_ids="apply"),
            "apply_result": ti.xcom_pull(task_ids="apply", key="provisioning_result"),
        }
        with open(P["xcom_dump"], "w") as fh:
            json.dump(values, fh, default=str)

    [sync, apply] >> collect_xcom()

    @task
    def masked():
        # The hook registers the token with Airflow's masker when it builds the client; the
        # task runner's log processor redacts through that masker. (dag.test() logs in-process
        # without that processor, so the masker is asked directly here.)
        from airflow.sdk._shared.secrets_masker import redact

        hook = BoomiHook()
        hook.get_conn()
        logging.getLogger("airflow.task").info("MASK-CHECK %s", redact(hook.get_config().api_token))

    masked()


dag_object = secrets_dag()
"""


@pytest.fixture
def sim() -> Iterator[BoomiSimulator]:
    with BoomiSimulator(profile="demo", rate_limit=None, token=TOKEN) as simulator:
        yield simulator


def _forms(sim: BoomiSimulator) -> list[str]:
    """The token and every encoding of it that could carry it out (the Basic auth header)."""
    basic = base64.b64encode(f"BOOMI_TOKEN.{sim.email}:{TOKEN}".encode()).decode()
    return [TOKEN, basic, TOKEN.encode().hex()]


def _assert_clean(where: str, text: str, sim: BoomiSimulator) -> None:
    for form in _forms(sim):
        assert form not in text, f"the API token leaked into {where}"


def _client(sim: BoomiSimulator, **overrides: object) -> BoomiClient:
    assert sim.token == TOKEN  # the module's ``sim`` serves the token this module looks for
    return make_client(sim, **overrides)


# --- DAG runs: logs, XCom, snapshots, manifests, ledger -------------------------------------------------


def test_the_token_never_leaves_the_connection_in_dag_runs(
    sim: BoomiSimulator,
    dag_folder: Path,
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3 and requests log at DEBUG too
    conn = sim.connection_dict(provisioning_enabled=True)
    conn["extra"]["requests_per_second"] = 1000
    monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", json.dumps(conn))
    domain = sim.email.split("@")[1]
    params: dict[str, Any] = {
        "out": str(tmp_path / "snapshots"),
        "ledger": str(tmp_path / "ledger"),
        "xcom_dump": str(tmp_path / "xcom.json"),
        "changes": [
            {"action": "assign_role", "user_id": f"ivy.invitee@{domain}", "role": "Auditor"},
            # Fails (the user never logged in): error paths must be clean too.
            {"action": "add_group_role", "user_id": f"new.hire@{domain}", "role": "Developer",
             "account_group": "Sandbox"},
        ],
    }  # fmt: skip
    monkeypatch.setenv("BOOMI_SECRETS_TEST", json.dumps(params))
    dag_id = f"boomi_secrets_{uuid.uuid4().hex[:8]}"
    dag_file = dag_folder / f"{dag_id}.py"
    dag_file.write_text(DAG_SOURCE.replace("{dag_id}", dag_id))
    run = load_dag(dag_file, dag_id).test()
    # Assume a 401 later in life too: a token that stopped working must not be echoed either.
    sim.set_faults([FaultRule("401")])
    with _client(sim) as client, pytest.raises(BoomiAuthenticationError) as failure:
        client.get_account()

    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    pushed = json.loads(Path(params["xcom_dump"]).read_text())
    xcoms = [json.dumps(value, default=str) for value in pushed.values() if value is not None]
    assert states["sync"] == "success" and states["masked"] == "success"
    assert states["apply"] == "failed"  # the failing change; its summary is still in XCom
    assert pushed["sync"] and pushed["apply_result"], "the run pushed no XCom: nothing was checked"
    _assert_clean("XCom", "\n".join(xcoms), sim)

    captured = capfd.readouterr()
    logs = caplog.text + captured.out + captured.err
    log_files = (
        [p for p in (airflow_db / "logs").rglob("*") if p.is_file()] if (airflow_db / "logs").exists() else []
    )
    logs += "".join(p.read_text(errors="replace") for p in log_files)
    assert "MASK-CHECK" in logs, "the task's log line was not captured: nothing was checked"
    assert "MASK-CHECK ***" in logs, "the token is not registered with Airflow's secrets masker"
    _assert_clean("task logs", logs, sim)

    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "manifest.json" for p in files) and any("ledger" in p.parts for p in files)
    for path in files:  # manifests, every Parquet file of the snapshot, every ledger part
        _assert_clean(str(path.relative_to(tmp_path)), path.read_bytes().decode("latin-1"), sim)
    _assert_clean("the ledger", read_ledger(params["ledger"]).to_json(), sim)

    error = failure.value
    for text in (str(error), repr(error), error.message, str(pickle.loads(pickle.dumps(error)))):
        _assert_clean("an exception", text, sim)


# --- exceptions and reprs -----------------------------------------------------------------------------


def test_reprs_and_exceptions_never_show_the_token(sim: BoomiSimulator) -> None:
    config = ClientConfig(base_url=sim.base_url, account_id=sim.account_id, email=sim.email, api_token=TOKEN)
    with _client(sim) as client:
        texts = [repr(config), str(config), repr(client), repr(client._auth), repr(client.config)]
    # A bad config names the field, never the token.
    for bad in ({"account_id": "../x"}, {"email": ""}, {"base_url": "http://api.boomi.com/api/rest/v1"}):
        with pytest.raises(ValueError) as caught:
            ClientConfig(**{**config.__dict__, **bad})
        texts += [str(caught.value), repr(caught.value)]
    # Every failure of a call: auth, transport (connection refused), a failed change.
    sim.set_faults([FaultRule("401")])
    with _client(sim) as client, pytest.raises(BoomiAuthenticationError) as auth:
        list(client.query("Role"))
    texts += [str(auth.value), repr(auth.value)]
    sim.set_faults([])
    with _client(sim, base_url="http://127.0.0.1:9/api/rest/v1", max_retries=0) as client:
        with pytest.raises(BoomiTransportError) as transport:
            client.get_account()
        texts += [str(transport.value), repr(transport.value), repr(transport.value.__cause__)]
    with _client(sim) as client:
        results = Provisioner(client, ProvisioningOptions(provisioning_enabled=True)).apply_all(
            [AccessChange(action="add_group_role", user_id=f"new.hire@{sim.email.split('@')[1]}",
                          role="Developer", account_group="Sandbox")]
        )  # fmt: skip
    texts += [repr(results), json.dumps([r.summary() for r in results])]
    from airflow_provider_boomi.hooks.boomi import BoomiHook

    texts.append(repr(BoomiHook()))
    for text in texts:
        _assert_clean("a repr or exception", text, sim)


# --- plain http and TLS -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://api.boomi.com/api/rest/v1",
        "http://10.0.0.5:8080/api/rest/v1",
        "http://127.0.0.1.nip.io/api/rest/v1",
        "http://localhost.attacker.example/api/rest/v1",
        "http://[::ffff:8.8.8.8]/api/rest/v1",
        "ftp://api.boomi.com/api/rest/v1",
        "https://user:pass@api.boomi.com/api/rest/v1",
    ],
)
def test_plain_http_only_for_loopback(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        ClientConfig(base_url=url, account_id="acme-Q7R2ZK", email="a@acme.example", api_token=TOKEN)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8765/api/rest/v1", "http://localhost/api/rest/v1", "http://[::1]:80/api/rest/v1"],
)
def test_loopback_http_is_accepted(url: str) -> None:
    assert ClientConfig(base_url=url, account_id="acme-Q7R2ZK", email="a@acme.example", api_token=TOKEN)


def test_the_hook_refuses_plain_http_to_a_remote_host(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_boomi.hooks.boomi import BoomiHook

    conn = {"conn_type": "boomi", "host": "http://api.boomi.com", "login": "a@acme.example",
            "password": TOKEN, "extra": {"account_id": "acme-Q7R2ZK"}}  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", json.dumps(conn))
    with pytest.raises(ValueError, match="plain http") as caught:
        BoomiHook().get_conn()
    assert TOKEN not in str(caught.value)


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class _Answer(http.server.BaseHTTPRequestHandler):
    seen_auth: list[str] = []

    def do_GET(self) -> None:
        type(self).seen_auth.append(self.headers.get("Authorization", ""))
        body = b'{"@type": "Account", "accountId": "acme-Q7R2ZK", "name": "Acme"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_tls_is_verified_by_default(tmp_path: Path) -> None:
    """A server with an untrusted certificate is refused, and never sees the credentials."""
    cert, key = _self_signed(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Answer.seen_auth = []
    base = f"https://localhost:{server.server_address[1]}/api/rest/v1"
    common = {"base_url": base, "account_id": "acme-Q7R2ZK", "email": "a@acme.example", "api_token": TOKEN}
    try:
        assert ClientConfig(**common).verify is True  # type: ignore[arg-type]
        strict = BoomiClient(ClientConfig(**common, max_retries=0))  # type: ignore[arg-type]
        with strict, pytest.raises(BoomiTransportError, match="SSLError"):
            strict.get_account()
        assert _Answer.seen_auth == []
        # Trusting that certificate explicitly (a private CA bundle) works.
        with BoomiClient(ClientConfig(**common, verify=str(cert))) as client:  # type: ignore[arg-type]
            assert client.get_account().name == "Acme"
    finally:
        server.shutdown()
        server.server_close()


def test_the_hook_verifies_tls_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_boomi.hooks.boomi import BoomiHook

    conn = {"conn_type": "boomi", "host": "api.boomi.com", "login": "a@acme.example", "password": TOKEN,
            "extra": {"account_id": "acme-Q7R2ZK"}}  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", json.dumps(conn))
    config = BoomiHook().get_config()
    assert config.verify is True and config.base_url.startswith("https://")


# --- provisioning is opt-in -----------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [{}, {"provisioning_enabled": False}, {"provisioning_enabled": "false"}])
def test_provisioning_is_off_until_the_connection_enables_it(
    sim: BoomiSimulator, monkeypatch: pytest.MonkeyPatch, extra: dict[str, object]
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_provider_boomi.hooks.boomi import BoomiHook
    from airflow_provider_boomi.operators.provisioning import BoomiAssignRoleOperator

    conn = sim.connection_dict()
    conn["extra"] = {"account_id": sim.account_id, "requests_per_second": 1000, **extra}
    monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", json.dumps(conn))
    assert BoomiHook().provisioning_enabled is False
    user = f"zoe.angstrom@{sim.email.split('@')[1]}"
    with pytest.raises(AirflowFailException, match="provisioning_enabled"):
        BoomiAssignRoleOperator(task_id="assign", user_id=user, role="Auditor").execute({})  # type: ignore[arg-type]
    # A dry run is always allowed, and still writes nothing.
    summary = BoomiAssignRoleOperator(task_id="plan", user_id=user, role="Auditor", dry_run=True).execute({})  # type: ignore[arg-type]
    assert summary["counts"] == {"planned": 1}
    # Plain Python defaults to disabled as well.
    with _client(sim) as client:
        [result] = Provisioner(client).apply_all(
            [AccessChange(action="assign_role", user_id=user, role="Auditor")]
        )
    assert result.outcome == "refused"
    assert [r for r in sim.requests if r.operation in ("create", "delete")] == []


def test_a_malformed_provisioning_flag_is_an_error_not_a_yes(
    sim: BoomiSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_boomi.hooks.boomi import BoomiHook

    conn = sim.connection_dict()
    conn["extra"] = {"account_id": sim.account_id, "provisioning_enabled": "maybe"}
    monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", json.dumps(conn))
    with pytest.raises(ValueError, match="provisioning_enabled"):
        _ = BoomiHook().provisioning_enabled


# --- an upstream that echoes the Authorization header (issue 11) ----------------------------------------


class _EchoAuth(http.server.BaseHTTPRequestHandler):
    """Answers every request 400 with a body quoting the Authorization header it received,
    as a misconfigured gateway or a debugging proxy might: raw, base64 part and decoded."""

    shape = "json"

    def _answer(self) -> None:
        header = self.headers.get("Authorization", "")
        encoded = header.removeprefix("Basic ")
        decoded = base64.b64decode(encoded).decode()
        if self.shape == "json":
            body = json.dumps({"message": f"bad request from {header} ({encoded} = {decoded})"})
            ctype = "application/json"
        elif self.shape == "json-without-message":
            body = json.dumps({"request": {"headers": {"Authorization": header}, "decoded": decoded}})
            ctype = "application/json"
        else:
            body = f"Bad request\nAuthorization: {header}\nDecoded: {decoded}\n"
            ctype = "text/plain"
        data = body.encode()
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(400)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[tuple[str, type[_EchoAuth]]]:
    handler = type("EchoAuth", (_EchoAuth,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/rest/v1", handler
    finally:
        server.shutdown()
        server.server_close()


ECHO_EMAIL = "a@acme.example"


def _echo_forms() -> list[str]:
    """The token and every form of the credentials the echoing server sends back."""
    pair = f"BOOMI_TOKEN.{ECHO_EMAIL}:{TOKEN}"
    encoded = base64.b64encode(pair.encode()).decode()
    return [f"Basic {encoded}", encoded, pair, TOKEN]


def _assert_scrubbed(where: str, text: str) -> None:
    for form in _echo_forms():
        assert form not in text, f"a form of the credentials leaked into {where}"


@pytest.mark.parametrize("shape", ["json", "json-without-message", "text"])
def test_an_error_body_echoing_the_authorization_header_is_scrubbed(
    echo_server: tuple[str, type[_EchoAuth]], tmp_path: Path, shape: str
) -> None:
    from airflow_provider_boomi.access.ledger import LedgerWriter
    from airflow_provider_boomi.client import BoomiBadRequestError

    base_url, handler = echo_server
    handler.shape = shape
    common = {"base_url": base_url, "account_id": "acme-Q7R2ZK", "email": ECHO_EMAIL, "api_token": TOKEN}
    with BoomiClient(ClientConfig(**common, max_retries=0)) as client:  # type: ignore[arg-type]
        with pytest.raises(BoomiBadRequestError) as caught:
            client.get_account()
        error = caught.value
        texts = [str(error), repr(error), error.message, error.boomi_message or ""]
        texts.append(str(pickle.loads(pickle.dumps(error))))

        ledger_path = str(tmp_path / "ledger")
        with LedgerWriter(ledger_path) as ledger:
            [result] = Provisioner(
                client, ProvisioningOptions(provisioning_enabled=True), ledger=ledger
            ).apply_all([AccessChange(action="assign_role", user_id="bob@acme.example", role="Auditor")])
    assert result.outcome == "failed" and result.error and "HTTP 400" in result.error
    rows = read_ledger(ledger_path)
    assert len(rows) == 1
    texts += [result.error, json.dumps(result.summary()), rows.to_json(), str(rows.iloc[0]["error"])]
    for text in texts:
        _assert_scrubbed("an exception or the ledger", text)
    assert "***" in (error.boomi_message or ""), "the server did not echo the header: nothing was checked"


def test_the_hook_masks_every_form_of_the_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow's masker knows the header and its base64 form, not only the token."""
    from airflow.sdk._shared.secrets_masker import redact

    from airflow_provider_boomi.hooks.boomi import BoomiHook

    conn = {"conn_type": "boomi", "host": "api.boomi.com", "login": ECHO_EMAIL, "password": TOKEN,
            "extra": {"account_id": "acme-Q7R2ZK"}}  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", json.dumps(conn))
    BoomiHook().get_conn()
    for form in _echo_forms():
        line = redact(f"sent Authorization: {form} to Boomi")
        assert isinstance(line, str)
        _assert_scrubbed("a masked log line", line)
