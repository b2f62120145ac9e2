"""SqlToApolloOperator: upsert the rows of a SQL query (any common-SQL connection) as Apollo contacts."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from airflow.providers.common.compat.sdk import BaseHook, Context

from airflow_provider_apollo.core import check_int_range
from airflow_provider_apollo.exceptions import ApolloArgumentError
from airflow_provider_apollo.extras import EXTRA_COMMON_SQL, db_api_hook_class
from airflow_provider_apollo.transfers._readers import Records
from airflow_provider_apollo.transfers._upsert_job import (
    CREATED_IDS_URI_KEY,
    WarehouseToApolloOperator,
    check_key,
)

__all__ = ["CREATED_IDS_URI_KEY", "SqlToApolloOperator"]

DEFAULT_FETCH_SIZE = 1_000
# Drivers whose connections open a server-side cursor when it is given a name: the query's result
# stays in the database and arrives ``fetch_size`` rows at a time.
NAMED_CURSOR_DRIVERS = ("psycopg2", "psycopg")


class SqlToApolloOperator(WarehouseToApolloOperator):
    """
    Upsert every row of a SQL query as an Apollo contact, fetching ``fetch_size`` rows at a time.

    Works with any connection whose hook is a common-SQL ``DbApiHook`` (PostgreSQL, MySQL,
    Snowflake, BigQuery, SQLite ...). On PostgreSQL (psycopg2 or psycopg) the query runs in a
    server-side (named) cursor, so the result never sits in the worker's memory; other drivers
    fetch through ``fetchmany``. Upsert semantics, rejects and XCom are those of
    :class:`~airflow_provider_apollo.transfers.s3_to_apollo.S3ToApolloOperator`; rows are numbered
    from 1 in the query's order.

    A resumed job (after a quota wait, or in a new try after a killed worker) runs the query again
    and skips the rows already settled, so give the query an ``ORDER BY`` on a unique key (and read
    a stable snapshot, e.g. a dated partition): the same row must come at the same position.

    :param sql: the query. Templated (``.sql`` files too).
    :param conn_id: the SQL connection's id.
    :param parameters: the query's parameters (the driver's paramstyle). Templated.
    :param rejects_bucket: the bucket for the rejects file (and the created ids). Templated.
    :param rejects_key: the rejects file's key, e.g. ``apollo/leads/{{ ds }}.rejects.jsonl``. Templated.
    :param fetch_size: rows fetched from the database at a time (default 1,000).
    :param column_map: ``{column: Apollo field}``; identity when omitted.
    :param max_rejects: a count, or a share below 1, of rejected rows past which the task fails. None: never.
    :param created_ids_key: the created ids' key; default the rejects key with ``.created_ids.jsonl``. Templated.
    :param aws_conn_id: the Amazon connection for the rejects file.
    :param apollo_conn_id: the Apollo connection.
    """

    template_fields: Sequence[str] = (
        "sql",
        "parameters",
        "rejects_bucket",
        "rejects_key",
        "created_ids_key",
        "column_map",
    )
    template_ext: Sequence[str] = (".sql",)
    resume_arguments: ClassVar[Sequence[str]] = ("conn_id", "max_rejects", "aws_conn_id")
    template_fields_renderers = {"sql": "sql"}
    # [common.sql] installs the common SQL provider and the Amazon provider (the rejects file).
    required_extra = EXTRA_COMMON_SQL

    def __init__(
        self,
        *,
        sql: str,
        conn_id: str,
        rejects_bucket: str,
        rejects_key: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        fetch_size: int = DEFAULT_FETCH_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sql = sql
        self.conn_id = conn_id
        self.parameters = parameters
        self.rejects_bucket = rejects_bucket
        self.rejects_key = rejects_key
        self.fetch_size = check_int_range(fetch_size, "fetch_size", 1, 1_000_000)
        check_key(sql, "sql")
        check_key(conn_id, "conn_id")
        check_key(rejects_bucket, "rejects_bucket")
        check_key(rejects_key, "rejects_key")

    def source_description(self) -> str:
        return f"the query on {self.conn_id!r}"

    def rejects_location(self) -> tuple[str, str]:
        return check_key(self.rejects_bucket, "rejects_bucket"), check_key(self.rejects_key, "rejects_key")

    def check_extra(self) -> None:
        super().check_extra()
        db_api_hook_class(type(self).__name__)

    def db_hook(self) -> Any:
        db_api_hook = db_api_hook_class(type(self).__name__)  # the [common.sql] extra, at run time
        hook = BaseHook.get_hook(self.conn_id)
        if not isinstance(hook, db_api_hook):
            raise ApolloArgumentError(
                f"conn_id {self.conn_id!r} has a {type(hook).__name__}, not a SQL hook (DbApiHook): "
                "SqlToApolloOperator reads from SQL connections."
            )
        return hook

    @contextlib.contextmanager
    def open_source(self, context: Context) -> Iterator[Records]:
        connection = self.db_hook().get_conn()
        try:
            cursor = self._cursor(connection)
            try:
                cursor.execute(self.sql, self.parameters) if self.parameters else cursor.execute(self.sql)
                first = cursor.fetchmany(self.fetch_size)
                columns = [str(column[0]) for column in cursor.description or ()]
                yield Records(columns, lambda skip: self._rows(cursor, first, columns, skip))
            finally:
                cursor.close()
        finally:
            connection.close()

    def _cursor(self, connection: Any) -> Any:
        driver = type(connection).__module__.split(".", 1)[0]
        if driver in NAMED_CURSOR_DRIVERS:
            self.log.info("Reading the query through a server-side cursor (%s)", driver)
            cursor = connection.cursor(name=f"apollo_upsert_{uuid.uuid4().hex[:12]}")
            cursor.itersize = self.fetch_size
            return cursor
        return connection.cursor()

    def _rows(
        self, cursor: Any, first: list[Any], columns: list[str], skip: int
    ) -> Iterator[tuple[int, Any]]:
        row = 0
        chunk = first
        while chunk:
            for values in chunk:
                row += 1
                if row > skip:
                    yield row, dict(zip(columns, values, strict=True))
            chunk = cursor.fetchmany(self.fetch_size)
