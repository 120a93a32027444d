"""The identity source: a people table from HR or the IdP, and matching Boomi users to it.

The table comes from a CSV file, a Parquet file, a pandas frame or an Arrow table
(:func:`load_people`), or from a SQL query through a DB-API connection or SQLAlchemy engine
(:func:`people_from_sql`). It is untrusted input: its size is bounded before parsing, every row
is validated, and every problem is reported together, each naming its row and column, so the
export can be fixed in one pass. Nothing in it is ever evaluated; text is kept as written (the
reports that show it neutralise it).

Columns (header names match case-insensitively; spaces and dashes read as ``_``):

===============  ========  ==================================================================
column           required  meaning
===============  ========  ==================================================================
email            yes       the person's email, as Boomi user ids are
status           yes       active, leave, pending or ended (words accepted: STATUS_WORDS)
employee_id      no        HR's id of the person
end_date         no        last day of employment (ISO date ``YYYY-MM-DD``)
manager_email    no        who reviews the person's access
department       no        the person's department
federation_id    no        the person's id at the IdP, as Boomi's SSO federation id
kind             no        person (default) or service (a service account)
owner_email      no        who owns a service account (service rows only)
===============  ========  ==================================================================

Matching (:func:`match_users`): a Boomi user matches every row whose email equals the user id
once both are stripped and case-folded, and every row whose federation id equals the user's
federation id the same way (when both are known). One row matched (by either key or both) is a
match; none is ``unmatched``; more than one, whether two rows share an email or the two keys
point at different rows, is ``ambiguous`` and is never resolved by guessing.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_boomi.access.validation import check_email
from airflow_provider_boomi.dataset.paths import resolve_location

__all__ = [
    "KIND_WORDS",
    "MAX_CELL_CHARS",
    "MAX_PEOPLE_BYTES",
    "MAX_PEOPLE_ROWS",
    "OPTIONAL_COLUMNS",
    "PEOPLE_SCHEMA",
    "REQUIRED_COLUMNS",
    "STATUSES",
    "STATUS_WORDS",
    "IdentityMatch",
    "IdentitySourceError",
    "People",
    "Person",
    "identity_key",
    "load_people",
    "match_users",
    "people_from_sql",
]

REQUIRED_COLUMNS: tuple[str, ...] = ("email", "status")
"""Columns every identity source must have."""
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "employee_id",
    "end_date",
    "manager_email",
    "department",
    "federation_id",
    "kind",
    "owner_email",
)
"""Columns an identity source may have; an absent one is null on every row."""
_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

STATUSES: tuple[str, ...] = ("active", "leave", "pending", "ended")
"""The statuses a person can have once read."""

STATUS_WORDS: Mapping[str, str] = MappingProxyType(
    {
        **dict.fromkeys(("active", "employed", "current", "enabled"), "active"),
        **dict.fromkeys(("leave", "on_leave", "loa", "suspended"), "leave"),
        **dict.fromkeys(("pending", "pre_hire", "prehire", "onboarding"), "pending"),
        **dict.fromkeys(
            ("ended", "terminated", "inactive", "left", "leaver", "disabled", "deactivated", "offboarded"),
            "ended",
        ),
    }
)
"""Words accepted in the ``status`` column (any case; spaces and dashes read as ``_``) and the
status each means. HR systems and IdPs spell them differently; anything else is refused rather
than guessed, because a misread ``ended`` would hide a leaver."""

KIND_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "person": "person",
        "human": "person",
        "employee": "person",
        "service": "service",
        "service_account": "service",
    }
)
"""Words accepted in the ``kind`` column; blank means ``person``."""

MAX_PEOPLE_BYTES = 64 * 1024 * 1024
"""Largest identity source file read (64 MiB: a million people fit)."""
MAX_PEOPLE_ROWS = 1_000_000
"""Most rows read from an identity source."""
MAX_CELL_CHARS = 1_000
"""Longest cell accepted."""
_MAX_PROBLEMS = 50  # reported at once; beyond that the file is most likely of another shape

PEOPLE_SCHEMA = pa.schema(
    [
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("email", pa.string(), nullable=False),
        pa.field("employee_id", pa.string()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("end_date", pa.date32()),
        pa.field("manager_email", pa.string()),
        pa.field("department", pa.string()),
        pa.field("federation_id", pa.string()),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("owner_email", pa.string()),
    ]
)
"""The validated people table (:attr:`People.table`); ``source_row`` is the CSV line, or the
1-based row of a Parquet file, frame or query result."""


class IdentitySourceError(ValueError):
    """The identity source cannot be used; the message lists every problem with row and column."""

    def __init__(self, source: str, problems: Sequence[str], more: int = 0) -> None:
        self.source = source
        self.problems = list(problems)
        tail = f"; and {more} more" if more else ""
        super().__init__(
            f"identity source {source}: {len(self.problems) + more} problem(s): "
            + "; ".join(self.problems)
            + tail
            + ". Fix the export (or the query) and run again."
        )


def identity_key(value: str) -> str:
    """The form two identifiers are compared in: surrounding spaces removed, case-folded.

    Applied to emails and federation ids alike, on both sides of a match.
    """
    return value.strip().casefold()


@dataclass(frozen=True)
class Person:
    """One validated row of the identity source.

    :param source_row: where the row is in the source (CSV line, else 1-based row).
    :param email: the email as written (spaces around it removed).
    :param status: one of :data:`STATUSES`.
    :param kind: ``person`` or ``service``.
    """

    source_row: int
    email: str
    employee_id: str | None
    status: str
    end_date: date | None
    manager_email: str | None
    department: str | None
    federation_id: str | None
    kind: str
    owner_email: str | None

    def has_ended(self, as_of: date) -> bool:
        """Whether the row says the person has left by ``as_of``: status ``ended``, or an end
        date on or before ``as_of``."""
        return self.status == "ended" or (self.end_date is not None and self.end_date <= as_of)

    def as_row(self) -> dict[str, Any]:
        """The row of :data:`PEOPLE_SCHEMA`."""
        return {name: getattr(self, name) for name in PEOPLE_SCHEMA.names}


class People:
    """A validated identity source, indexed for matching.

    :param persons: the validated rows.
    :param source: what the rows were read from, for messages and the findings summary.
    """

    def __init__(self, persons: Iterable[Person], source: str) -> None:
        self.persons: tuple[Person, ...] = tuple(persons)
        self.source = source
        self._by_email: dict[str, list[Person]] = {}
        self._by_federation: dict[str, list[Person]] = {}
        for person in self.persons:
            self._by_email.setdefault(identity_key(person.email), []).append(person)
            if person.federation_id:
                self._by_federation.setdefault(identity_key(person.federation_id), []).append(person)

    def __len__(self) -> int:
        return len(self.persons)

    def __iter__(self) -> Iterator[Person]:
        return iter(self.persons)

    def __repr__(self) -> str:
        return f"People({len(self.persons)} rows from {self.source})"

    @property
    def table(self) -> pa.Table:
        """The rows as an Arrow table of :data:`PEOPLE_SCHEMA`."""
        return pa.Table.from_pylist([p.as_row() for p in self.persons], schema=PEOPLE_SCHEMA)

    def by_email(self, email: str) -> list[Person]:
        """Rows whose email equals ``email`` (compared with :func:`identity_key`)."""
        return list(self._by_email.get(identity_key(email), ()))

    def by_federation_id(self, federation_id: str) -> list[Person]:
        """Rows whose federation id equals ``federation_id`` (compared with :func:`identity_key`)."""
        return list(self._by_federation.get(identity_key(federation_id), ()))


@dataclass(frozen=True)
class IdentityMatch:
    """Who a Boomi user is in the identity source.

    :param user_id: the Boomi userId.
    :param outcome: ``matched`` (exactly one row), ``unmatched`` (none) or ``ambiguous`` (more).
    :param person: the row, when matched.
    :param matched_by: ``email``, ``federation_id`` or ``email+federation_id`` when matched.
    :param candidates: every row matched, each with the key(s) it matched by.
    :param federation_id: the user's federation id, when known.
    """

    user_id: str
    outcome: Literal["matched", "unmatched", "ambiguous"]
    person: Person | None
    matched_by: str | None
    candidates: tuple[tuple[Person, str], ...]
    federation_id: str | None


def match_users(
    user_ids: Iterable[str], people: People, federation: Mapping[str, str | None] | None = None
) -> dict[str, IdentityMatch]:
    """Match Boomi users to the identity source (rules in the module docstring).

    :param user_ids: Boomi userIds (their login emails).
    :param people: the identity source.
    :param federation: userId -> federation id, when federation ids were read; a missing or
        blank one matches by email only.
    :returns: userId -> :class:`IdentityMatch`.
    """
    result: dict[str, IdentityMatch] = {}
    for user_id in user_ids:
        fed = (federation or {}).get(user_id)
        fed = fed.strip() if isinstance(fed, str) and fed.strip() else None
        keys: dict[int, list[str]] = {}
        found: dict[int, Person] = {}
        for person in people.by_email(user_id):
            found[id(person)] = person
            keys.setdefault(id(person), []).append("email")
        if fed is not None:
            for person in people.by_federation_id(fed):
                found[id(person)] = person
                keys.setdefault(id(person), []).append("federation_id")
        candidates = tuple(
            (person, "+".join(keys[id(person)]))
            for person in sorted(found.values(), key=lambda p: p.source_row)
        )
        if len(candidates) == 1:
            person, by = candidates[0]
            result[user_id] = IdentityMatch(user_id, "matched", person, by, candidates, fed)
        else:
            outcome: Literal["unmatched", "ambiguous"] = "unmatched" if not candidates else "ambiguous"
            result[user_id] = IdentityMatch(user_id, outcome, None, None, candidates, fed)
    return result


# --- reading ---------------------------------------------------------------------------------------


def _normalise_header(name: object) -> str:
    return str(name).strip().casefold().replace(" ", "_").replace("-", "_")


def _missing(value: object) -> bool:
    """None, NaN, and pandas' NA and NaT (NaT is a datetime, so this comes before any date test)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return not value.strip()
    pandas = sys.modules.get("pandas")
    if pandas is not None and not isinstance(value, bytes | list | tuple | dict):
        try:
            return bool(pandas.isna(value))
        except (TypeError, ValueError):
            return False
    return False


class _Rows:
    """Validates rows one by one, collecting problems instead of stopping at the first."""

    def __init__(self, source: str, columns: Sequence[object], where: str) -> None:
        self.source = source
        self.where = where  # "line" (CSV) or "row"
        self.problems: list[str] = []
        self.more = 0
        names = [_normalise_header(c) for c in columns]
        seen: dict[str, int] = {}
        for name in names:
            seen[name] = seen.get(name, 0) + 1
        for name, count in seen.items():
            if count > 1:
                self.problem(f"column {name!r} appears {count} times; keep one")
        unknown = [n for n in names if n not in _COLUMNS]
        if unknown:
            self.problem(
                f"unknown column(s) {', '.join(map(repr, unknown))}; the columns are "
                f"{', '.join(_COLUMNS)} (email and status required)"
            )
        missing = [c for c in REQUIRED_COLUMNS if c not in names]
        if missing:
            self.problem(f"missing required column(s) {', '.join(map(repr, missing))}")
        self.names = names
        self.persons: list[Person] = []

    def problem(self, text: str) -> None:
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(text)
        else:
            self.more += 1

    def fail_if_any(self) -> None:
        if self.problems:
            raise IdentitySourceError(self.source, self.problems, self.more)

    def add(self, number: int, values: Sequence[object]) -> None:
        row = dict(zip(self.names, values, strict=True))
        at = f"{self.where} {number}"
        problems_before = len(self.problems) + self.more

        def text(column: str) -> str | None:
            value = row.get(column)
            if _missing(value):
                return None
            if (
                column == "employee_id"
                and isinstance(value, numbers.Integral)
                and not isinstance(value, bool)
            ):
                value = str(value)  # numeric ids from Parquet or SQL are ids all the same
            if not isinstance(value, str):
                self.problem(f"{at}, column {column!r}: expected text, got {type(value).__name__} {value!r}")
                return None
            if len(value) > MAX_CELL_CHARS:
                self.problem(f"{at}, column {column!r}: longer than {MAX_CELL_CHARS} characters")
                return None
            return value.strip()

        def email(column: str) -> str | None:
            value = text(column)
            if value is not None and check_email(value) is not None:
                self.problem(
                    f"{at}, column {column!r}: {value!r} is not an email address "
                    "(one '@' and a dotted domain, e.g. dana.lee@acme.example)"
                )
                return None
            return value

        def word(column: str, words: Mapping[str, str], default: str | None) -> str | None:
            value = text(column)
            if value is None:
                if default is None:
                    self.problem(f"{at}, column {column!r}: empty; give one of {', '.join(sorted(words))}")
                return default
            meaning = words.get(_normalise_header(value))
            if meaning is None:
                self.problem(
                    f"{at}, column {column!r}: {value!r} is not a known {column}; "
                    f"use one of {', '.join(sorted(words))}"
                )
            return meaning

        address = email("email")
        if address is None and "email" in self.names and _missing(row.get("email")):
            self.problem(f"{at}, column 'email': empty; every row needs the person's email")
        status = word("status", STATUS_WORDS, None)
        kind = word("kind", KIND_WORDS, "person")
        owner = email("owner_email")
        if owner is not None and kind == "person":
            self.problem(
                f"{at}, column 'owner_email': only service accounts have an owner; "
                "set kind to service or clear the owner"
            )
        person = Person(
            source_row=number,
            email=address or "",
            employee_id=text("employee_id"),
            status=status or "",
            end_date=self._date(row.get("end_date"), at),
            manager_email=email("manager_email"),
            department=text("department"),
            federation_id=text("federation_id"),
            kind=kind or "",
            owner_email=owner,
        )
        if len(self.problems) + self.more == problems_before:
            self.persons.append(person)

    def _date(self, value: object, at: str) -> date | None:
        if _missing(value):
            return None
        if isinstance(value, datetime):
            # An aware time is a moment: its UTC day is the day. A naive one is taken as written.
            return value.astimezone(UTC).date() if value.tzinfo else value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str) and len(value) <= MAX_CELL_CHARS:
            text = value.strip()
            try:
                return date.fromisoformat(text)
            except ValueError:
                pass
            try:
                return self._date(datetime.fromisoformat(text), at)
            except ValueError:
                pass
        self.problem(f"{at}, column 'end_date': {value!r} is not a date; write it as YYYY-MM-DD")
        return None

    def people(self) -> People:
        self.fail_if_any()
        return People(self.persons, self.source)


def _read_bounded(fs: Any, path: str, source: str) -> bytes:
    try:
        with fs.open(path, "rb") as handle:
            data = handle.read(MAX_PEOPLE_BYTES + 1)
    except FileNotFoundError:
        raise IdentitySourceError(source, ["the file does not exist"]) from None
    if len(data) > MAX_PEOPLE_BYTES:
        raise IdentitySourceError(
            source, [f"the file is larger than {MAX_PEOPLE_BYTES // (1024 * 1024)} MiB; split it by account"]
        )
    return data


def _sniff_delimiter(text: str) -> str:
    """The delimiter that makes the most known column names of the header line (',' on a tie)."""
    header = text.split("\n", 1)[0]
    best, best_known = ",", -1
    for candidate in (",", ";", "\t", "|"):
        cells = next(csv.reader([header], delimiter=candidate), [])
        known = sum(_normalise_header(c) in _COLUMNS for c in cells)
        if known > best_known:
            best, best_known = candidate, known
    return best


def _people_from_csv(data: bytes, source: str, delimiter: str | None) -> People:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IdentitySourceError(
            source, [f"not UTF-8 text (byte {exc.start}); export the file as UTF-8 CSV"]
        ) from None
    if "\x00" in text:
        raise IdentitySourceError(source, ["holds NUL bytes: not a CSV file"])
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter or _sniff_delimiter(text), strict=True
    )
    try:
        header = next(reader, None)
        if header is None:
            raise IdentitySourceError(source, ["the file is empty; the first line must name the columns"])
        rows = _Rows(source, header, "line")
        rows.fail_if_any()
        count = 0
        for cells in reader:
            if not cells or all(not c.strip() for c in cells):
                continue  # blank lines, as spreadsheets leave at the end
            count += 1
            if count > MAX_PEOPLE_ROWS:
                raise IdentitySourceError(source, [f"more than {MAX_PEOPLE_ROWS} rows"])
            if len(cells) != len(header):
                rows.problem(f"line {reader.line_num}: {len(cells)} cells, but the header has {len(header)}")
                continue
            rows.add(reader.line_num, cells)
    except csv.Error as exc:
        raise IdentitySourceError(source, [f"line {reader.line_num}: not valid CSV ({exc})"]) from None
    return rows.people()


def _people_from_columns(names: Sequence[object], records: Iterable[Sequence[object]], source: str) -> People:
    rows = _Rows(source, names, "row")
    rows.fail_if_any()
    for number, values in enumerate(records, start=1):
        if number > MAX_PEOPLE_ROWS:
            raise IdentitySourceError(source, [f"more than {MAX_PEOPLE_ROWS} rows"])
        rows.add(number, values)
    return rows.people()


def _people_from_arrow(table: pa.Table, source: str) -> People:
    if table.num_rows > MAX_PEOPLE_ROWS:
        raise IdentitySourceError(source, [f"{table.num_rows} rows, more than {MAX_PEOPLE_ROWS}"])
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return _people_from_columns(table.column_names, zip(*columns, strict=True), source)


def load_people(
    source: Any,
    *,
    storage_options: dict[str, Any] | None = None,
    delimiter: str | None = None,
) -> People:
    """Read and validate an identity source.

    :param source: a ``.csv`` or ``.parquet`` file (local path, fsspec URL or
        ``ObjectStoragePath``), a pandas ``DataFrame``, a ``pyarrow.Table``, or :class:`People`
        (returned as it is).
    :param storage_options: fsspec options for a URL.
    :param delimiter: the CSV delimiter; by default the one of ``, ; tab |`` that makes the
        header line name the most known columns.
    :raises IdentitySourceError: the source is too large, not readable, or has invalid rows;
        the message names every problem with its row (CSV: line) and column.
    """
    if isinstance(source, People):
        return source
    if isinstance(source, pa.Table):
        return _people_from_arrow(source, "Arrow table")
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(source, pandas.DataFrame):
        if len(source) > MAX_PEOPLE_ROWS:
            raise IdentitySourceError("DataFrame", [f"{len(source)} rows, more than {MAX_PEOPLE_ROWS}"])
        return _people_from_columns(
            list(source.columns), source.itertuples(index=False, name=None), "DataFrame"
        )
    if not isinstance(source, str | os.PathLike) and not hasattr(source, "fs"):
        raise TypeError(
            f"an identity source is a .csv or .parquet path, a DataFrame or an Arrow table, "
            f"not {type(source).__name__}"
        )
    location = resolve_location(source, storage_options)
    name = location.url
    suffix = name.rsplit(".", 1)[-1].casefold() if "." in name.rsplit("/", 1)[-1] else ""
    if suffix not in ("csv", "parquet"):
        raise IdentitySourceError(
            name, ["the file name must end in .csv or .parquet (it says which format it is)"]
        )
    data = _read_bounded(location.fs, location.root, name)
    if suffix == "csv":
        return _people_from_csv(data, name, delimiter)
    try:
        table = pq.ParquetFile(io.BytesIO(data)).read()
    except (OSError, pa.ArrowException) as exc:
        raise IdentitySourceError(name, [f"not a readable Parquet file ({exc})"]) from None
    return _people_from_arrow(table, name)


def people_from_sql(
    connection: Any, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None
) -> People:
    """Read the identity source from a SQL query (a common-sql connection in Airflow).

    The query's result columns are the identity source's columns (alias them:
    ``SELECT work_email AS email, ...``); the rows are validated as a file's are.

    :param connection: an open DB-API connection (used as is, not closed) or a SQLAlchemy
        engine (one pooled connection is borrowed and given back).
    :param query: a ``SELECT`` (in the driver's own parameter style when ``params`` is given).
    :param params: query parameters, passed to the driver.
    :raises IdentitySourceError: the query returned no result set, too many rows, or invalid
        rows (named by their 1-based position in the result).
    """
    if hasattr(connection, "raw_connection"):
        raw = connection.raw_connection()
        try:
            return people_from_sql(raw, query, params)
        finally:
            raw.close()
    if not hasattr(connection, "cursor"):
        raise TypeError(
            f"expected a DB-API connection or a SQLAlchemy engine, not {type(connection).__name__}"
        )
    source = "SQL query"
    cursor = connection.cursor()
    try:
        if params:
            cursor.execute(query, params)
        else:
            cursor.execute(query)
        if cursor.description is None:
            raise IdentitySourceError(source, ["the query returned no rows to read; give a SELECT"])
        names = [d[0] for d in cursor.description]
        records: list[Sequence[object]] = []
        while batch := cursor.fetchmany(10_000):
            records.extend(batch)
            if len(records) > MAX_PEOPLE_ROWS:
                raise IdentitySourceError(source, [f"more than {MAX_PEOPLE_ROWS} rows"])
    finally:
        cursor.close()
    return _people_from_columns(names, records, source)
