"""Warehouse targets: where snapshots are loaded, and how rows get there fast.

A target knows its SQL dialect, an optional schema, how to open one transaction, and how to
bulk-insert an Arrow table. Everything else (DDL, deletes, views) is ordinary SQL run by the
loader through :class:`Session`. No Airflow import: a DAG hands over what Airflow's hooks
produce (``PostgresHook(...).get_sqlalchemy_engine()`` or ``.get_conn``) and this module never
needs to know about connections ids.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from .tables import uses_native_lists, validate_schema_name

__all__ = ["DbApiTarget", "DuckDBTarget", "Session", "SqlAlchemyTarget", "WarehouseTarget"]

#: Rows per executemany() call on the generic path: large enough to amortise round trips,
#: small enough to keep the Python parameter lists modest in memory.
EXECUTEMANY_BATCH_ROWS = 5000


class Session(ABC):
    """One open transaction on a target (see :meth:`WarehouseTarget.transaction`)."""

    #: The target's dialect (``duckdb``, ``postgresql``, or a SQLAlchemy dialect name).
    dialect: str

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement; ``?`` in ``sql`` marks a positional parameter."""

    @abstractmethod
    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query and return its rows."""

    @abstractmethod
    def columns(self, table: str) -> list[str]:
        """Column names of an existing table (qualified name)."""

    @abstractmethod
    def insert_arrow(self, table: str, data: pa.Table) -> int:
        """Insert every row of ``data`` into ``table`` (same column names); returns the rows."""


class WarehouseTarget(ABC):
    """Where snapshots are loaded: a dialect, an optional schema and transactions.

    :ivar schema: schema (PostgreSQL / DuckDB) the tables and views live in; ``None`` for the
        connection's default.
    """

    schema: str | None

    @property
    @abstractmethod
    def dialect(self) -> str:
        """The SQL dialect name (``duckdb``, ``postgresql``, ...)."""

    @abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[Session]:
        """Open a transaction: committed when the block ends, rolled back on an exception."""

    def qualified(self, name: str) -> str:
        """``name`` prefixed with the target's schema, if any."""
        return f"{self.schema}.{name}" if self.schema else name

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query in its own transaction (convenience for scripts and tests).

        ``?`` marks positional parameters whatever the driver's own style.
        """
        with self.transaction() as session:
            return session.fetchall(sql, params)


# -- DuckDB ------------------------------------------------------------------------------------


class _DuckDBSession(Session):
    dialect = "duckdb"

    def __init__(self, con: Any) -> None:
        self._con = con

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._con.execute(sql, list(params))

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self._con.execute(sql, list(params)).fetchall())

    def columns(self, table: str) -> list[str]:
        self._con.execute(f"SELECT * FROM {table} WHERE 1 = 0")
        return [d[0] for d in self._con.description]

    def insert_arrow(self, table: str, data: pa.Table) -> int:
        # Registering the Arrow table lets DuckDB scan its buffers directly: no Python objects
        # per row and no copy before the insert itself.
        view = "_boomi_load_source"
        self._con.register(view, data)
        try:
            cols = ", ".join(data.column_names)
            self._con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {view}")
        finally:
            self._con.unregister(view)
        return data.num_rows


class DuckDBTarget(WarehouseTarget):
    """An embedded DuckDB database: a local file (the default warehouse) or a connection.

    A path is opened for each transaction and closed after it, so the file is not held locked
    between Airflow tasks. ``":memory:"`` keeps one connection for the target's lifetime (a
    new one would be a new, empty database).

    :param database: path of the DuckDB file (created if missing), ``":memory:"``, or an open
        ``duckdb.DuckDBPyConnection`` (used as is and never closed here).
    :param schema: optional schema for the tables and views (created if missing).
    """

    def __init__(self, database: str | os.PathLike[str] | Any = "boomi.duckdb", *, schema: str | None = None):
        import duckdb

        self.schema = validate_schema_name(schema)
        self._connection: Any = None
        self.path: str | None = None
        if isinstance(database, duckdb.DuckDBPyConnection):
            self._connection = database
        elif os.fspath(database) == ":memory:":
            self._connection = duckdb.connect(":memory:")
        else:
            self.path = os.fspath(database)

    @property
    def dialect(self) -> str:
        return "duckdb"

    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        """A DuckDB connection to the target's database (closed afterwards if opened here)."""
        import duckdb

        if self._connection is not None:
            yield self._connection
            return
        assert self.path is not None
        con = duckdb.connect(self.path)
        try:
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.connect() as con:
            con.begin()
            try:
                yield _DuckDBSession(con)
            except BaseException:
                con.rollback()
                raise
            con.commit()

    def __repr__(self) -> str:
        where = self.path if self.path is not None else "<connection>"
        return f"DuckDBTarget({where!r}, schema={self.schema!r})"


# -- DB-API (PostgreSQL and the rest of the common-sql family) ----------------------------------


def _placeholder_style(paramstyle: str) -> str:
    if paramstyle in ("format", "pyformat"):
        return "%s"
    if paramstyle in ("qmark", "numeric", "named"):
        return paramstyle
    raise ValueError(f"unsupported DB-API paramstyle {paramstyle!r}")


def _convert_placeholders(sql: str, style: str, params: Sequence[Any]) -> tuple[str, Any]:
    """Rewrite ``?`` markers into the driver's style.

    Our own SQL never contains a literal ``?`` (nor ``%``), so a plain split is exact.
    """
    if style == "qmark" or not params:
        return sql, tuple(params)
    pieces = sql.split("?")
    if style == "%s":
        return "%s".join(pieces), tuple(params)
    out = [pieces[0]]
    for i, piece in enumerate(pieces[1:], start=1):
        out.append(f":{i}" if style == "numeric" else f":p{i}")
        out.append(piece)
    if style == "numeric":
        return "".join(out), tuple(params)
    return "".join(out), {f"p{i}": v for i, v in enumerate(params, start=1)}


def _is_psycopg3(connection: Any) -> bool:
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(connection, psycopg.Connection)


class _DbApiSession(Session):
    def __init__(self, connection: Any, dialect: str, style: str, use_copy: bool, driver: Any) -> None:
        self._con = connection
        self.dialect = dialect
        self._style = style
        # The driver-level connection (psycopg's own) decides whether COPY is available; the
        # DB-API object we run statements on may be SQLAlchemy's pool proxy around it.
        self._copy = use_copy and _is_psycopg3(driver)
        self._driver = driver

    def _cursor(self) -> Any:
        return self._con.cursor()

    def _run(self, cur: Any, sql: str, params: Sequence[Any]) -> None:
        """Run ``sql`` (``?`` placeholders) on ``cur`` in the driver's own parameter style."""
        sql, bound = _convert_placeholders(sql, self._style, params)
        if bound:
            cur.execute(sql, bound)
        else:
            cur.execute(sql)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with contextlib.closing(self._cursor()) as cur:
            self._run(cur, sql, params)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with contextlib.closing(self._cursor()) as cur:
            self._run(cur, sql, params)
            return [tuple(row) for row in cur.fetchall()]

    def columns(self, table: str) -> list[str]:
        cur = self._cursor()
        try:
            cur.execute(f"SELECT * FROM {table} WHERE 1 = 0")
            return [d[0] for d in cur.description]
        finally:
            cur.close()

    def _python_columns(self, data: pa.Table) -> list[list[Any]]:
        columns = []
        for field, column in zip(data.schema, data.columns, strict=True):
            values = column.to_pylist()
            if pa.types.is_list(field.type) and not uses_native_lists(self.dialect):
                values = [None if v is None else json.dumps(v) for v in values]
            columns.append(values)
        return columns

    def insert_arrow(self, table: str, data: pa.Table) -> int:
        if data.num_rows == 0:
            return 0
        cols = ", ".join(data.column_names)
        columns = self._python_columns(data)
        if self._copy:
            # COPY streams all rows in one command: tens of thousands of rows per second
            # instead of one round trip per row.
            cur = self._driver.cursor()
            try:
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in zip(*columns, strict=True):
                        copy.write_row(row)
            finally:
                cur.close()
            return data.num_rows
        marks = ", ".join("?" * len(data.column_names))
        sql, _ = _convert_placeholders(
            f"INSERT INTO {table} ({cols}) VALUES ({marks})", self._style, [None] * len(columns)
        )
        rows = list(zip(*columns, strict=True))
        cur = self._cursor()
        try:
            for start in range(0, len(rows), EXECUTEMANY_BATCH_ROWS):
                batch = rows[start : start + EXECUTEMANY_BATCH_ROWS]
                if self._style == "named":
                    keys = [f"p{i}" for i in range(1, len(columns) + 1)]
                    cur.executemany(sql, [dict(zip(keys, row, strict=True)) for row in batch])
                else:
                    cur.executemany(sql, batch)
        finally:
            cur.close()
        return data.num_rows


def _driver_name(connection: Any) -> str:
    # DuckDB's connection class lives in its C extension module "_duckdb".
    return type(connection).__module__.split(".")[0].lstrip("_")


def _driver_paramstyle(connection: Any) -> str:
    module = sys.modules.get(_driver_name(connection))
    style = getattr(module, "paramstyle", None)
    if not isinstance(style, str):
        raise ValueError(f"cannot tell the parameter style of {type(connection).__name__}; pass paramstyle=")
    return style


_DIALECT_BY_DRIVER = {
    "psycopg": "postgresql",
    "psycopg2": "postgresql",
    "duckdb": "duckdb",
    "sqlite3": "sqlite",
}


class DbApiTarget(WarehouseTarget):
    """Any DB-API 2 connection, e.g. ``PostgresHook(...).get_conn`` from a DAG.

    :param connection: an open DB-API connection (used as is, never closed here) or a zero-argument
        callable returning a new one (opened per transaction and closed after it).
    :param schema: optional schema for the tables and views (created if missing).
    :param dialect: ``postgresql``, ``duckdb``, ``sqlite``, ``mysql``...; inferred for psycopg,
        psycopg2, duckdb and sqlite3 connections.
    :param paramstyle: the driver's DB-API paramstyle; read from the driver module by default.
    :param use_copy: bulk-load with ``COPY FROM STDIN`` when the connection is psycopg 3
        (default); ``False`` forces batched ``executemany``.
    """

    def __init__(
        self,
        connection: Any | Callable[[], Any],
        *,
        schema: str | None = None,
        dialect: str | None = None,
        paramstyle: str | None = None,
        use_copy: bool = True,
    ) -> None:
        self.schema = validate_schema_name(schema)
        self._connection = connection
        self._dialect = dialect
        self._paramstyle = paramstyle
        self.use_copy = use_copy

    @property
    def dialect(self) -> str:
        if self._dialect is None:
            raise ValueError("dialect is not known until a connection is opened; pass dialect=")
        return self._dialect

    def _open(self) -> tuple[Any, Any, bool]:
        """(DB-API connection, driver connection, whether to close it afterwards)."""
        if callable(self._connection) and not hasattr(self._connection, "cursor"):
            con = self._connection()
            return con, con, True
        return self._connection, self._connection, False

    def _resolve(self, driver: Any) -> tuple[str, str]:
        if self._dialect is None:
            name = _driver_name(driver)
            if name not in _DIALECT_BY_DRIVER:
                raise ValueError(f"cannot infer the SQL dialect of a {name} connection; pass dialect=")
            self._dialect = _DIALECT_BY_DRIVER[name]
        style = self._paramstyle or _driver_paramstyle(driver)
        return self._dialect, _placeholder_style(style)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        con, driver, close = self._open()
        try:
            yield from self._run(con, driver)
        finally:
            if close:
                con.close()

    def _run(self, con: Any, driver: Any) -> Iterator[Session]:
        dialect, style = self._resolve(driver)
        # "is True": sqlite3 on Python 3.12+ reports -1 (legacy transaction control), not autocommit.
        if getattr(driver, "autocommit", False) is True:
            raise ValueError(
                "the connection is in autocommit mode; a load must be one transaction. "
                "Pass a connection with autocommit off."
            )
        try:
            yield _DbApiSession(con, dialect, style, self.use_copy, driver)
        except BaseException:
            con.rollback()
            raise
        con.commit()

    def __repr__(self) -> str:
        return f"DbApiTarget(dialect={self._dialect!r}, schema={self.schema!r})"


class SqlAlchemyTarget(DbApiTarget):
    """A SQLAlchemy engine, e.g. ``PostgresHook(...).get_sqlalchemy_engine()`` from a DAG.

    Each transaction borrows one pooled DB-API connection (``engine.raw_connection()``), so
    psycopg 3 engines get ``COPY`` and every other driver gets batched ``executemany``.

    :param engine: a ``sqlalchemy.engine.Engine``.
    :param schema: optional schema for the tables and views (created if missing).
    :param use_copy: see :class:`DbApiTarget`.
    """

    def __init__(self, engine: Any, *, schema: str | None = None, use_copy: bool = True) -> None:
        super().__init__(
            engine.raw_connection,
            schema=schema,
            dialect=engine.dialect.name,
            paramstyle=getattr(engine.dialect.dbapi, "paramstyle", None),
            use_copy=use_copy,
        )
        self.engine = engine

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        con = self.engine.raw_connection()
        try:
            # driver_connection is the psycopg / sqlite3 object under SQLAlchemy's pool proxy.
            yield from self._run(con, getattr(con, "driver_connection", con))
        finally:
            con.close()

    def __repr__(self) -> str:
        return f"SqlAlchemyTarget({self.engine.url!r}, schema={self.schema!r})"
