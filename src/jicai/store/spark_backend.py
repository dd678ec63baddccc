"""Ibis's PySpark backend, with results fetched as Arrow, and the client's part of a Spark Connect warehouse.

Ibis 12 fetches a PySpark result through pandas (``toPandas``, then back to Arrow). On Spark Connect the pandas
frame carries the query's plan metrics in ``DataFrame.attrs``, which pandas deep-copies at every step of the
conversion: on the monitoring of 20,000 order lines that copying alone took 2.3 s of the client's time, and
10 s when the plan was larger. Spark hands out Arrow itself (``toArrow``), so jicai's backend asks for that
and casts it to the expression's schema, as Ibis does after its pandas round trip. In-memory tables go to
Spark as Arrow too (Ibis goes through pandas).

A Spark Connect warehouse gives its backend :attr:`Backend.client_tables`
(:class:`jicai.store.spark_client.ClientTables`): an expression that reads only small tables runs there,
on the client, whichever way it is executed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.pyspark import Backend as IbisPySparkBackend
from ibis.backends.pyspark.datatypes import PySparkSchema
from ibis.formats.pyarrow import PyArrowData


class Backend(IbisPySparkBackend):
    client_tables: Any = None  # a ClientTables, or None: everything runs on the cluster
    # called before the session is read: a lake transaction makes the views of the versions it wrote
    # (LakeTransaction.show_views), lazily, since each is a round trip to the server
    before_read: Callable[[], None] | None = None

    def _run_pre_execute_hooks(self, expr: ir.Expr) -> None:
        if self.before_read is not None:
            self.before_read()
        super()._run_pre_execute_hooks(expr)

    def table(self, name: str, /, *, database: Any = None) -> ir.Table:
        if self.before_read is not None:
            self.before_read()
        return super().table(name, database=database)

    def _on_client(self, expr: ir.Expr) -> Any:
        tables = self.client_tables
        return tables if tables is not None and tables.runs_here(expr) else None

    def to_pyarrow(self, expr: ir.Expr, /, *, params: Mapping[ir.Scalar, Any] | None = None,
                   limit: int | str | None = None, **kwargs: Any) -> pa.Table:
        if (client := self._on_client(expr)) is not None:
            return client.to_pyarrow(expr, params=params, limit=limit)
        if self.mode == "streaming":
            return super().to_pyarrow(expr, params=params, limit=limit, **kwargs)
        self._run_pre_execute_hooks(expr)
        table_expr = expr.as_table()
        sql = self.compile(table_expr, params=params, limit=limit, **kwargs)
        arrow = self._session.sql(sql).toArrow()
        return expr.__pyarrow_result__(PyArrowData.convert_table(arrow, table_expr.schema()))

    def to_pyarrow_batches(self, expr: ir.Expr, /, *, params: Mapping[ir.Scalar, Any] | None = None,
                           limit: int | str | None = None, chunk_size: int = 1_000_000,
                           **kwargs: Any) -> pa.RecordBatchReader:
        if (client := self._on_client(expr)) is not None:
            table = client.to_pyarrow(expr.as_table(), params=params, limit=limit)
            return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=chunk_size))
        return super().to_pyarrow_batches(expr, params=params, limit=limit, chunk_size=chunk_size, **kwargs)

    def execute(self, expr: ir.Expr, /, *, params: Mapping[ir.Scalar, Any] | None = None,
                limit: int | str | None = None, **kwargs: Any) -> Any:
        if (client := self._on_client(expr)) is not None:
            return client.execute(expr, params=params, limit=limit)
        return super().execute(expr, params=params, limit=limit, **kwargs)

    def _register_in_memory_table(self, op: ops.InMemoryTable) -> None:
        # Arrow, not pandas: a pandas round trip turns a null string into NaN and costs a copy per column
        data = op.data.to_pyarrow(op.schema)
        df = self._session.createDataFrame(data, schema=PySparkSchema.from_ibis(op.schema))
        df.createOrReplaceTempView(op.name)


def connect(session: Any) -> Backend:
    """Ibis over ``session`` (a local SparkSession or a Spark Connect one)."""
    # Ibis registers a backend's options (``ibis.options.pyspark``, which its SQL compiler reads) when the
    # backend is first looked up by name, not when its class is imported.
    ibis.pyspark  # noqa: B018 - the lookup is the point (an assert would vanish under python -O)
    return Backend().connect(session)
