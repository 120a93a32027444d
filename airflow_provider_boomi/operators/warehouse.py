"""BoomiWarehouseLoadOperator: load a snapshot into a SQL warehouse for access-review analytics."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_boomi.operators._xcom import field_of

if TYPE_CHECKING:
    from airflow.sdk import Context


class BoomiWarehouseLoadOperator(BaseOperator):
    """Load one snapshot into a warehouse; loading the same snapshot again replaces it.

    The target is a DuckDB file by default, or any database of Airflow's common-sql family
    through ``warehouse_conn_id`` (PostgreSQL, Snowflake, ...). Tables and the analytics views
    (current access, grant history, access changes, privileged users, group-only users) go into
    ``schema`` (created when missing). One transaction per load: a failed load changes nothing.

    :param snapshot: the snapshot: ``BoomiSyncOperator``'s result (``sync.output``) or its
        ``snapshot_path`` (a directory ``.../account_id=A/sync_id=S``, local or a URL; templated).
    :param duckdb_path: the DuckDB file when no ``warehouse_conn_id`` is given (templated); one
        of the two is required.
    :param warehouse_conn_id: a common-sql connection id; empty means DuckDB (templated).
    :param schema: the target schema (templated); ``None`` uses the connection's default.
    :param create_views: (re)create the analytics views in the same transaction.
    :param verify: check every file's sha256 against the manifest before loading.

    Returns (XCom) ``{"account_id", "sync_id", "synced_at", "loaded_at", "rows", "replaced",
    "schema", "target"}``.
    """

    template_fields: Sequence[str] = ("snapshot", "duckdb_path", "warehouse_conn_id", "schema")
    ui_color = "#f0e4a8"

    def __init__(
        self,
        *,
        snapshot: Any,
        duckdb_path: str | None = None,
        warehouse_conn_id: str | None = None,
        schema: str | None = None,
        create_views: bool = True,
        verify: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.snapshot = snapshot
        self.duckdb_path = duckdb_path
        self.warehouse_conn_id = warehouse_conn_id
        self.schema = schema
        self.create_views = create_views
        self.verify = verify
        self._loaded: dict[str, Any] | None = None
        self._snapshot_path = ""

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_boomi.warehouse import load_snapshot

        target, where = warehouse_target(self.warehouse_conn_id, self.duckdb_path, self.schema)
        self._snapshot_path = str(field_of(self.snapshot, "snapshot_path"))
        loaded = load_snapshot(
            target, self._snapshot_path, create_views=self.create_views, verify=self.verify
        )
        self._loaded = {**loaded.to_dict(), "schema": self.schema or None, "target": where}
        self.log.info(
            "Loaded snapshot %s into %s (%s)%s",
            loaded.sync_id,
            where,
            dict(loaded.rows),
            " replacing the earlier load" if loaded.replaced else "",
        )
        return self._loaded

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the snapshot tables as inputs, the warehouse tables as outputs."""
        try:
            from airflow.providers.common.compat.openlineage.facet import Dataset
            from airflow.providers.openlineage.extractors import OperatorLineage
        except ImportError:
            return None
        if self._loaded is None:
            return OperatorLineage()
        from airflow_provider_boomi.warehouse import WAREHOUSE_TABLES

        tables = list(self._loaded["rows"])
        prefix = f"{self._loaded['schema']}." if self._loaded["schema"] else ""
        inputs = [
            Dataset(namespace="boomi-snapshot", name=f"{self._snapshot_path}/{t}.parquet") for t in tables
        ]
        outputs = [
            Dataset(namespace=self._loaded["target"], name=f"{prefix}{WAREHOUSE_TABLES[t]}") for t in tables
        ]
        return OperatorLineage(inputs=inputs, outputs=outputs)


def warehouse_target(
    warehouse_conn_id: str | None, duckdb_path: str | None, schema: str | None
) -> tuple[Any, str]:
    """The warehouse a task writes to, and where it is (for logs and XCom).

    A common-sql connection (``warehouse_conn_id``) when given, else the DuckDB file
    ``duckdb_path`` (created on first use, its folder too: the path is the user's own choice).
    Neither given is refused: nothing is written to a local path the user did not name (on a
    distributed executor a relative file would land in whichever worker ran the task).
    Shared by every operator that loads into the warehouse.

    :raises AirflowFailException: neither is given, or the connection is not a common-sql
        database connection (a retry would fail the same way).
    """
    from airflow_provider_boomi.warehouse import DuckDBTarget, SqlAlchemyTarget

    schema = schema or None
    if warehouse_conn_id:
        from airflow.providers.common.sql.hooks.sql import DbApiHook
        from airflow.sdk import BaseHook

        hook = BaseHook.get_connection(warehouse_conn_id).get_hook()
        if not isinstance(hook, DbApiHook):
            raise AirflowFailException(
                f"connection {warehouse_conn_id!r} is not a common-sql (DbApiHook) connection; "
                "give a database connection, or leave warehouse_conn_id empty for DuckDB"
            )
        return SqlAlchemyTarget(hook.get_sqlalchemy_engine(), schema=schema), warehouse_conn_id
    if not duckdb_path or not str(duckdb_path).strip():
        raise AirflowFailException(
            "no warehouse: give warehouse_conn_id (a common-sql connection, e.g. PostgreSQL) or "
            "duckdb_path (a DuckDB file path)"
        )
    os.makedirs(os.path.dirname(os.path.abspath(duckdb_path)), exist_ok=True)
    return DuckDBTarget(duckdb_path, schema=schema), f"duckdb://{duckdb_path}"
