"""The pieces under provisioning's batched reads, without a server: the client-side check of a
row against an ``or`` of userId terms, and the simulator's ``user_id_or_filter`` switch as its
query engine and command line see it."""

from __future__ import annotations

import pytest

from airflow_provider_boomi.client import QueryFilter
from airflow_provider_boomi.testing.simulator.__main__ import build_parser, settings_from_args
from airflow_provider_boomi.testing.simulator.config import SimulatorConfig
from airflow_provider_boomi.testing.simulator.errors import SimulatorApiError
from airflow_provider_boomi.testing.simulator.filters import FilterDialect, compile_query

ACCOUNT = "acme-Q7R2ZK"
READ = QueryFilter.all_of(
    QueryFilter.equals("accountId", ACCOUNT),
    QueryFilter.any_of(
        QueryFilter.equals("userId", "Dana@acme.example"), QueryFilter.equals("userId", "li@acme.example")
    ),
)


def _row(user: str, account: str = ACCOUNT) -> dict[str, str]:
    return {"accountId": account, "userId": user, "roleId": "r-1", "id": "x"}


def test_admits_compares_folded_properties_without_case() -> None:
    assert READ.admits(_row("dana@acme.example"), fold=("userId",))
    assert READ.admits(_row("LI@ACME.EXAMPLE"), fold=("userId",))
    # Exact unless told: on a case-sensitive Boomi another spelling is another user.
    assert not READ.admits(_row("dana@acme.example"))
    assert READ.admits(_row("Dana@acme.example"))
    # A user the read did not ask for, or another account's row, is outside the filter either way.
    assert not READ.admits(_row("zoe@acme.example"), fold=("userId",))
    assert not READ.admits(_row("dana@acme.example", account="other"), fold=("userId",))
    # Folding one property leaves the others exact.
    assert not READ.admits(_row("dana@acme.example", account=ACCOUNT.lower()), fold=("userId",))


def _body(*users: str) -> dict[str, object]:
    return QueryFilter.all_of(
        QueryFilter.equals("accountId", ACCOUNT),
        QueryFilter.any_of(*(QueryFilter.equals("userId", u) for u in users)),
    ).to_body()


@pytest.mark.parametrize("object_type", ["AccountUserRole", "AccountGroupUserRole"])
def test_the_switch_in_the_query_engine(object_type: str) -> None:
    rows = [_row("dana@acme.example"), _row("zoe@acme.example")]
    body = _body("dana@acme.example", "li@acme.example")
    if object_type == "AccountGroupUserRole":
        body = QueryFilter.all_of(
            QueryFilter.equals("accountGroupId", "g-1"),
            QueryFilter.any_of(
                QueryFilter.equals("userId", "dana@acme.example"),
                QueryFilter.equals("userId", "li@acme.example"),
            ),
        ).to_body()
        rows = [{**r, "accountGroupId": "g-1"} for r in rows]

    honoured = compile_query(body, object_type, FilterDialect())
    assert [honoured.matches(r) for r in rows] == [True, False]
    assert honoured.index_any == (("userId", ("dana@acme.example", "li@acme.example")),)

    ignored = compile_query(body, object_type, FilterDialect(user_id_or_filter="ignored"))
    assert [ignored.matches(r) for r in rows] == [True, True]
    assert ignored.index_any == ()  # a dropped grouping must not narrow the read through an index

    with pytest.raises(SimulatorApiError, match="userId terms cannot be grouped with 'or'") as refused:
        compile_query(body, object_type, FilterDialect(user_id_or_filter="refused"))
    assert refused.value.status == 400


def test_the_switch_leaves_other_shapes_alone() -> None:
    for answer in ("ignored", "refused"):
        dialect = FilterDialect(user_id_or_filter=answer)
        one_user = QueryFilter.all_of(
            QueryFilter.equals("accountId", ACCOUNT), QueryFilter.equals("userId", "dana@acme.example")
        )
        compiled = compile_query(one_user.to_body(), "AccountUserRole", dialect)
        assert not compiled.matches(_row("zoe@acme.example"))
        roles = QueryFilter.any_of(QueryFilter.equals("roleId", "r-1"), QueryFilter.equals("roleId", "r-2"))
        assert not compile_query(roles.to_body(), "AccountUserRole", dialect).matches(
            {**_row("a@b.c"), "roleId": "r-3"}
        )
        # Role has no userId; AccountGroup neither: the switch is about grant rows.
        names = QueryFilter.any_of(QueryFilter.equals("name", "a"), QueryFilter.equals("name", "b"))
        assert not compile_query(names.to_body(), "Role", dialect).matches({"name": "c"})


def test_the_setting_and_its_flag_come_from_the_config() -> None:
    assert SimulatorConfig().user_id_or_filter == "honoured"
    assert SimulatorConfig(user_id_or_filter="refused").filter_dialect().user_id_or_filter == "refused"
    with pytest.raises(ValueError, match="user_id_or_filter must be one of"):
        SimulatorConfig(user_id_or_filter="sometimes")
    args = build_parser().parse_args(["--user-id-or-filter", "ignored"])
    assert settings_from_args(args)["user_id_or_filter"] == "ignored"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--user-id-or-filter", "sometimes"])
