"""The rules and defaults that more than one layer applies, each written once.

The lowest module of the package: standard library only, importing nothing else from the package
(and never Airflow), so that ``client``, ``dataset``, ``access``, ``hooks``, ``operators`` and
``get_provider_info`` (which Airflow imports in every component, so it must stay light) can all
use it. Callers re-export what is public: :func:`validate_path_component` and
:func:`validate_account_id` through :mod:`airflow_provider_boomi.dataset.paths`.

- :func:`parse_bool`: the one set of words accepted as a flag, wherever a flag is typed by a
  person (connection extras, rendered operator arguments, change files).
- :func:`validate_path_component` and :func:`validate_account_id`: what an id that becomes a
  path component may contain (the account id is one in the API URL and in the snapshot path);
  :data:`ACCOUNT_ID_PATTERN` is the same rule as a JSON-schema pattern, for the connection form.
- :data:`DEFAULT_REQUESTS_PER_SECOND`: the client-side pace when a connection sets none.
"""

from __future__ import annotations

import math
import re
import unicodedata

__all__ = [
    "ACCOUNT_ID_PATTERN",
    "DEFAULT_REQUESTS_PER_SECOND",
    "FALSE_WORDS",
    "MAX_COMPONENT_LENGTH",
    "TRUE_WORDS",
    "is_flag_word",
    "parse_bool",
    "validate_account_id",
    "validate_path_component",
]

DEFAULT_REQUESTS_PER_SECOND = 10.0
"""Requests per second a client sends to one account unless the connection says otherwise
(Boomi's documented limit per account)."""

# --- flags ------------------------------------------------------------------------------------------

TRUE_WORDS = frozenset({"true", "yes", "y", "on", "1"})
"""Words read as ``True`` by :func:`parse_bool` (any case, surrounding spaces ignored)."""
FALSE_WORDS = frozenset({"false", "no", "n", "off", "0"})
"""Words read as ``False`` by :func:`parse_bool` (any case, surrounding spaces ignored)."""
_ACCEPTED = f"{'/'.join(sorted(TRUE_WORDS))} or {'/'.join(sorted(FALSE_WORDS))}"


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_bool(value: object, what: str, *, default: bool | None = None) -> bool:
    """Read a flag typed by a person: a connection extra, a rendered template, a change file.

    Accepted: ``True`` and ``False``; the numbers 0 and 1; and, in any case with surrounding
    spaces ignored, :data:`TRUE_WORDS` (``true``, ``yes``, ``y``, ``on``, ``1``) and
    :data:`FALSE_WORDS` (``false``, ``no``, ``n``, ``off``, ``0``). ``None`` and blank text mean
    "not set": ``default`` is returned, or, without a default, they are refused like any other
    value.

    :param value: the value to read.
    :param what: the flag's name, for the error message.
    :param default: the value of an unset flag; ``None`` makes an unset flag an error.
    :raises ValueError: anything else; the message names the flag and the accepted words.
    """
    if isinstance(value, bool):
        return value
    if _is_blank(value) and default is not None:
        return default
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        if value in (0, 1):
            return bool(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if text in TRUE_WORDS:
            return True
        if text in FALSE_WORDS:
            return False
    raise ValueError(f"{what} must be true or false ({_ACCEPTED}, any case), got {value!r}")


def is_flag_word(value: object) -> bool:
    """Whether ``value`` is text :func:`parse_bool` reads as a flag (for settings that also take a path)."""
    return isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS


# --- ids that become path components ----------------------------------------------------------------

#: Longest path component accepted (file systems allow 255 bytes; room is left for suffixes).
MAX_COMPONENT_LENGTH = 200
# ASCII letters, digits, '.', '_' and '-', so that no separator, traversal, hive '=' syntax, glob,
# whitespace, control, direction-changing or zero-width character can reach a path, or a URL or
# glob built from one. The first character must not be '.' (``.`` and ``..`` are links to folders,
# and hidden names are where temporary folders live, so an id can never name one) nor '-' (it
# reads as an option to command-line tools).
_COMPONENT_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
# Named in error messages, so the fix is obvious.
_FORBIDDEN_CHARS = {"/": "'/'", "\\": "'\\'", "=": "'='", "*": "'*'", "?": "'?'", "[": "'['", "]": "']'"}

ACCOUNT_ID_PATTERN = rf"^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9._-]{{0,{MAX_COMPONENT_LENGTH - 1}}}$"
""":func:`validate_account_id` as a JSON-schema (ECMA-262) pattern, for the connection form."""


def _invisible(value: str) -> list[str]:
    """Code points that are invisible or change the text direction (Unicode category Cf).

    Right-to-left overrides and zero-width characters make one id look like another in logs,
    reports and file listings, so they are named (``U+202E``) rather than shown.
    """
    return [f"U+{ord(ch):04X}" for ch in value if unicodedata.category(ch) == "Cf"]


def validate_path_component(value: object, what: str, *, where: str = "a path") -> str:
    """Return ``value`` if it is safe as one path component, else raise ``ValueError``.

    The single home of the rule for ids that become paths (account, sync, campaign and run
    ids, file names read back from a campaign): 1 to :data:`MAX_COMPONENT_LENGTH` ASCII
    letters, digits, ``.``, ``_`` and ``-``; not starting with ``.`` or ``-``; no ``..``.
    The error names every problem (``'/'``, ``'..'``, whitespace, control or invisible
    characters ...) so the caller knows what to fix.

    :param value: the id.
    :param what: what it is, for the message (``"account id"``, ``"run id"`` ...).
    :param where: what it would become part of, for the message.
    :raises ValueError: the id is not safe; the message names every problem.
    """
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{what} is empty; pass the {what} (e.g. 'acme-Q7R2ZK')")
    problems = [label for char, label in _FORBIDDEN_CHARS.items() if char in value]
    if any(ch.isspace() for ch in value):
        problems.append("whitespace")
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in value):
        problems.append("control characters")
    invisible = _invisible(value)
    if invisible:
        problems.append(f"invisible or direction-changing characters ({', '.join(invisible)})")
    if ".." in value:
        problems.append("'..'")
    elif value[0] in ".-":
        problems.append(f"a leading {value[0]!r}")
    if len(value) > MAX_COMPONENT_LENGTH:
        problems.append(f"more than {MAX_COMPONENT_LENGTH} characters")
    if not problems and not _COMPONENT_RE.fullmatch(value):
        others = sorted({ch for ch in value if not _COMPONENT_RE.fullmatch("a" + ch)})
        problems.append(
            f"characters other than ASCII letters, digits, '.', '_' and '-' ({', '.join(others)})"
        )
    if problems:
        raise ValueError(
            f"{what} {value!r} cannot be used in {where}: it contains {', '.join(problems)}. "
            f"Use the {what} exactly as it was created: ASCII letters, digits, '.', '_' and '-', "
            "not starting with '.' or '-'."
        )
    return value


def validate_account_id(
    account_id: object, *, what: str = "account id", where: str = "a snapshot path"
) -> str:
    """Return ``account_id`` if it is a usable Boomi account id, else raise ``ValueError``.

    The account id becomes a path component twice: of every API URL and of the snapshot path,
    so the rule is :func:`validate_path_component`'s: refused are empty ids, ``/``, ``\\``,
    ``..``, ``=``, whitespace, control, invisible (zero-width) and direction-changing
    characters, glob characters, anything outside ASCII letters, digits, ``.``, ``_``, ``-``,
    and a leading ``.`` or ``-``. Boomi's own ids look like ``acme-Q7R2ZK``.

    :param account_id: the id.
    :param what: how the caller names it in messages (``"account_id"`` for a setting).
    :param where: what it would become part of, for the message.
    :raises ValueError: the id is not usable; the message names every problem.
    """
    return validate_path_component(account_id, what, where=where)
