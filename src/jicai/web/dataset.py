"""What a page and an API endpoint show: a dataset — a registered measure (:mod:`jicai.measures.registry`) as the
web layer uses it: its rows computed for a request's parameters, its column labels, scope dimensions and roles.

A dataset computes rows (an Arrow table) on the warehouse's engine with the measure the command line uses, so a
page, an API response and ``jicai <command> --format csv`` hold the same figures. The web layer caches the rows
(:mod:`jicai.web.data`), applies scope (:mod:`jicai.web.scope`), filters, sorts and pages them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from jicai.contract.roles import ROLES
from jicai.errors import BilingualError
from jicai.measures.registry import PARAMS as MEASURE_PARAMS
from jicai.measures.registry import Args, Dims, Measure
from jicai.store import Warehouse

PARAMS = {name: (p.zh, p.en) for name, p in MEASURE_PARAMS.items()}


class DatasetError(BilingualError, ValueError):
    """A dataset cannot be computed for these arguments (unknown batch, missing tables); shown as 422."""


@dataclass(frozen=True)
class Dataset:
    name: str  # URL segment: /api/<name>, /data/<name>
    title_zh: str
    title_en: str
    columns: dict[str, tuple[str, str]]
    dims: Dims
    params: tuple[str, ...]
    compute: Callable[[Warehouse, dict[str, Any], Any], pa.Table]  # (warehouse, params, policy) -> rows
    roles: tuple[str, ...] = ROLES
    sort: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()  # warehouse tables the measure reads
    note_zh: str = ""
    note_en: str = ""
    group: str = "execution"  # menu group: execution, assessment, supply, fund
    measure: Measure | None = None  # the registered measure behind it
    # a unit view (jicai.web.units): the dataset whose cached rows this one converts, and its unit code
    base: Dataset | None = None
    unit: str = "min"

    @classmethod
    def of(cls, m: Measure) -> Dataset:
        def compute(wh: Warehouse, p: dict[str, Any], policy: Any) -> pa.Table:
            args = Args(policy, **{k: p.get(k) for k in ("as_of", "batch", "year", "month", "period", "quarter", "peers")})
            return m.rows(wh, args).to_pyarrow()

        return cls(m.name, m.title_zh, m.title_en, {c.name: (c.zh, c.en) for c in m.columns}, m.dims, m.params,
                   compute, m.roles, m.sort, m.inputs, m.note_zh, m.note_en, m.group, m)


def _policy(wh: Warehouse, data_dir, batch: str | None):
    from jicai.policy.registry import resolve_policy

    return resolve_policy(data_dir, wh, batch, None)


def compute_rows(ds: Dataset, wh: Warehouse, params: dict[str, Any], data_dir) -> pa.Table:
    """The dataset's rows for ``params``, with its columns in order; bilingual :class:`DatasetError` on failure."""
    missing = [t for t in ds.requires if not wh.has_table(t)]
    if missing:
        raise DatasetError(f"数据仓库缺少表:{', '.join(missing)}(请先导入)",
                           f"the warehouse lacks tables: {', '.join(missing)} (import them first)")
    try:
        policy = _policy(wh, data_dir, params.get("batch"))
        rows = ds.compute(wh, params, policy)
    except DatasetError:
        raise
    except BilingualError as exc:  # the measures' and the policy lookup's own errors
        raise DatasetError(exc.zh, exc.en) from exc
    return rows.select([c for c in ds.columns if c in rows.schema.names])
