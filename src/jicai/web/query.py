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
# The bounds of every argument a page or the API takes (docs/web.md "Arguments and statuses"). A date outside the
# window is a typo or a probe, never a question about procurement: refused (422) before any figure is computed, so
# that no calendar arithmetic (a year added to 9999-12-31) can overflow and no offset can outgrow an integer.
YEAR_MIN, YEAR_MAX = 2000, 2100
DAY_MIN, DAY_MAX = date(YEAR_MIN, 1, 1), date(YEAR_MAX, 12, 31)
PAGE_MAX = 1_000_000
CYCLE_YEAR_MAX = 50  # a batch's cycle year k (1, 2, …); no cycle lasts 50 years
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


class QueryError(DatasetError):
    """Bad arguments (422)."""


def day(value: str | date | None) -> date | None:
    """An as-of day (``YYYY-MM-DD``) within DAY_MIN … DAY_MAX; None when not given."""
    if value is None or value == "":
        return None
    try:
        d = calendar.parse_day(value)
    except calendar.CalendarError:
        raise QueryError(f"截至日期格式应为 YYYY-MM-DD:{str(value)[:40]}",
                         f"as_of must be YYYY-MM-DD: {str(value)[:40]}") from None
    if not DAY_MIN <= d <= DAY_MAX:
        raise QueryError(f"截至日期应在 {DAY_MIN} 至 {DAY_MAX} 之间:{d}",
                         f"as_of must lie within {DAY_MIN} to {DAY_MAX}: {d}")
    return d


def _integer(value: str | int | None, name: str, lo: int, hi: int, zh: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        n = value if isinstance(value, int) else int(str(value).strip())
    except ValueError:
        raise QueryError(f"{zh}应为整数:{str(value)[:40]}",
                         f"{name} must be a whole number: {str(value)[:40]}") from None
    if not lo <= n <= hi:
        raise QueryError(f"{zh}应在 {lo} 至 {hi} 之间", f"{name} must be {lo} to {hi}")
    return n


def page_number(value: str | int | None) -> int:
    """A page number, 1 … PAGE_MAX (1 when not given)."""
    return _integer(value, "page", 1, PAGE_MAX, "页码") or 1


def cycle_year(value: str | int | None) -> int | None:
    """A batch's cycle year k, 1 … CYCLE_YEAR_MAX."""
    return _integer(value, "year", 1, CYCLE_YEAR_MAX, "采购年度")


def month(value: str | date) -> str:
    """A month ``YYYY-MM`` (month 1–12) of a year within YEAR_MIN … YEAR_MAX."""
    try:
        m = calendar.parse_month(value)
    except calendar.CalendarError as exc:
        raise QueryError(exc.zh, exc.en) from None
    if not YEAR_MIN <= m.year <= YEAR_MAX:
        raise QueryError(f"月份应在 {YEAR_MIN}-01 至 {YEAR_MAX}-12 之间:{value}",
                         f"month must lie within {YEAR_MIN}-01 to {YEAR_MAX}-12: {value}")
    return calendar.month_label(m)


def period(value: str) -> str:
    """A settlement period (``2024``, ``2024-06``, ``2024H1``, ``2024Q3`` …) ending within the window."""
    from jicai.errors import BilingualError
    from jicai.fund.capitation import period_end

    try:
        end = period_end(value)
    except (BilingualError, ValueError):
        raise QueryError(f"无法识别结算期:{value}(应为 2024、2024-06、2024H1 或 2024Q3)",
                         f"cannot read the settlement period {value} (use 2024, 2024-06, 2024H1, 2024Q3)") from None
    if not DAY_MIN <= end <= DAY_MAX:
        raise QueryError(f"结算期应在 {YEAR_MIN} 至 {YEAR_MAX} 年之间:{value}",
                         f"the settlement period must lie within {YEAR_MIN} to {YEAR_MAX}: {value}")
    return str(value).strip()


def batch(value: str | None, data: DataService) -> str:
    """A batch id the warehouse holds (the first batch when not given)."""
    batches = data.batches()
    b = value or (batches[0]["batch_id"] if batches else None)
    if b is None:
        raise QueryError("没有批次数据", "no batches in the warehouse")
    if b not in {x["batch_id"] for x in batches}:
        raise QueryError(f"批次不存在:{b}", f"unknown batch: {b}")
    return b


def peers(value: str | None, principal: Principal | None, workflow: Any) -> Any:
    """The peer group ``value`` names for ``principal`` (:func:`jicai.workflow.peer_groups.resolve`: its own
    group, or one shared with it), as the members a measure ranks against; None (the same level) when not
    given. An unknown name is a 422 (an argument, like an unknown batch)."""
    if value is None or str(value).strip() == "":
        return None
    from jicai.workflow.peer_groups import PeerGroupError, resolve

    if principal is None or workflow is None:
        raise QueryError("对比组只能由登录用户使用", "a peer group needs a signed-in user")
    try:
        with workflow.session() as s:
            return resolve(s, principal, str(value))
    except PeerGroupError as exc:
        raise QueryError(exc.zh, exc.en) from None


def resolve_params(ds: Dataset, raw: dict[str, Any], data: DataService, principal: Principal | None = None,
                   workflow: Any = None) -> dict[str, Any]:
    """The dataset's arguments with defaults: as-of = the last day with data, batch = the first batch,
    year = the cycle year of that batch containing the as-of date, month = the as-of month, peers = none (the
    same level; a group is resolved for ``principal`` in ``workflow``). Each argument is checked against its
    bounds above (QueryError: 422)."""
    out: dict[str, Any] = {}
    as_of = day(raw.get("as_of")) or data.data_end()
    batches = data.batches()
    if "as_of" in ds.params or "year" in ds.params or "month" in ds.params or "period" in ds.params:
        out["as_of"] = as_of
    if "batch" in ds.params:
        out["batch"] = batch(raw.get("batch"), data)
    if "year" in ds.params:
        y = cycle_year(raw.get("year"))
        if y is None:
            start = next(x["start_date"] for x in batches if x["batch_id"] == out["batch"])
            y = min(max(calendar.cycle_year_of(start, as_of), 1), CYCLE_YEAR_MAX)
        out["year"] = y
    if "month" in ds.params:
        out["month"] = month(raw.get("month") or as_of)
    if "period" in ds.params:
        out["period"] = period(raw.get("period") or str(as_of.year))
    if "peers" in ds.params:
        group = peers(raw.get("peers"), principal, workflow)
        if group is not None:  # left out when not given: the level's figures keep their cache keys
            out["peers"] = group
    return out


def rows_of(ds: Dataset, params: dict[str, Any], data: DataService) -> ir.Table:
    """Every row of the dataset for ``params`` (a table of the result cache, computed in the background); a unit
    view's are its base dataset's cached rows converted there (:mod:`jicai.web.units`), never computed twice."""
    if ds.base is not None:
        from jicai.web.datasets import DATASETS
        from jicai.web.units import converted

        plain = {k: v for k, v in params.items() if k != "unit"}
        return converted(ds, rows_of(ds.base, plain, data), data,
                         lambda name: rows_of(DATASETS[name], plain, data))
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
    page = page_number(page)
    keys = [ibis.desc(sort) if desc else sort] if sort else []
    keys += [k for k in default_sort if not isinstance(k, str) or k != sort]
    total = int(data.scalar(t.count()))
    rows = data.execute(t.order_by(keys).limit(page_size, offset=(page - 1) * page_size)).to_pylist()
    return Page(total, page, page_size, rows, list(t.columns))


def jsonable(v: Any) -> Any:
    from jicai.analytics.deciles import PeerGroup

    if isinstance(v, PeerGroup):  # its name: what the caller gave (str() is the name with the members' digest)
        return v.name
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, float) and v != v:  # NaN
        return None
    return v
