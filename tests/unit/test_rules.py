"""One home per rule (issue 16): flags, account ids and the default pace live in ``_rules``, and
every layer that applies them imports that one home instead of restating it."""

from __future__ import annotations

import ast
import dataclasses
import math
import re
from pathlib import Path

import pytest

from airflow_provider_boomi import _rules
from airflow_provider_boomi._rules import (
    ACCOUNT_ID_PATTERN,
    DEFAULT_REQUESTS_PER_SECOND,
    FALSE_WORDS,
    TRUE_WORDS,
    parse_bool,
    validate_account_id,
)
from airflow_provider_boomi.access.changes import changes_from_records
from airflow_provider_boomi.client import ClientConfig
from airflow_provider_boomi.dataset import paths
from airflow_provider_boomi.get_provider_info import CONN_FIELDS

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "airflow_provider_boomi"

# --- flags --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("word", sorted(TRUE_WORDS))
def test_every_true_word_in_any_case(word: str) -> None:
    assert parse_bool(word, "f") is True
    assert parse_bool(f" {word.upper()} ", "f") is True


@pytest.mark.parametrize("word", sorted(FALSE_WORDS))
def test_every_false_word_in_any_case(word: str) -> None:
    assert parse_bool(word, "f") is False
    assert parse_bool(f" {word.title()} ", "f") is False


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), (False, False), (1, True), (0, False), (1.0, True)]
)
def test_booleans_and_zero_or_one(value: object, expected: bool) -> None:
    assert parse_bool(value, "f") is expected


@pytest.mark.parametrize("value", [None, "", "   "])
def test_unset_is_the_default_or_an_error_without_one(value: object) -> None:
    assert parse_bool(value, "f", default=True) is True
    assert parse_bool(value, "f", default=False) is False
    with pytest.raises(ValueError, match="f must be true or false"):
        parse_bool(value, "f")


@pytest.mark.parametrize("value", ["maybe", "t", "f", "2", "truee", 2, -1, math.nan, [], object()])
def test_anything_else_is_refused_naming_the_flag_and_the_words(value: object) -> None:
    with pytest.raises(ValueError) as caught:
        parse_bool(value, "notify_user", default=True)
    message = str(caught.value)
    assert message.startswith("notify_user must be true or false")
    assert all(word in message for word in TRUE_WORDS | FALSE_WORDS)


def test_change_files_use_the_same_words() -> None:
    records = [
        {"action": "assign_role", "user_id": "a@b.example", "role": "R", "notify_user": w}
        for w in ("Off", "YES")
    ]
    assert [c.notify_user for c in changes_from_records(records)] == [False, True]
    with pytest.raises(ValueError, match=r"change #1: notify_user must be true or false"):
        changes_from_records([{"action": "assign_role", "notify_user": "t"}])


def _literal_strings(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Set | ast.List | ast.Tuple):
        return {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return set()


def test_no_other_module_lists_flag_words() -> None:
    """A second list of words (``{"true", "yes", ...}``) is a second, drifting flag rule."""
    offenders = sorted(
        str(path.relative_to(REPO))
        for path in PACKAGE.rglob("*.py")
        if path != PACKAGE / "_rules.py"
        and any(
            {"yes", "no"} & _literal_strings(node) or {"on", "off"} <= _literal_strings(node)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        )
    )
    assert offenders == []


# --- account ids --------------------------------------------------------------------------------------

GOOD = ["acme-Q7R2ZK", "boomiqa-T7KIDU", "account-123456", "a.b_c-D", "_x", "a" * 200]
BAD = [
    "",
    ".acme",
    "-acme",
    "..",
    "acme..x",
    "acme/1",
    "a b",
    "acme?x",
    "acme%2F",
    "ünïcode",
    "a=b",
    "a" * 201,
]


@pytest.mark.parametrize("account_id", GOOD)
def test_good_account_ids_pass_everywhere(account_id: str) -> None:
    assert validate_account_id(account_id) == account_id
    assert paths.validate_account_id(account_id) == account_id
    assert ClientConfig(account_id=account_id, email="e@x.example", api_token="t").account_id == account_id
    assert re.search(ACCOUNT_ID_PATTERN, account_id)


@pytest.mark.parametrize("account_id", BAD)
def test_bad_account_ids_fail_everywhere(account_id: str) -> None:
    with pytest.raises(ValueError, match="account id"):
        validate_account_id(account_id)
    with pytest.raises(ValueError, match="account_id"):
        ClientConfig(account_id=account_id, email="e@x.example", api_token="t")
    assert re.search(ACCOUNT_ID_PATTERN, account_id) is None


def test_the_id_rule_has_one_home() -> None:
    assert paths.validate_account_id is _rules.validate_account_id
    assert paths.validate_path_component is _rules.validate_path_component
    assert CONN_FIELDS["account_id"]["schema"]["pattern"] == ACCOUNT_ID_PATTERN


# --- the default pace ---------------------------------------------------------------------------------


def test_the_default_pace_is_one_constant() -> None:
    (field,) = [f for f in dataclasses.fields(ClientConfig) if f.name == "requests_per_second"]
    assert field.default == DEFAULT_REQUESTS_PER_SECOND
    assert CONN_FIELDS["requests_per_second"]["schema"]["default"] == DEFAULT_REQUESTS_PER_SECOND
    # The docs render the constant (a MyST substitution defined in docs/conf.py) instead of
    # restating it.
    stated = sorted(
        page.name
        for page in (REPO / "docs").glob("*.md")
        if re.search(r"default:? `?10`?(?![\d,]| s\b)", page.read_text(encoding="utf-8"), re.IGNORECASE)
    )
    assert stated == []
    assert "{{ default_requests_per_second }}" in (REPO / "docs" / "connection.md").read_text(
        encoding="utf-8"
    )


def test_the_rules_module_imports_nothing_from_the_package() -> None:
    tree = ast.parse((PACKAGE / "_rules.py").read_text(encoding="utf-8"))
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    assert {"__future__", "math", "re", "unicodedata"} >= imported
