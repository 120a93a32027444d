"""The simulator over real loopback HTTP with plain ``requests`` (deliberately not the project client)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import requests

from airflow_provider_boomi.testing.simulator import BoomiSimulator
from tests.helpers import validate_against

STANDARD_USER = "fcb6e2d0-0ca8-11e2-a477-1231381987a5"
NON_CANONICAL = "fedcba98-7654-3210-fedc-ba9876543c210"
JSON_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def sim() -> Iterator[BoomiSimulator]:
    """A demo account shared by the read-only tests of this module."""
    with BoomiSimulator(profile="demo", seed=0, rate_limit=None) as s:
        yield s


@pytest.fixture
def fresh() -> Iterator[BoomiSimulator]:
    """A demo account of its own, for tests that change state."""
    with BoomiSimulator(profile="demo", seed=1, rate_limit=None) as s:
        yield s


def session(sim: BoomiSimulator, email: str | None = None, token: str | None = None) -> requests.Session:
    s = requests.Session()
    s.auth = (f"BOOMI_TOKEN.{email or sim.email}", token or sim.token)
    s.headers.update(JSON_HEADERS)
    return s


def url(sim: BoomiSimulator, tail: str, account: str | None = None) -> str:
    return f"{sim.base_url}/{account or sim.account_id}/{tail}"


def query(sim: BoomiSimulator, obj: str, body: Any = None, **kw: Any) -> requests.Response:
    data = None if body is None else json.dumps(body)
    return session(sim).post(url(sim, f"{obj}/query"), data=data, **kw)


def query_all(sim: BoomiSimulator, obj: str, body: Any = None) -> tuple[list[dict[str, Any]], list[int]]:
    """Every row of a query, following queryTokens; also the page sizes."""
    s = session(sim)
    page = query(sim, obj, body).json()
    rows, sizes = list(page["result"]), [page["numberOfResults"]]
    while "queryToken" in page:
        page = s.post(
            url(sim, f"{obj}/queryMore"), data=page["queryToken"], headers={"Content-Type": "text/plain"}
        ).json()
        rows += page["result"]
        sizes.append(page["numberOfResults"])
    return rows, sizes


def eq(prop: str, value: str) -> dict[str, Any]:
    return {"QueryFilter": {"expression": {"operator": "EQUALS", "property": prop, "argument": [value]}}}


def assert_error(response: requests.Response, status: int, *fragments: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["@type"] == "Error"
    for fragment in fragments:
        assert fragment in body["message"]


# ------------------------------------------------------------------ authentication and authorisation


def test_wrong_token_is_401_json(sim: BoomiSimulator) -> None:
    assert_error(session(sim, token="nope").post(url(sim, "Role/query")), 401, "BOOMI_TOKEN")


@pytest.mark.parametrize(
    "auth",
    [
        None,
        ("someone@else.example", "TOKEN"),
        ("boomi_token.EMAIL", "TOKEN"),
        ("BOOMI_TOKEN.x@y.example", "TOKEN"),
    ],
)
def test_bad_usernames_are_401(sim: BoomiSimulator, auth: tuple[str, str] | None) -> None:
    if auth is not None:
        auth = (auth[0].replace("EMAIL", sim.email), sim.token)
    response = requests.post(url(sim, "Role/query"), auth=auth, headers=JSON_HEADERS)
    assert_error(response, 401)


def test_email_is_compared_case_insensitively(sim: BoomiSimulator) -> None:
    assert query(sim, "Role").status_code == 200
    response = session(sim, email=sim.email.upper()).post(url(sim, "Role/query"))
    assert response.status_code == 200


def test_revoked_token_is_401() -> None:
    with BoomiSimulator(profile="empty", rate_limit=None) as sim:
        sim.set_token_valid(False)
        assert_error(query(sim, "Role"), 401)
        sim.set_token_valid(True)
        assert query(sim, "Role").status_code == 200


def test_wrong_account_in_path_is_403(sim: BoomiSimulator) -> None:
    assert_error(session(sim).post(url(sim, "Role/query", account="other-ABCDEF")), 403, "Access denied")
    assert_error(session(sim).get(url(sim, "Account/other-ABCDEF")), 403)


def test_without_api_privileges_every_call_is_403() -> None:
    with BoomiSimulator(profile="empty", rate_limit=None, api_privileges=False) as sim:
        for response in (query(sim, "Role"), session(sim).get(url(sim, f"Account/{sim.account_id}"))):
            assert_error(response, 403, "Access denied due to insufficient permissions.")


@pytest.mark.parametrize("obj", ["AccountGroup", "AccountGroupUserRole"])
def test_groups_modes_on_a_non_primary_account(obj: str) -> None:
    with BoomiSimulator(profile="non_primary", rate_limit=None) as sim:
        page = query(sim, obj).json()
        assert page == {"@type": "QueryResult", "numberOfResults": 0, "result": []}
    with BoomiSimulator(profile="non_primary", rate_limit=None, groups_mode="forbidden") as sim:
        assert_error(query(sim, obj), 403, "Access denied")
        assert query(sim, "Role").status_code == 200


def test_groups_exist_on_a_primary_account_regardless_of_mode() -> None:
    with BoomiSimulator(profile="demo", rate_limit=None, groups_mode="forbidden") as sim:
        assert query(sim, "AccountGroup").json()["numberOfResults"] == 4


# ------------------------------------------------------------------ routing and content


@pytest.mark.parametrize(
    ("method", "tail"),
    [("GET", "User"), ("POST", "Role"), ("DELETE", "Role/x"), ("GET", "AccountUserRole/x"),
     ("DELETE", "AccountGroup/x"), ("POST", "User/query"), ("PUT", "Role/query")],
)  # fmt: skip
def test_unknown_endpoints_are_404(sim: BoomiSimulator, method: str, tail: str) -> None:
    assert_error(session(sim).request(method, url(sim, tail)), 404)


def test_off_api_path_is_404(sim: BoomiSimulator) -> None:
    assert session(sim).get(sim.base_url.replace("/api/rest/v1", "/nothing")).status_code == 404


def test_every_object_carries_type(sim: BoomiSimulator) -> None:
    for obj in ("Role", "AccountUserRole", "AccountGroup", "AccountGroupUserRole"):
        page = query(sim, obj).json()
        assert page["@type"] == "QueryResult"
        assert {row["@type"] for row in page["result"]} == {obj}


def test_unicode_names_come_back_intact(sim: BoomiSimulator) -> None:
    rows = query(sim, "AccountUserRole", eq("userId", "zoe.angstrom@acme.example")).json()["result"]
    assert {(r["firstName"], r["lastName"]) for r in rows} == {("Zoë", "Ångström")}


@pytest.mark.parametrize(
    "body",
    [
        None,
        "{}",
        '{"QueryFilter": {}}',
        '{"QueryFilter": {"expression": {"operator": "and", "nestedExpression": []}}}',
        '{"@type": "RoleQueryConfig", "QueryFilter": {"@type": "X", "expression": '
        '{"@type": "Y", "operator": "and", "nestedExpression": []}}}',
    ],
)
def test_query_all_variants(sim: BoomiSimulator, body: str | None) -> None:
    response = session(sim).post(url(sim, "Role/query"), data=body)
    assert response.status_code == 200
    assert response.json()["numberOfResults"] == len(sim.state.roles())


def test_query_errors_are_400(sim: BoomiSimulator) -> None:
    assert_error(session(sim).post(url(sim, "Role/query"), data="{not json"), 400, "Malformed JSON")
    bad_prop = {
        "QueryFilter": {"expression": {"operator": "EQUALS", "property": "userId", "argument": ["x"]}}
    }
    assert_error(query(sim, "Role", bad_prop), 400, "'userId'", "name", "parentId")
    bad_arity = {
        "QueryFilter": {"expression": {"operator": "BETWEEN", "property": "name", "argument": ["a"]}}
    }
    assert_error(query(sim, "Role", bad_arity), 400, "BETWEEN", "2")


def test_filters_over_http(sim: BoomiSimulator) -> None:
    rows = query(sim, "Role", eq("name", "Standard User")).json()["result"]
    assert [r["id"] for r in rows] == [STANDARD_USER]
    like = {
        "QueryFilter": {"expression": {"operator": "LIKE", "property": "name", "argument": ["%developer"]}}
    }
    assert {r["name"] for r in query(sim, "Role", like).json()["result"]} == {"Developer", "Senior Developer"}
    nested = {"QueryFilter": {"expression": {"operator": "and", "nestedExpression": [
        {"operator": "EQUALS", "property": "userId", "argument": ["MIXED.CASE@example.com"]},
        {"operator": "or", "nestedExpression": [
            {"operator": "IS_NOT_NULL", "property": "roleId", "argument": []}]}]}}}  # fmt: skip
    rows = query(sim, "AccountUserRole", nested).json()["result"]
    assert [r["userId"] for r in rows] == ["Mixed.Case@Example.COM"]


def test_get_by_id(sim: BoomiSimulator) -> None:
    s = session(sim)
    role = s.get(url(sim, f"Role/{NON_CANONICAL}")).json()
    assert role["@type"] == "Role" and role["name"] == "Legacy Partner Role"
    assert_error(s.get(url(sim, "Role/00000000-0000-0000-0000-000000000000")), 400, "No such Role")
    group = sim.state.account_groups()[1]
    got = s.get(url(sim, f"AccountGroup/{group['id']}")).json()
    assert {k: v for k, v in got.items() if k != "Resources"} == group
    assert got["Resources"]["Resource"] and "Resources" not in query(sim, "AccountGroup").json()["result"][1]
    account = s.get(url(sim, f"Account/{sim.account_id}")).json()
    assert account["@type"] == "Account" and account["status"] == "active"
    assert account["dateCreated"] == "2021-03-04T10:11:12Z"


def test_get_assignable_roles_excludes_non_canonical_ids(sim: BoomiSimulator) -> None:
    body = session(sim).get(url(sim, "getAssignableRoles")).json()
    assert body["@type"] == ""
    ids = {r["id"] for r in body["Role"]}
    assert NON_CANONICAL not in ids and STANDARD_USER in ids
    assert len(ids) == len(sim.state.roles()) - 1


# ------------------------------------------------------------------ paging


@pytest.mark.parametrize(("group_index", "sizes"), [(1, [100]), (2, [100, 1])])
def test_paging_at_100_and_101_rows(sim: BoomiSimulator, group_index: int, sizes: list[int]) -> None:
    group_id = sim.state.account_groups()[group_index]["id"]
    first = query(sim, "AccountGroupUserRole", eq("accountGroupId", group_id)).json()
    assert ("queryToken" in first) == (len(sizes) > 1)
    rows, got_sizes = query_all(sim, "AccountGroupUserRole", eq("accountGroupId", group_id))
    assert got_sizes == sizes
    assert len({r["id"] for r in rows}) == sum(sizes)


def test_paging_250_rows_and_single_use_tokens() -> None:
    with BoomiSimulator(profile="empty", rate_limit=None) as sim:
        for i in range(250):
            sim.state.grant_role(f"user{i:03d}@paging.example", STANDARD_USER)
        body = eq("roleId", STANDARD_USER)
        rows, sizes = query_all(sim, "AccountUserRole", body)
        assert sizes == [100, 100, 50]
        assert [r["userId"] for r in rows] == [f"user{i:03d}@paging.example" for i in range(250)]
        first = query(sim, "AccountUserRole", body).json()
        token = first["queryToken"]
        assert len(token) > 40
        s = session(sim)
        # The JSON content type and a quoted token are accepted too.
        second = s.post(url(sim, "AccountUserRole/queryMore"), data=json.dumps(token))
        assert second.status_code == 200 and second.json()["numberOfResults"] == 100
        assert_error(s.post(url(sim, "AccountUserRole/queryMore"), data=token), 400, "Invalid query token")
        assert_error(s.post(url(sim, "AccountUserRole/queryMore"), data="bogus"), 400, "Invalid query token")
        assert_error(
            s.post(url(sim, "Role/queryMore"), data=second.json()["queryToken"]), 400, "Invalid query"
        )


def test_paging_reads_a_snapshot_taken_at_query_time() -> None:
    with BoomiSimulator(profile="empty", rate_limit=None) as sim:
        for i in range(150):
            sim.state.grant_role(f"user{i:03d}@paging.example", STANDARD_USER)
        first = query(sim, "AccountUserRole").json()
        sim.state.grant_role("late@paging.example", STANDARD_USER)
        sim.state.revoke_role("user149@paging.example", STANDARD_USER)
        rest = session(sim).post(url(sim, "AccountUserRole/queryMore"), data=first["queryToken"]).json()
        assert rest["result"][-1]["userId"] == "user149@paging.example"
        assert first["numberOfResults"] + rest["numberOfResults"] == 151


# ------------------------------------------------------------------ create and delete


def test_create_invites_then_delete_last_role_removes_from_account(fresh: BoomiSimulator) -> None:
    s = session(fresh)
    body = {"@type": "AccountUserRole", "accountId": fresh.account_id, "userId": "dana.lee@new.example",
            "roleId": STANDARD_USER, "firstName": "Dana", "lastName": "Lee", "notifyUser": True}  # fmt: skip
    created = s.post(url(fresh, "AccountUserRole"), json=body)
    assert created.status_code == 200
    row = created.json()
    assert row["@type"] == "AccountUserRole" and len(row["id"]) >= 60
    assert (row["firstName"], row["lastName"], row["accountId"]) == ("Dana", "Lee", fresh.account_id)
    user = next(u for u in fresh.state.users() if u["userId"] == "dana.lee@new.example")
    assert user["inAccount"] and not user["hasLoggedIn"]
    assert_error(s.post(url(fresh, "AccountUserRole"), json=body), 400, "already has role")
    deleted = s.delete(url(fresh, f"AccountUserRole/{row['id']}"), json={})
    assert deleted.status_code == 200 and deleted.content == b""
    assert "json" not in deleted.headers.get("Content-Type", "")
    assert not next(u for u in fresh.state.users() if u["userId"] == "dana.lee@new.example")["inAccount"]
    assert_error(s.delete(url(fresh, f"AccountUserRole/{row['id']}")), 400, "No such AccountUserRole")


def test_create_without_names_gets_defaults_and_existing_user_keeps_names(fresh: BoomiSimulator) -> None:
    s = session(fresh)
    row = s.post(
        url(fresh, "AccountUserRole"), json={"userId": "kim.ng@new.example", "roleId": STANDARD_USER}
    )
    assert (row.json()["firstName"], row.json()["lastName"]) == ("Kim", "Ng")
    auditor = fresh.state.role_by_name("Auditor")["id"]  # type: ignore[index]
    body = {"userId": "ONLY.STANDARD@acme.example", "roleId": auditor, "firstName": "X", "lastName": "Y"}
    row = s.post(url(fresh, "AccountUserRole"), json=body).json()
    assert (row["userId"], row["firstName"]) == ("only.standard@acme.example", "Olga")


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({"roleId": STANDARD_USER}, ("userId",)),
        ({"userId": "a@b.example"}, ("roleId",)),
        ({"userId": "not-an-email", "roleId": STANDARD_USER}, ("not a valid email",)),
        ({"userId": "a@b.example", "roleId": "01234567-89ab-cdef-0123-456789abcdef"}, ("does not exist",)),
        ({"userId": "a@b.example", "roleId": NON_CANONICAL}, ("cannot be assigned through the API",)),
        ({"userId": "a@b.example", "roleId": STANDARD_USER, "accountId": "other-ABCDEF"}, ("accountId",)),
    ],
)
def test_create_user_role_refusals(
    fresh: BoomiSimulator, body: dict[str, Any], fragments: tuple[str]
) -> None:
    assert_error(session(fresh).post(url(fresh, "AccountUserRole"), json=body), 400, *fragments)


def test_group_role_create_and_delete(fresh: BoomiSimulator) -> None:
    s = session(fresh)
    group_id = fresh.state.account_groups()[3]["id"]
    never = {"accountGroupId": group_id, "userId": "new.hire@acme.example", "roleId": STANDARD_USER}
    assert_error(s.post(url(fresh, "AccountGroupUserRole"), json=never), 400, "must log in to the platform")
    ok = {"accountGroupId": group_id, "userId": "jose.nino@acme.example", "roleId": STANDARD_USER,
          "notifyUser": False}  # fmt: skip
    row = s.post(url(fresh, "AccountGroupUserRole"), json=ok).json()
    assert row["@type"] == "AccountGroupUserRole" and "accountId" not in row
    assert (row["firstName"], row["lastName"]) == ("José", "Niño")
    assert_error(s.post(url(fresh, "AccountGroupUserRole"), json=ok), 400, "already has role")
    missing = dict(ok, accountGroupId="no-such-group")
    assert_error(s.post(url(fresh, "AccountGroupUserRole"), json=missing), 400, "does not exist")
    deleted = s.delete(url(fresh, f"AccountGroupUserRole/{row['id']}"))
    assert deleted.status_code == 200 and deleted.content == b"" and "Content-Type" not in deleted.headers
    assert_error(s.delete(url(fresh, f"AccountGroupUserRole/{row['id']}")), 400, "No such")


def test_chunked_request_body_is_read(sim: BoomiSimulator) -> None:
    body = json.dumps(eq("name", "Support")).encode()
    response = session(sim).post(url(sim, "Role/query"), data=iter([body[:10], body[10:]]))
    assert response.status_code == 200
    assert [r["name"] for r in response.json()["result"]] == ["Support"]
    assert query(sim, "Role").status_code == 200  # the connection is still in step


def test_xml_is_refused(sim: BoomiSimulator) -> None:
    response = session(sim).post(
        url(sim, "Role/query"), data="<x/>", headers={"Content-Type": "application/xml"}
    )
    assert_error(response, 415, "JSON")


# ------------------------------------------------------------------ shapes against Boomi's schema


def test_responses_match_boomis_schemas(sim: BoomiSimulator, openapi_spec: dict[str, Any]) -> None:
    s = session(sim)
    for obj in ("Role", "AccountUserRole", "AccountGroup", "AccountGroupUserRole"):
        page = query(sim, obj).json()
        validate_against(openapi_spec, f"{obj}QueryResponse", page)
        for row in page["result"]:
            validate_against(openapi_spec, obj, row)
    group = s.get(url(sim, f"AccountGroup/{sim.state.account_groups()[0]['id']}")).json()
    validate_against(openapi_spec, "AccountGroup", group)
    validate_against(openapi_spec, "Role", s.get(url(sim, f"Role/{STANDARD_USER}")).json())
    validate_against(openapi_spec, "Account", s.get(url(sim, f"Account/{sim.account_id}")).json())
    validate_against(openapi_spec, "Roles", s.get(url(sim, "getAssignableRoles")).json())


def test_schema_validation_would_catch_a_wrong_shape(openapi_spec: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate_against(openapi_spec, "AccountGroup", {"defaultGroup": "true"})


def test_create_responses_match_boomis_schemas(fresh: BoomiSimulator, openapi_spec: dict[str, Any]) -> None:
    s = session(fresh)
    aur = s.post(url(fresh, "AccountUserRole"), json={"userId": "z@z.example", "roleId": STANDARD_USER})
    validate_against(openapi_spec, "AccountUserRole", aur.json())
    group_id = fresh.state.account_groups()[0]["id"]
    body = {"accountGroupId": group_id, "userId": "li.lei@acme.example", "roleId": STANDARD_USER}
    created = s.post(url(fresh, "AccountGroupUserRole"), json=body).json()
    validate_against(openapi_spec, "AccountGroupUserRole", created)


# ------------------------------------------------------------------ records and connection


def test_requests_are_recorded(fresh: BoomiSimulator) -> None:
    fresh.clear_requests()
    query(fresh, "Role", eq("name", "Support"))
    session(fresh).get(url(fresh, "getAssignableRoles"))
    first, second = fresh.requests
    assert (first.method, first.object_type, first.operation, first.status) == ("POST", "Role", "query", 200)
    assert first.request_body == eq("name", "Support") and first.fault is None
    assert second.operation == "getAssignableRoles" and second.seq == first.seq + 1
    assert second.time >= first.time


def test_connection_forms(sim: BoomiSimulator) -> None:
    conn = json.loads(sim.connection_json(provisioning_enabled=True))
    assert conn == {
        "conn_type": "boomi",
        "host": sim.base_url,
        "login": sim.email,
        "password": sim.token,
        "extra": {"account_id": sim.account_id, "provisioning_enabled": True},
    }
    assert sim.base_url.startswith("http://127.0.0.1:") and sim.base_url.endswith("/api/rest/v1")
    assert sim.connection_uri().startswith("boomi://")


def test_stop_is_idempotent_and_frees_the_port() -> None:
    sim = BoomiSimulator(profile="empty", rate_limit=None).start()
    base = sim.base_url
    sim.stop()
    sim.stop()
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{base}/{sim.account_id}/Role/query", timeout=2)
