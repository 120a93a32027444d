"""Helpers shared by test modules (fixtures live in ``tests/conftest.py``).

``make_client`` is a plain function rather than a fixture because tests call it with
different settings, several times, and inside ``with`` blocks.
"""

from __future__ import annotations

import email
import email.policy
import multiprocessing
import socket
import threading
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
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


def race_in_processes(
    sim: BoomiSimulator, target: Callable[..., None], payloads: Sequence[Any], *, timeout: float = 60.0
) -> list[Any]:
    """Run ``target(connection, payload, start_at, out)`` in one spawned process per payload.

    ``connection`` holds ``sim``'s base URL, account id, email and token (for a
    ``ClientConfig``); every child waits until ``start_at``, 3 seconds from now (imports and the
    role catalog are done by then), so their work starts at the same moment. Returns what each
    child put on ``out``, in arrival order; every child must exit 0.
    """
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    connection = {
        "base_url": sim.base_url,
        "account_id": sim.account_id,
        "email": sim.email,
        "api_token": sim.token,
    }
    start_at = time.time() + 3.0
    children = [
        context.Process(target=target, args=(connection, payload, start_at, out)) for payload in payloads
    ]
    for child in children:
        child.start()
    results = [out.get(timeout=timeout) for _ in children]
    for child in children:
        child.join(timeout=30)
        assert child.exitcode == 0
    return results


ANSWER_TIMEOUT = 120.0
"""Seconds a test waits for a human-in-the-loop request to appear."""


class Approvals:
    """Answers human-in-the-loop requests through Airflow's core REST API, as a given user."""

    def __init__(self, client: Any, auth_manager: Any) -> None:
        self.client = client
        self.auth_manager = auth_manager
        self.seen: list[dict[str, Any]] = []

    def headers(self, user: str) -> dict[str, str]:
        from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

        token = self.auth_manager.generate_jwt(SimpleAuthManagerUser(username=user, role="admin"))
        return {"Authorization": f"Bearer {token}"}

    def pending(self, dag_id: str) -> list[dict[str, Any]]:
        response = self.client.get(
            f"/api/v2/dags/{dag_id}/dagRuns/~/hitlDetails",
            params={"response_received": False},
            headers=self.headers("viewer"),
        )
        assert response.status_code == 200, response.text
        return list(response.json()["hitl_details"])

    def answer(self, detail: dict[str, Any], option: str, user: str) -> Any:
        ti = detail["task_instance"]
        return self.client.patch(
            f"/api/v2/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}/-1/hitlDetails",
            json={"chosen_options": [option], "params_input": {}},
            headers=self.headers(user),
        )

    def answer_in_background(self, dag_id: str, option: str, user: str) -> Callable[[], None]:
        """Answer the first request of ``dag_id`` from a thread while ``dag.test()`` runs.

        Returns a function that waits for the thread and raises what went wrong in it.
        """
        errors: list[BaseException] = []

        def run() -> None:
            try:
                deadline = time.monotonic() + ANSWER_TIMEOUT
                while time.monotonic() < deadline:
                    waiting = self.pending(dag_id)
                    if waiting:
                        self.seen.append(waiting[0])
                        response = self.answer(waiting[0], option, user)
                        assert response.status_code == 200, response.text
                        return
                    time.sleep(0.5)
                raise AssertionError(f"no approval of {dag_id} was asked for in {ANSWER_TIMEOUT}s")
            except BaseException as exc:  # handed to the test's thread
                errors.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()

        def join() -> None:
            thread.join(ANSWER_TIMEOUT + 10)
            if errors:
                raise errors[0]

        return join


SMTP_SENDER = "iam@acme.example"
"""The ``from_email`` of the ``smtp_default`` connection the ``inbox`` fixture sets."""


def free_port() -> int:
    """A free TCP port on loopback (aiosmtpd checks its server on the port it was given: not 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Inbox:
    """What the SMTP server accepted: (MAIL FROM, RCPT TO list, parsed message)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], EmailMessage]] = []
        self.raw: list[bytes] = []
        self.unknown: set[str] = set()  # addresses the server answers 550 to

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.lower() in self.unknown:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = bytes(envelope.original_content or envelope.content)
        self.raw.append(content)
        message = email.message_from_bytes(content, policy=email.policy.default)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def take(self) -> list[tuple[str, list[str], EmailMessage]]:
        taken, self.received = self.received, []
        return taken


def validate_against(spec: dict[str, Any], schema_name: str, instance: Any) -> None:
    """Fail unless ``instance`` is valid for the component schema ``schema_name`` of Boomi's spec."""
    import jsonschema

    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    jsonschema.Draft7Validator(schema).validate(instance)
