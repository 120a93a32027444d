"""Loading snapshots into SQL warehouses, and analytics views over them.

DuckDB in a local file is the embedded default (:class:`DuckDBTarget`); any database of
Airflow's common-sql family works through an injected SQLAlchemy engine
(:class:`SqlAlchemyTarget`) or DB-API connection (:class:`DbApiTarget`). No Airflow import:
DAGs pass in what their hooks produce. See ``docs/warehouse.md``.
"""

from __future__ import annotations

from .loader import LoadResult, load_snapshot, loaded_snapshots
from .schema import ensure_tables
from .tables import SNAPSHOTS_TABLE, WAREHOUSE_TABLES, sql_type
from .targets import DbApiTarget, DuckDBTarget, Session, SqlAlchemyTarget, WarehouseTarget
from .views import VIEWS, create_views, view_sql

__all__ = [
    "SNAPSHOTS_TABLE",
    "VIEWS",
    "WAREHOUSE_TABLES",
    "DbApiTarget",
    "DuckDBTarget",
    "LoadResult",
    "Session",
    "SqlAlchemyTarget",
    "WarehouseTarget",
    "create_views",
    "ensure_tables",
    "load_snapshot",
    "loaded_snapshots",
    "sql_type",
    "view_sql",
]
