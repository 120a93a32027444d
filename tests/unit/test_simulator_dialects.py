"""The simulator's settings plumbing, its §g switches without HTTP, and the ``skewed`` profile."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from typing import Any

import pytest

from airflow_provider_boomi.testing.simulator import (
    DIALECTS,
    BoomiSimulator,
    FaultRule,
    SimulatorApiError,
    SimulatorConfig,
)
from airflow_provider_boomi.testing.simulator.__main__ import build_parser, settings_from_args
from airflow_provider_boomi.testing.simulator.config import GROUPS_MODES
from airflow_provider_boomi.testing.simulator.filters import (
    SCHEMA_OPERATORS,
    SCHEMA_PROPERTIES,
    FilterDialect,
    compile_query,
)
from airflow_provider_boomi.testing.simulator.paging import CursorStore
from airflow_provider_boomi.testing.simulator.profiles import EDGE_USERS, PROFILE_SETTINGS, build_state
from airflow_provider_boomi.testing.simulator.ratelimit import SlidingWindow, TokenBucket
from airflow_provider_boomi.testing.simulator.state import ADMINISTRATOR_ID, STANDARD_USER_ID

SWITCHES: dict[str, tuple[Any, ...]] = {
    "role_id_filter": ("honoured", "ignored", "refused"),
    "builtin_roles": ("listed", "by_id_only"),
    "builtin_parent": ("standard_user", "none"),
    "user_id_case": ("insensitive", "sensitive"),
    "cross_account_rows": (False, True),
    "groups_mode": ("empty", "forbidden", "bad_request", "not_found", "default_group"),
    "query_tokens": ("single_use", "reusable", "expiring"),
    "rate_limiter": ("token_bucket", "sliding_window"),
    "filter_operators": ("lenient", "schema", "role_equals_only"),
}
"""Every §g switch and its values, default first."""


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------ one list of settings


def test_switch_defaults_and_values() -> None:
    config = SimulatorConfig()
    for name, values in SWITCHES.items():
        assert getattr(config, name) == values[0], name
        for value in values:
            assert getattr(SimulatorConfig(**{name: value}), name) == value
    assert config.query_token_ttl == 60.0 and config.dialect is None
    assert SWITCHES["groups_mode"] == GROUPS_MODES


@pytest.mark.parametrize("name", [n for n in SWITCHES if n != "cross_account_rows"])
def test_invalid_switch_values_name_the_field_and_the_choices(name: str) -> None:
    settings: dict[str, Any] = {name: "bogus"}
    with pytest.raises(ValueError) as err:
        SimulatorConfig(**settings)
    assert name in str(err.value) and str(SWITCHES[name][1]) in str(err.value) and "bogus" in str(err.value)


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"cross_account_rows": "yes"}, "cross_account_rows"),
        ({"query_token_ttl": 0}, "query_token_ttl"),
        ({"query_token_ttl": -1.0}, "query_token_ttl"),
        ({"dialect": "nonsense"}, "dialect"),
        ({"profile": "huge"}, "profile"),
        ({"rate_limit": -1}, "rate_limit"),
        ({"explicit": frozenset({"nope"})}, "explicit"),
    ],
)
def test_other_invalid_settings(settings: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        SimulatorConfig(**settings)


def test_simulator_takes_every_setting_as_a_keyword() -> None:
    rule = FaultRule("503", count=1)
    sim = BoomiSimulator(
        "empty", seed=3, rate_limit=None, latency=0.0, groups_mode="forbidden", faults=(rule,), primary=False,
        advanced_user_security=False, rate_limit_status=429, retry_after=1.0, latency_jitter=0.1,
        account_id="acct-ABCDEF", port=0, host="127.0.0.1", token="tok", email="me@corp.example",
        api_privileges=False, role_id_filter="ignored", query_tokens="reusable",
        rate_limiter="sliding_window",
    )  # fmt: skip
    assert sim.config.faults == [rule] and sim.config.seed == 3 and sim.config.primary is False
    assert sim.account_id == "acct-ABCDEF" and sim.token == "tok" and sim.email == "me@corp.example"
    assert sim.config.role_id_filter == "ignored" and isinstance(sim.rate_limiter, SlidingWindow)
    assert not sim.state.primary and not sim.state.advanced_user_security
    assert BoomiSimulator(profile="empty").config == SimulatorConfig(
        profile="empty", explicit=frozenset({"profile"})
    )


def test_config_or_settings_not_both() -> None:
    config = SimulatorConfig(profile="empty", query_tokens="reusable")
    sim = BoomiSimulator(config=config)
    assert sim.config == config and sim.config is not config
    assert BoomiSimulator.from_config(config).config == config
    with pytest.raises(TypeError, match="seed"):
        BoomiSimulator(config=config, seed=1)
    with pytest.raises(TypeError, match="profile"):
        BoomiSimulator("large", config=config)
    with pytest.raises(TypeError):
        BoomiSimulator(profile="empty", no_such_setting=1)


def test_cli_offers_every_field() -> None:
    parser = build_parser()
    flags = {flag for action in parser._actions for flag in action.option_strings}
    for f in dataclasses.fields(SimulatorConfig):
        if f.name == "explicit":
            continue
        dashed = f.name.replace("_", "-")
        assert {f"--{dashed}", f"--no-{dashed}", "--fault"} & flags, f.name
    expected = {"--role-id-filter", "--builtin-roles", "--builtin-parent", "--user-id-case",
                "--cross-account-rows", "--groups-mode", "--query-tokens", "--query-token-ttl",
                "--rate-limiter", "--filter-operators", "--dialect", "--rate-limit", "--no-api-privileges",
                "--fault", "--ready-file", "--no-advanced-user-security", "--primary"}  # fmt: skip
    assert expected <= flags


def test_cli_flags_parse_into_settings() -> None:
    args = build_parser().parse_args(
        ["--profile", "skewed", "--role-id-filter", "ignored", "--builtin-roles", "by_id_only",
         "--builtin-parent", "none", "--user-id-case", "sensitive", "--cross-account-rows",
         "--groups-mode", "default_group", "--query-tokens", "expiring", "--query-token-ttl", "2.5",
         "--rate-limiter", "sliding_window", "--filter-operators", "schema", "--rate-limit", "none",
         "--fault", "timeout_after_answer:object=AccountUserRole,op=queryMore,count=1",
         "--no-api-privileges", "--no-primary", "--seed", "4", "--dialect", "documented"]
    )  # fmt: skip
    settings = settings_from_args(args)
    assert settings == {
        "profile": "skewed",
        "seed": 4,
        "rate_limit": None,
        "faults": [FaultRule("timeout_after_answer", "AccountUserRole", "queryMore", count=1)],
        "groups_mode": "default_group",
        "api_privileges": False,
        "primary": False,
        "role_id_filter": "ignored",
        "builtin_roles": "by_id_only",
        "builtin_parent": "none",
        "user_id_case": "sensitive",
        "cross_account_rows": True,
        "query_tokens": "expiring",
        "query_token_ttl": 2.5,
        "rate_limiter": "sliding_window",
        "filter_operators": "schema",
        "dialect": "documented",
    }
    assert settings_from_args(build_parser().parse_args([])) == {}  # nothing given, nothing explicit


@pytest.mark.parametrize(
    "argv", [["--role-id-filter", "maybe"], ["--groups-mode", "hidden"], ["--dialect", "x"]]
)
def test_cli_refuses_unknown_values(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    assert "invalid choice" in capsys.readouterr().err


# ------------------------------------------------------------------ dialect presets and profile settings


def test_dialect_presets() -> None:
    assert set(DIALECTS) >= {"documented", "soap_pages", "strict"} and DIALECTS["documented"] == {}
    soap = SimulatorConfig(dialect="soap_pages")
    assert (soap.role_id_filter, soap.builtin_roles, soap.filter_operators) == (
        "ignored",
        "by_id_only",
        "role_equals_only",
    )
    strict = SimulatorConfig(dialect="strict")
    assert strict.user_id_case == "sensitive" and strict.cross_account_rows is True
    assert strict.query_tokens == "expiring" and strict.query_token_ttl == 5.0
    assert strict.rate_limiter == "sliding_window" and strict.filter_operators == "schema"
    assert SimulatorConfig(dialect="documented") == SimulatorConfig(
        dialect="documented", explicit=frozenset()
    )
    for name, preset in DIALECTS.items():
        assert set(preset) <= {f.name for f in dataclasses.fields(SimulatorConfig)}, name


def test_explicit_settings_beat_the_preset() -> None:
    # A non-default value always wins; a default value wins when it is marked explicit.
    assert SimulatorConfig(dialect="strict", filter_operators="role_equals_only").filter_operators == (
        "role_equals_only"
    )
    assert SimulatorConfig(dialect="strict", filter_operators="lenient").filter_operators == "schema"
    forced = SimulatorConfig.with_dialect("strict", filter_operators="lenient", cross_account_rows=False)
    assert forced.filter_operators == "lenient" and forced.cross_account_rows is False
    assert forced.user_id_case == "sensitive" and forced.dialect == "strict"
    assert dataclasses.replace(forced) == forced  # re-resolving changes nothing


def test_profile_settings_sit_below_the_dialect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROFILE_SETTINGS, "empty", {"query_tokens": "reusable", "role_id_filter": "refused"})
    assert SimulatorConfig(profile="empty").query_tokens == "reusable"
    assert SimulatorConfig(profile="demo").query_tokens == "single_use"
    soap = SimulatorConfig(profile="empty", dialect="soap_pages")
    assert soap.role_id_filter == "ignored" and soap.query_tokens == "reusable"
    assert BoomiSimulator(profile="empty", query_tokens="single_use").config.query_tokens == "single_use"


# ------------------------------------------------------------------ filters (g.1, g.4, g.9)

ROWS = [
    {"id": "1", "accountId": "A", "userId": "Mixed.Case@Example.COM", "roleId": "r1"},
    {"id": "2", "accountId": "A", "userId": "mixed.case@example.com", "roleId": "r2"},
    {"id": "3", "accountId": "B", "userId": "other@example.com", "roleId": "r1"},
]


def _ids(
    expression: dict[str, Any], dialect: FilterDialect, object_type: str = "AccountUserRole"
) -> list[str]:
    compiled = compile_query({"QueryFilter": {"expression": expression}}, object_type, dialect)
    return [r["id"] for r in ROWS if compiled.matches(r)]


def _simple(op: str, prop: str, *args: str) -> dict[str, Any]:
    return {"operator": op, "property": prop, "argument": list(args)}


def test_role_id_filter_in_the_engine() -> None:
    nested = {
        "operator": "and",
        "nestedExpression": [
            _simple("EQUALS", "accountId", "A"),
            {
                "operator": "or",
                "nestedExpression": [_simple("EQUALS", "roleId", "r1"), _simple("EQUALS", "roleId", "x")],
            },
        ],
    }
    assert _ids(nested, FilterDialect()) == ["1"]
    assert _ids(nested, FilterDialect(role_id_filter="ignored")) == ["1", "2"]
    assert _ids(_simple("NOT_EQUALS", "roleId", "r1"), FilterDialect(role_id_filter="ignored")) == [
        "1",
        "2",
        "3",
    ]
    ignored = compile_query(
        {"QueryFilter": {"expression": _simple("EQUALS", "roleId", "r1")}},
        "AccountUserRole",
        FilterDialect(role_id_filter="ignored"),
    )
    assert ignored.index_hint is None
    with pytest.raises(SimulatorApiError, match="property roleId is not filterable for AccountUserRole"):
        _ids(nested, FilterDialect(role_id_filter="refused"))
    # AccountGroupUserRole keeps its roleId filter in every mode.
    for mode in SWITCHES["role_id_filter"]:
        assert _ids(
            _simple("EQUALS", "roleId", "r2"), FilterDialect(role_id_filter=mode), "AccountGroupUserRole"
        ) == ["2"]


@pytest.mark.parametrize(
    ("expression", "insensitive", "sensitive"),
    [
        (_simple("EQUALS", "userId", "mixed.case@example.com"), ["1", "2"], ["2"]),
        (_simple("NOT_EQUALS", "userId", "mixed.case@example.com"), ["3"], ["1", "3"]),
        (_simple("LIKE", "userId", "MIXED%"), ["1", "2"], []),
        (_simple("CONTAINS", "userId", "Case@"), ["1", "2"], ["1"]),
        (_simple("NOT_CONTAINS", "userId", "Case@"), ["3"], ["2", "3"]),
        (_simple("STARTS_WITH", "userId", "M"), ["1", "2"], ["1"]),
    ],
)
def test_user_id_case_in_the_engine(
    expression: dict[str, Any], insensitive: list[str], sensitive: list[str]
) -> None:
    assert _ids(expression, FilterDialect()) == insensitive
    assert _ids(expression, FilterDialect(user_id_case="sensitive")) == sensitive


def test_schema_operator_tables_match_the_openapi_description(openapi_spec: dict[str, Any]) -> None:
    schemas = openapi_spec["components"]["schemas"]
    for obj in ("Role", "AccountUserRole", "AccountGroup", "AccountGroupUserRole"):
        props = schemas[f"{obj}SimpleExpression"]["properties"]
        assert tuple(props["operator"]["enum"]) == SCHEMA_OPERATORS[obj]
        assert tuple(props["property"]["enum"]) == SCHEMA_PROPERTIES[obj]


def test_filter_operator_modes_in_the_engine() -> None:
    starts = _simple("STARTS_WITH", "userId", "M")
    assert _ids(starts, FilterDialect()) == ["1", "2"]
    for mode in ("schema", "role_equals_only"):
        with pytest.raises(SimulatorApiError, match="STARTS_WITH for AccountUserRole"):
            _ids(starts, FilterDialect(filter_operators=mode))
    role_like = _simple("LIKE", "name", "x%")
    assert _ids(role_like, FilterDialect(filter_operators="schema"), "Role") == []
    with pytest.raises(SimulatorApiError, match="Role accepts: EQUALS"):
        _ids(role_like, FilterDialect(filter_operators="role_equals_only"), "Role")
    with pytest.raises(SimulatorApiError, match="'email' for AccountUserRole"):
        _ids(_simple("EQUALS", "email", "x"), FilterDialect(filter_operators="schema"))


# ------------------------------------------------------------------ state (g.2, g.3, g.4, g.5)


def test_builtin_parent_and_roles_in_the_state() -> None:
    from airflow_provider_boomi.testing.simulator.filters import MATCH_ALL

    plain = build_state("demo", 0, builtin_parent="none")
    builtins = [r for r in plain.roles() if r["accountId"] == "1"]
    assert len(builtins) == 4 and all("parentId" not in r for r in builtins)
    listed = build_state("demo", 0)
    assert {r["parentId"] for r in listed.roles() if r["accountId"] == "1"} == {STANDARD_USER_ID}
    by_id = build_state("demo", 0, builtin_roles="by_id_only")
    assert all(r["accountId"] != "1" for r in by_id.query("Role", MATCH_ALL))
    assert by_id.get_role(STANDARD_USER_ID)["name"] == "Standard User"
    with pytest.raises(ValueError, match="builtin_parent"):
        build_state("empty", 0, builtin_parent="self")


def test_case_sensitive_state_helpers() -> None:
    state = build_state("demo", 0, user_id_case="sensitive")
    auditor = state.role_by_name("Auditor")["id"]  # type: ignore[index]
    row = state.grant_role("mixed.case@example.com", auditor)
    assert row["userId"] == "mixed.case@example.com"
    assert {u["userId"] for u in state.users() if u["userId"].lower() == "mixed.case@example.com"} == {
        "Mixed.Case@Example.COM",
        "mixed.case@example.com",
    }
    with pytest.raises(SimulatorApiError, match="No such AccountUserRole"):
        state.revoke_role("MIXED.CASE@EXAMPLE.COM", auditor)
    with pytest.raises(KeyError):
        state.set_logged_in("MIXED.CASE@EXAMPLE.COM", True)
    state.add_user("New.Person@Example.com", "New", "Person")
    state.add_user("new.person@example.com", "new", "person")  # a twin is another user
    group_id = state.account_groups()[3]["id"]
    with pytest.raises(SimulatorApiError, match="must log in"):
        state.add_group_role(group_id, "NEW.PERSON@EXAMPLE.COM", auditor)
    state.add_group_role(group_id, "New.Person@Example.com", auditor)
    with pytest.raises(SimulatorApiError, match="No such AccountGroupUserRole"):
        state.remove_group_role(group_id, "new.person@example.com", auditor)
    state.revoke_role("mixed.case@example.com", auditor)
    insensitive = build_state("demo", 0)
    with pytest.raises(ValueError, match="already exists"):
        insensitive.add_user("MIXED.case@example.com", "M", "C")


def test_foreign_rows_in_the_state() -> None:
    state = build_state("demo", 0, cross_account_rows=True)
    own, foreign = state.user_roles(), state.foreign_user_roles()
    members = [u["userId"] for u in state.users() if u["inAccount"]]
    assert {r["userId"] for r in foreign} == set(members[::3])
    per_user = Counter(r["userId"] for r in foreign)
    assert set(per_user.values()) == {1, 2}
    assert all(r["accountId"] != state.account_id for r in foreign)
    assert build_state("demo", 0, cross_account_rows=True).foreign_user_roles() == foreign  # deterministic
    assert build_state("demo", 0).user_roles() == own
    with pytest.raises(SimulatorApiError, match="No such AccountUserRole"):
        state.delete_user_role(foreign[0]["id"])
    with pytest.raises(ValueError):
        state.add_foreign_user_role(state.account_id, members[0], STANDARD_USER_ID)


# ------------------------------------------------------------------ paging (g.7) with a fake clock


def test_cursor_store_modes() -> None:
    rows = [{"id": str(i)} for i in range(250)]
    clock = FakeClock()
    single = CursorStore(page_size=100)
    token = single.first_page("Role", rows)["queryToken"]
    assert single.next_page("Role", token)["result"] == rows[100:200]
    with pytest.raises(SimulatorApiError, match="Invalid query token"):
        single.next_page("Role", token)

    reusable = CursorStore(page_size=100, mode="reusable")
    token = reusable.first_page("Role", rows)["queryToken"]
    first, again = reusable.next_page("Role", token), reusable.next_page("Role", token)
    assert first == again and first["result"] == rows[100:200]
    assert reusable.next_page("Role", first["queryToken"])["result"] == rows[200:]
    with pytest.raises(SimulatorApiError):
        reusable.next_page("AccountGroup", token)

    expiring = CursorStore(page_size=100, mode="expiring", ttl=5.0, clock=clock)
    token = expiring.first_page("Role", rows)["queryToken"]
    clock.now += 4.9
    nxt = expiring.next_page("Role", token)
    with pytest.raises(SimulatorApiError):
        expiring.next_page("Role", token)  # single use
    clock.now += 5.1
    with pytest.raises(SimulatorApiError, match="Invalid query token"):
        expiring.next_page("Role", nxt["queryToken"])  # expired
    with pytest.raises(ValueError, match="query_tokens"):
        CursorStore(mode="forever")


# ------------------------------------------------------------------ rate limiters (g.8) with a fake clock


def test_sliding_window_is_strict_where_the_bucket_bursts() -> None:
    clock = FakeClock()
    bucket, window = TokenBucket(5, clock=clock), SlidingWindow(5, clock=clock)
    assert sum(bucket.try_acquire() for _ in range(10)) == 5
    assert sum(window.try_acquire() for _ in range(10)) == 5
    clock.now += 0.9
    # The bucket refilled 4.5 tokens: 9 admitted within 0.9 s. The window admits none.
    assert sum(bucket.try_acquire() for _ in range(10)) == 4
    assert sum(window.try_acquire() for _ in range(10)) == 0
    clock.now += 0.1
    assert sum(window.try_acquire() for _ in range(10)) == 5
    times = window.admitted()
    assert len(times) == 10 and all(b - a >= 1.0 for a, b in zip(times, times[5:], strict=False))


def test_sliding_window_rates() -> None:
    clock = FakeClock()
    window = SlidingWindow(9.8, clock=clock)
    assert sum(window.try_acquire() for _ in range(20)) == 9  # floor(rate)
    window.set_rate(None)
    assert all(window.try_acquire() for _ in range(100))
    window.set_rate(0)
    assert window.rate is None and all(window.try_acquire() for _ in range(100))
    window.set_rate(0.5)  # below one a second: one request per two seconds
    assert sum(window.try_acquire() for _ in range(5)) == 1
    clock.now += 1.5
    assert not window.try_acquire()
    clock.now += 0.5
    assert window.try_acquire()
    with pytest.raises(ValueError):
        window.set_rate(-1)


# ------------------------------------------------------------------ faults


def test_timeout_after_answer_fault_kind_parses() -> None:
    rule = FaultRule.parse("timeout_after_answer:object=AccountUserRole,op=queryMore,count=1,after=2")
    assert rule == FaultRule("timeout_after_answer", "AccountUserRole", "queryMore", after=2, count=1)


# ------------------------------------------------------------------ the skewed profile


def test_skewed_profile_shape() -> None:
    started = time.perf_counter()
    state = build_state("skewed", 0)
    assert time.perf_counter() - started < 5.0  # generous: well under a second in practice
    users = state.users()
    assert sum(u["inAccount"] for u in users) == 5_000
    names = {r["id"]: r["name"] for r in state.roles()}
    holders: dict[str, set[str]] = {}
    for row in state.user_roles():
        holders.setdefault(names[row["roleId"]], set()).add(row["userId"])
    edge = {u["userId"] for u in users if u["userId"].split("@")[0] in {e.local for e in EDGE_USERS}}
    edge.add("Mixed.Case@Example.COM")
    generated = {u["userId"] for u in users if u["inAccount"]} - edge
    assert generated <= holders["Standard User"]  # every generated user and the API user
    assert len(holders["Administrator"]) == 13
    assert 1_900 <= len(holders["Developer"]) <= 2_100
    assert 1_400 <= len(holders["Dashboard Viewer"]) <= 1_600
    assert 350 <= len(holders["Operator"]) <= 450
    custom = [r for r in state.roles() if r["accountId"] == state.account_id]
    tail = [len(holders.get(r["name"], ())) for r in custom]
    assert sum(1 <= n <= 20 for n in tail) >= 30
    assert state.role_by_name("Legacy Partner Role") is not None
    groups = Counter(r["accountGroupId"] for r in state.group_roles())
    sizes = sorted((groups.get(g["id"], 0) for g in state.account_groups()), reverse=True)
    assert len(sizes) == 60
    assert 2_400 <= sizes[0] <= 2_600
    assert sum(100 <= s < 1_000 for s in sizes) >= 3
    assert sum(s <= 10 for s in sizes) >= 50 and 0 in sizes
    assert 100 in sizes and 101 in sizes
    again = build_state("skewed", 0)
    assert again.user_roles() == state.user_roles() and again.group_roles() == state.group_roles()
    other = build_state("skewed", 1)
    assert len(other.user_roles()) == len(state.user_roles())
    assert [u["userId"] for u in other.users()] != [u["userId"] for u in users]
    assert ADMINISTRATOR_ID in {r["roleId"] for r in state.user_roles() if r["userId"] == state.api_user_id}
