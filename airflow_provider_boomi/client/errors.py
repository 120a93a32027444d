"""Exceptions raised by the client, and the parsing of Boomi's error bodies.

Every message says what went wrong and what to do about it. None of them ever contains the API
token, the Authorization header or a password: they are built only from the status, the object
type, the operation, the account id and Boomi's own error message, and Boomi's message is
scrubbed of the client's credentials first (:func:`scrub_secrets`), because a gateway or a
misbehaving server may echo the request headers in its error body.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from urllib.parse import quote
from xml.etree import ElementTree

__all__ = [
    "BoomiAuthenticationError",
    "BoomiBadRequestError",
    "BoomiError",
    "BoomiNotFoundError",
    "BoomiPermissionError",
    "BoomiQueryTokenError",
    "BoomiRateLimitedError",
    "BoomiResponseError",
    "BoomiServerError",
    "BoomiTransportError",
    "error_for_status",
    "parse_error_body",
    "scrub_secrets",
    "secret_forms",
]

_MAX_FALLBACK_CHARS = 200
#: What a scrubbed secret is replaced by (the same as Airflow's secrets masker).
REDACTED = "***"


def secret_forms(username: str, token: str) -> tuple[str, ...]:
    """Every form in which Basic-auth credentials travel: what must never be shown.

    The Authorization header value (``Basic <base64>``), its base64 part, the decoded
    ``BOOMI_TOKEN.<email>:<token>`` pair and the raw token. Longest first, so that scrubbing
    replaces a whole header rather than the token inside it.
    """
    pair = f"{username}:{token}"
    encoded = base64.b64encode(pair.encode()).decode("ascii")
    forms = {f"Basic {encoded}", encoded, pair, token}
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


def scrub_secrets(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each of ``secrets`` in ``text`` with ``***``.

    Each secret is also matched as a JSON string escapes it (``/`` as ``\\/``) and as it is
    percent-encoded in a URL, the forms an error body echoing a header is most likely to use.
    """
    variants: set[str] = set()
    for secret in secrets:
        if secret:
            variants.update((secret, secret.replace("/", "\\/"), quote(secret, safe="")))
    for variant in sorted(variants, key=len, reverse=True):
        text = text.replace(variant, REDACTED)
    return text


class BoomiError(Exception):
    """Base class of every error the Boomi client raises.

    :ivar status: HTTP status of the last response, or ``None`` when no response arrived.
    :ivar object_type: the Boomi object involved (``Role``, ``AccountUserRole`` ...), if any.
    :ivar operation: ``query``, ``queryMore``, ``get``, ``create``, ``delete`` ...
    :ivar boomi_message: Boomi's own error text, if the response carried one.
    :ivar attempts: how many HTTP attempts were made before giving up.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        object_type: str | None = None,
        operation: str | None = None,
        boomi_message: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.object_type = object_type
        self.operation = operation
        self.boomi_message = boomi_message
        self.attempts = attempts

    def __str__(self) -> str:
        if self.attempts > 1:
            return f"{self.message} (gave up after {self.attempts} attempts)"
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, object_type={self.object_type!r}, "
            f"operation={self.operation!r}, message={self.message!r})"
        )

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Keyword-only __init__ arguments defeat the default pickling, and Airflow may pickle
        # exceptions across processes.
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[BoomiError], message: str, state: dict[str, object]) -> BoomiError:
    err = cls(message)
    err.__dict__.update(state)
    return err


class BoomiAuthenticationError(BoomiError):
    """401: Boomi rejected the credentials."""


class BoomiPermissionError(BoomiError):
    """403: authenticated, but the user lacks a privilege or access to the account."""


class BoomiNotFoundError(BoomiError):
    """404 or 410: the endpoint or object does not exist (or the API was retired)."""


class BoomiBadRequestError(BoomiError):
    """400: Boomi refused the request (invalid filter, unknown id, business rule)."""


class BoomiQueryTokenError(BoomiBadRequestError):
    """400 on ``queryMore``: Boomi refused the page token (used up, expired or unknown; §g.7).

    The chain cannot continue from where it was; the caller may restart the query from its
    first page (de-duplicating what it already read) or fail. ``retried`` is true when an
    earlier attempt of the same call may have reached Boomi and consumed the token.
    """

    @property
    def retried(self) -> bool:
        """Whether the call was attempted more than once (a lost answer may have used the token)."""
        return self.attempts > 1


class BoomiRateLimitedError(BoomiError):
    """503 or 429 still arriving after every retry: the account's rate limit was exceeded."""


class BoomiServerError(BoomiError):
    """A 5xx other than 503 still arriving after every retry."""


class BoomiTransportError(BoomiError):
    """No usable response: connection error or timeout (after retries, where retrying was safe)."""


class BoomiResponseError(BoomiError):
    """A 2xx response whose body is not the JSON shape expected (e.g. truncated by a proxy)."""


def parse_error_body(
    status: int | None,
    text: str | None,
    content_type: str | None = None,
    *,
    secrets: Iterable[str] = (),
) -> str:
    """Extract Boomi's error message from a response body, with ``secrets`` scrubbed from it.

    Accepts the shapes found in Boomi material: ``{"@type": "Error", "message": ...}``,
    ``{"message": ...}``, ``{"error": {"message": ...}}`` (also ``{"error": "..."}``) and XML
    ``<error><message>...</message></error>``. Anything else falls back to the first 200
    characters of the body, or to a description of the status when the body is empty.

    ``secrets`` (see :func:`secret_forms`) are replaced by ``***`` in the whole body before it is
    parsed or clipped (so no cut leaves half a secret) and in the message after (so no JSON or
    XML escape hides one).
    """
    secrets = tuple(secrets)
    return scrub_secrets(_parse_error_body(status, scrub_secrets(text or "", secrets), content_type), secrets)


def _parse_error_body(status: int | None, text: str, content_type: str | None) -> str:
    body = text.strip()
    if not body:
        return f"HTTP {status} with an empty body" if status is not None else "empty response body"
    ctype = (content_type or "").lower()
    if body[:1] in "{[" or "json" in ctype:
        try:
            found = _message_from_json(json.loads(body))
        except ValueError:
            found = None
        if found:
            return found
    if body.startswith("<") or "xml" in ctype:
        found = _message_from_xml(body)
        if found:
            return found
    return _clip(body)


def _message_from_json(data: object) -> str | None:
    if not isinstance(data, dict):
        return None
    message = data.get("message")
    if isinstance(message, str) and message.strip():
        return message.strip()
    error = data.get("error")
    if isinstance(error, dict):
        inner = error.get("message")
        if isinstance(inner, str) and inner.strip():
            return inner.strip()
    if isinstance(error, str) and error.strip():
        return error.strip()
    return None


def _message_from_xml(body: str) -> str | None:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    # Namespaces vary (bns:Error, error ...): compare local names case-insensitively.
    for element in root.iter():
        local = element.tag.rsplit("}", 1)[-1].lower()
        if local == "message" and element.text and element.text.strip():
            return element.text.strip()
    message_attr = root.attrib.get("message")
    return message_attr.strip() if message_attr else None


def _clip(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= _MAX_FALLBACK_CHARS else text[:_MAX_FALLBACK_CHARS] + "..."


def error_for_status(
    status: int,
    boomi_message: str,
    *,
    object_type: str | None,
    operation: str,
    account_id: str,
    attempts: int = 1,
    secrets: Iterable[str] = (),
) -> BoomiError:
    """Build the exception for a non-2xx response, with a message that says what to fix.

    ``boomi_message`` is scrubbed of ``secrets`` (see :func:`secret_forms`) before it goes into
    the message or the exception's ``boomi_message``.
    """
    boomi_message = scrub_secrets(boomi_message, secrets)
    what = f"{object_type} {operation}" if object_type else operation
    prefix = f"Boomi {what} failed with HTTP {status}: {boomi_message}"
    cls: type[BoomiError]
    if status == 401:
        cls = BoomiAuthenticationError
        hint = (
            "Boomi rejected the credentials. Check that the connection login is the Boomi user's email "
            "(it is sent as BOOMI_TOKEN.<email>), that the password is a valid Platform API token for "
            "that user, and that the API Token feature is enabled for the account."
        )
    elif status == 403:
        cls = BoomiPermissionError
        hint = (
            f"The Boomi user needs the API Access (API) and Account Administration (ACCOUNT_ADMIN) "
            f"privileges on account {account_id}."
        )
        if object_type and object_type.startswith("AccountGroup"):
            hint += (
                " Account groups exist only on primary (partner) accounts; on a non-primary account "
                "this object is not available."
            )
    elif status in (404, 410):
        cls = BoomiNotFoundError
        hint = "Check the base URL, the account id and the object id."
    elif status == 400 and operation == "queryMore":
        cls = BoomiQueryTokenError
        hint = (
            "Boomi refused the page token: it was used up by an earlier attempt whose answer was lost, "
            "or it expired (reference §g.7). The query must start again from its first page."
        )
    elif status == 400:
        cls = BoomiBadRequestError
        hint = "Boomi refused the request as invalid."
    elif status in (429, 503):
        cls = BoomiRateLimitedError
        hint = (
            f"Boomi kept answering 'busy or rate limit exceeded' for account {account_id}; lower "
            "requests_per_second or run fewer concurrent syncs for this account."
        )
    elif 500 <= status < 600:
        cls = BoomiServerError
        hint = "Boomi kept failing with a server error; try again later."
    else:
        cls = BoomiError
        hint = "Unexpected response status."
    return cls(
        f"{prefix}. {hint}",
        status=status,
        object_type=object_type,
        operation=operation,
        boomi_message=boomi_message,
        attempts=attempts,
    )
