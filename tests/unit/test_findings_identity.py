"""The identity source: reading CSV, Parquet and frames as untrusted input, and matching rules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_boomi.findings import IdentitySourceError, load_people, match_users
from airflow_provider_boomi.findings import identity as identity_module


def _csv(tmp_path: Path, text: str, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_is_read_with_its_statuses_kinds_and_dates(tmp_path: Path) -> None:
    people = load_people(
        _csv(
            tmp_path,
            "Email,Status,End Date,Manager-Email,kind,owner_email,employee_id\n"
            " Dana.Lee@Acme.example ,Terminated,2026-01-31,boss@acme.example,,,E1\n"
            "ops.bot@acme.example,active,,,Service Account,dana.lee@acme.example,\n"
            "\n"
            "eli@acme.example,On Leave,2026-03-01T23:30:00-02:00,,,,\n",
        )
    )
    rows = people.table.to_pylist()
    assert [r["source_row"] for r in rows] == [2, 3, 5]
    assert rows[0]["email"] == "Dana.Lee@Acme.example"
    assert [r["status"] for r in rows] == ["ended", "active", "leave"]
    assert [r["kind"] for r in rows] == ["person", "service", "person"]
    assert rows[0]["end_date"] == date(2026, 1, 31)
    assert rows[2]["end_date"] == date(2026, 3, 2)  # an aware time's UTC day
    assert rows[0]["manager_email"] == "boss@acme.example" and rows[0]["employee_id"] == "E1"


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_the_delimiter_is_found_from_the_header(tmp_path: Path, delimiter: str) -> None:
    text = delimiter.join(["email", "status", "department"]) + "\n"
    text += delimiter.join(["a@acme.example", "active", "Sales, EMEA"]) + "\n"
    people = load_people(_csv(tmp_path, text))
    assert people.table.column("department").to_pylist() == ["Sales, EMEA"]


def test_every_problem_is_reported_with_its_line_and_column(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "email,status,end_date,kind,owner_email\n"
        "ok@acme.example,active,,,\n"
        "not-an-email,active,,,\n"
        "b@acme.example,terminatd,,,\n"
        "c@acme.example,active,31/01/2026,,\n"
        "d@acme.example,active,,robot,\n"
        "e@acme.example,active,,person,boss@acme.example\n"
        ",active,,,\n"
        "f@acme.example,,,,\n"
        "g@acme.example,active,,\n",
    )
    with pytest.raises(IdentitySourceError) as err:
        load_people(path)
    message = str(err.value)
    for expected in (
        "line 3, column 'email': 'not-an-email' is not an email address",
        "line 4, column 'status': 'terminatd' is not a known status",
        "line 5, column 'end_date': '31/01/2026' is not a date; write it as YYYY-MM-DD",
        "line 6, column 'kind': 'robot' is not a known kind",
        "line 7, column 'owner_email': only service accounts have an owner",
        "line 8, column 'email': empty",
        "line 9, column 'status': empty",
        "line 10: 4 cells, but the header has 5",
    ):
        assert expected in message
    assert len(err.value.problems) == 8


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("email,state\n", "unknown column(s) 'state'"),
        ("email,department\n", "missing required column(s) 'status'"),
        ("email,status,Email\n", "column 'email' appears 2 times"),
    ],
)
def test_columns_are_checked_before_any_row(tmp_path: Path, header: str, problem: str) -> None:
    with pytest.raises(IdentitySourceError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        load_people(_csv(tmp_path, header + "a@acme.example,active,x\n"))


def test_hostile_files_are_refused_before_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("email,status\njosé@acme.example,active\n".encode("latin-1"))
    with pytest.raises(IdentitySourceError, match="not UTF-8"):
        load_people(latin1)
    with pytest.raises(IdentitySourceError, match="NUL bytes"):
        load_people(_csv(tmp_path, "email,status\na@acme.example,active\x00\n"))
    with pytest.raises(IdentitySourceError, match=r"must end in \.csv or \.parquet"):
        load_people(_csv(tmp_path, "email,status\n", name="people.xlsx"))
    with pytest.raises(IdentitySourceError, match="does not exist"):
        load_people(tmp_path / "missing.csv")
    with pytest.raises(IdentitySourceError, match="longer than 1000 characters"):
        load_people(_csv(tmp_path, f"email,status,department\na@acme.example,active,{'x' * 1001}\n"))
    formula = load_people(_csv(tmp_path, "email,status,department\na@acme.example,active,=HYPERLINK(1)\n"))
    assert formula.table.column("department").to_pylist() == ["=HYPERLINK(1)"]  # kept as text, never run
    monkeypatch.setattr(identity_module, "MAX_PEOPLE_BYTES", 40)
    with pytest.raises(IdentitySourceError, match="larger than"):
        load_people(_csv(tmp_path, "email,status\n" + "a@acme.example,active\n" * 3))
    monkeypatch.setattr(identity_module, "MAX_PEOPLE_BYTES", 10_000)
    monkeypatch.setattr(identity_module, "MAX_PEOPLE_ROWS", 2)
    with pytest.raises(IdentitySourceError, match="more than 2 rows"):
        load_people(_csv(tmp_path, "email,status\n" + "a@acme.example,active\n" * 3))


def test_parquet_and_frames_read_typed_values(tmp_path: Path) -> None:
    table = pa.table(
        {
            "email": ["a@acme.example", "b@acme.example"],
            "status": ["active", "ended"],
            "employee_id": pa.array([17, None], pa.int64()),
            "end_date": pa.array([None, date(2026, 2, 1)], pa.date32()),
        }
    )
    pq.write_table(table, tmp_path / "people.parquet")
    from_parquet = load_people(tmp_path / "people.parquet").table
    assert from_parquet.column("employee_id").to_pylist() == ["17", None]
    assert from_parquet.column("end_date").to_pylist() == [None, date(2026, 2, 1)]
    frame = pd.DataFrame(
        {
            "email": ["a@acme.example", "b@acme.example"],
            "status": ["active", None],
            "end_date": [pd.NaT, pd.Timestamp("2026-02-01T10:00:00Z")],
        }
    )
    with pytest.raises(IdentitySourceError, match="row 2, column 'status': empty"):
        load_people(frame)
    frame["status"] = ["active", "ended"]
    assert load_people(frame).table.column("end_date").to_pylist() == [None, date(2026, 2, 1)]
    with pytest.raises(IdentitySourceError, match="row 1, column 'department': expected text, got int"):
        load_people(pd.DataFrame({"email": ["a@acme.example"], "status": ["active"], "department": [5]}))


def _people(*rows: dict[str, str]) -> object:
    return load_people(pd.DataFrame([{"status": "active", "federation_id": None} | r for r in rows]))


def test_matching_is_case_insensitive_and_never_guesses() -> None:
    people = _people(
        {"email": "Dana.Lee@acme.example"},
        {"email": "twin@acme.example"},
        {"email": "TWIN@acme.example "},
        {"email": "alias@corp.example", "federation_id": "SSO-7"},
        {"email": "eve@acme.example"},
        {"email": "other@acme.example", "federation_id": "EVE"},
    )
    matches = match_users(
        [
            "dana.lee@ACME.example",
            "twin@acme.example",
            "sso@acme.example",
            "eve@acme.example",
            "nobody@acme.example",
        ],
        people,  # type: ignore[arg-type]
        {"sso@acme.example": " sso-7 ", "eve@acme.example": "eve", "nobody@acme.example": "  "},
    )
    dana = matches["dana.lee@ACME.example"]
    assert (dana.outcome, dana.matched_by, dana.person.source_row) == ("matched", "email", 1)  # type: ignore[union-attr]
    twin = matches["twin@acme.example"]
    assert twin.outcome == "ambiguous" and twin.person is None
    assert [p.source_row for p, _by in twin.candidates] == [2, 3]
    sso = matches["sso@acme.example"]
    assert (sso.outcome, sso.matched_by, sso.federation_id) == ("matched", "federation_id", "sso-7")
    eve = matches["eve@acme.example"]
    assert eve.outcome == "ambiguous"
    assert [by for _p, by in eve.candidates] == ["email", "federation_id"]
    assert matches["nobody@acme.example"].outcome == "unmatched"
    assert matches["nobody@acme.example"].federation_id is None


def test_one_row_matched_by_both_keys_is_one_match() -> None:
    people = _people({"email": "a@acme.example", "federation_id": "A-1"})
    match = match_users(["a@acme.example"], people, {"a@acme.example": "a-1"})["a@acme.example"]  # type: ignore[arg-type]
    assert (match.outcome, match.matched_by) == ("matched", "email+federation_id")


def test_has_ended_is_status_or_an_end_date_on_or_before_the_day() -> None:
    people = load_people(
        pd.DataFrame(
            {
                "email": ["a@x.example", "b@x.example", "c@x.example", "d@x.example"],
                "status": ["ended", "active", "active", "active"],
                "end_date": [None, "2026-05-01", "2026-05-02", None],
            }
        )
    )
    day = datetime(2026, 5, 1, 12, tzinfo=UTC).date()
    assert [p.has_ended(day) for p in people] == [True, True, False, False]
