"""One dataset query as the pages and the API run it: arguments → cached rows → scope → filters → a page.

The order matters: scope (:func:`jicai.web.scope.restrict`) is applied to the cached rows before any
filter, sort or count, so totals, pages and exports only ever see the caller's rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from jicai import calendar
from jicai.contract.roles import Principal
from jicai.web.data import DataService
from jicai.web.datasets import Dataset, DatasetError, compute_rows
from jicai.web.scope import restrict

MAX_PAGE_SIZE = 5000


class QueryError(DatasetError):
    """Bad arguments (422)."""


def resolve_params(ds: Dataset, raw: dict[str, Any], data: DataService) -> dict[str, Any]:
    """The dataset's arguments with defaults: as-of = the last day with data, batch = the first batch,
    year = the cycle year of that batch containing the as-of date, month = the as-of month."""
    out: dict[str, Any] = {}
    as_of = raw.get("as_of")
    if isinstance(as_of, str) and as_of:
        try:
            as_of = calendar.parse_day(as_of)
        except calendar.CalendarError:
            raise QueryError(f"日期格式应为 YYYY-MM-DD:{as_of}", f"as_of must be YYYY-MM-DD: {as_of}") from None
    as_of = as_of or data.data_end()
    batches = data.batches()
    if "as_of" in ds.params or "year" in ds.params or "month" in ds.params or "period" in ds.params:
        out["as_of"] = as_of
    if "batch" in ds.params:
        b = raw.get("batch") or (batches[0]["batch_id"] if batches else None)
        if b is None:
            raise QueryError("没有批次数据", "no batches in the warehouse")
        if b not in {x["batch_id"] for x in batches}:
            raise QueryError(f"批次不存在:{b}", f"unknown batch: {b}")
        out["batch"] = b
    if "year" in ds.params:
        y = raw.get("year")
        if y is None:
            start = next(x["start_date"] for x in batches if x["batch_id"] == out["batch"])
            y = calendar.cycle_year_of(start, as_of)
        if int(y) < 1:
            raise QueryError("采购年度从 1 开始", "year starts at 1")
        out["year"] = int(y)
    if "month" in ds.params:
        try:
            out["month"] = calendar.month_label(calendar.parse_month(raw.get("month") or as_of))
        except calendar.CalendarError as exc:
            raise QueryError(exc.zh, exc.en) from None
    if "period" in ds.params:
        out["period"] = str(raw.get("period") or as_of.year)
    return out


def rows_of(ds: Dataset, params: dict[str, Any], data: DataService) -> ir.Table:
    """Every row of the dataset for ``params`` (a table of the result cache, computed in the background)."""
    key = (ds.name, tuple(sorted((k, str(v)) for k, v in params.items())))
    return data.result(key, lambda wh: compute_rows(ds, wh, params, data.data_dir))


def scoped(ds: Dataset, params: dict[str, Any], principal: Principal, data: DataService) -> ir.Table:
    """The dataset's rows for ``params`` that ``principal`` may see (an expression on the result cache)."""
    return restrict(principal, rows_of(ds, params, data), ds.dims, data.lookups())


@dataclass
class Page:
    total: int
    page: int
    page_size: int
    rows: list[dict]
    columns: list[str]


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def filtered(t: ir.Table, ds: Dataset, filters: dict[str, str]) -> ir.Table:
    for col, value in filters.items():
        if _CONTROL.search(value) or len(value) > 64:
            raise QueryError(f"筛选值无效:{col}", f"invalid filter value: {col}")
        if col not in t.columns:
            raise QueryError(f"没有这一列:{col}", f"no such column: {col}")
        c = t[col]
        if col == "region_code":
            t = t.filter(c.cast("string").startswith(value))
        elif c.type().is_boolean():
            t = t.filter(c == (value.lower() in ("1", "true", "是", "yes")))
        elif c.type().is_numeric():
            try:
                t = t.filter(c == float(value))
            except ValueError:
                raise QueryError(f"{col} 应为数字:{value}", f"{col} must be a number: {value}") from None
        else:
            t = t.filter(c.cast("string") == value)
    return t


def severity_first(t: ir.Table, ds: Dataset) -> list:
    """Sort keys that put the rows needing action first: the worst status or finding (by
    :data:`jicai.contract.display.SEVERITY`), failed before passed, flagged before clean — then the dataset's
    own order. A page opens on the trouble; the API keeps the dataset's order unless asked."""
    from jicai.contract.display import SEVERITY, UNRANKED

    keys: list = []
    kinds = {c: (ds.measure.column(c).kind if ds.measure else "") for c in t.columns}
    for c, kind in kinds.items():
        if kind == "status" or c == "finding":
            keys.append(t[c].cast("string").substitute(SEVERITY, else_=UNRANKED).fill_null(99))
        elif kind == "flags":
            keys.append((t[c].isnull() | (t[c] == "")).ifelse(1, 0))
        elif c == "passed":
            keys.append(t[c].ifelse(1, 0))
    return keys + [k for k in ds.sort if k in t.columns]


def page_of(t: ir.Table, default_sort: list, data: DataService, *, sort: str | None = None, desc: bool = False,
            page: int = 1, page_size: int = 100) -> Page:
    """One page of ``t``: sorted by ``sort`` (then ``default_sort``, so pages are stable), with the total."""
    if sort is not None and sort not in t.columns:
        raise QueryError(f"不能按该列排序:{sort}", f"cannot sort by: {sort}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise QueryError(f"每页行数应在 1–{MAX_PAGE_SIZE}", f"page_size must be 1–{MAX_PAGE_SIZE}")
    if page < 1:
        raise QueryError("页码从 1 开始", "page starts at 1")
    keys = [ibis.desc(sort) if desc else sort] if sort else []
    keys += [k for k in default_sort if not isinstance(k, str) or k != sort]
    total = int(data.scalar(t.count()))
    rows = data.execute(t.order_by(keys).limit(page_size, offset=(page - 1) * page_size)).to_pylist()
    return Page(total, page, page_size, rows, list(t.columns))


def jsonable(v: Any) -> Any:
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, float) and v != v:  # NaN
        return None
    return v
