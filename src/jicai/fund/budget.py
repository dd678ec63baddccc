"""Budget progress (总额预算执行进度) for the quarterly consultation (按季通报会商) — seed 004 会商制度.

"通过定期通报医保基金运行情况,及时反馈定点医疗机构医疗费用总量使用进度和协议指标执行情况。" As of an inclusive
date D of year Y, per institution with a ``budgets`` row for Y or ``fund_spending`` in Y:

* spending to date = Σ ``fund_spending.amount`` of the months ``Y-01`` … the month of D. The as-of month
  counts **in full** when its row exists: spending is reported per month, and a month's row is its total
  (run the report on a month end — the quarterly 会商 on the quarter's last day — to compare like with like);
* spending progress = spending / ``total_budget`` (null when there is no budget or it is 0);
* time progress (序时进度) = days from 1 January to D inclusive / days in Y (365 or 366);
* gap = spending progress − time progress; **ahead** (超序时进度) when gap > ``budget_ahead_margin``
  (strictly). The flag is decided in integers — ``(spending × days_in_year − days_elapsed × budget) × 10000 >
  margin_bp × budget × days_in_year`` with amounts in fen (:mod:`jicai.measures.exact`) — so a gap of exactly
  10 percentage points is not flagged on any engine (floating point gives 0.4 − 0.3 = 0.10000000000000003);
* status: ``ahead``, ``normal``, or ``no_budget`` (spending without a budget of Y, or a budget of 0);
  ``over_budget`` when spending already exceeds the whole year's budget.

Figures for the discussion: ``ahead_amount`` = spending − budget × time progress (what was spent beyond
the pro-rata budget; negative: below it), ``remaining_budget`` and ``projected_spending`` = spending / time
progress (the year's spending if the pace holds).
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.contract.columns import col, cols
from jicai.fund.capitation import FUND_ROLES
from jicai.measures.exact import SCALE, basis_points, fen
from jicai.measures.registry import Dims, Measure
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

INPUT_TABLES = ("budgets", "fund_spending", "institutions")

STATUS: dict[str, tuple[str, str]] = {
    "ahead": ("超序时进度", "spending progress ahead of time progress by more than budget_ahead_margin"),
    "normal": ("正常", "within the margin"),
    "no_budget": ("无预算", "spending in the year without a budget row (or a budget of 0)"),
}

COLUMNS = (
    *cols("year", "as_of", "institution_code", "institution_name", "region_code", "level", "total_budget", "spending",
          "months_counted", "last_month", "spending_progress", "time_progress", "gap", "ahead_amount",
          "remaining_budget", "projected_spending", "over_budget",
          as_of=("截至日期", "as-of date D (inclusive)"),
          time_progress=("序时进度", "days from 1 January to D inclusive / days in Y")),
    # the vocabulary's status is the monitoring status; here it is this module's own code (STATUS)
    col("status", "状态", "ahead (超序时进度), normal or no_budget", kind="enum"),
)

# the 会商 list: the institutions ahead, ranked by how far
CONSULT = (col("rank", "排序", "position by gap, most ahead first"), *COLUMNS)

TOTALS = (
    *cols("year", "as_of", "institutions", "total_budget", "spending", "spending_progress", "time_progress", "ahead",
          year=("年度", "budget year"), as_of=("截至日期", "as-of date"),
          institutions=("机构数", "institutions listed"), total_budget=("年度总额预算", "Σ total_budget"),
          spending=("累计医保支出", "Σ spending (institutions with a budget)"),
          spending_progress=("预算执行进度", "Σ spending / Σ total_budget over institutions with a budget"),
          time_progress=("序时进度", "time progress of the year")),
    col("over_budget", "已超年度预算机构数", "institutions whose spending exceeds the year's budget", kind="int"),
    *cols("no_budget"),
)

_INST = "institution_code"


def year_days(as_of: date) -> tuple[int, int]:
    """(days from 1 January to ``as_of`` inclusive, days in the year).

    >>> year_days(date(2024, 3, 31)), year_days(date(2023, 12, 31))
    ((91, 366), (365, 365))
    """
    first = date(as_of.year, 1, 1)
    return (as_of - first).days + 1, (date(as_of.year + 1, 1, 1) - first).days


def budget_progress(wh: Warehouse, as_of: date, policy: Policy | None = None) -> ir.Table:
    """Budget progress of every institution of the as-of year; see COLUMNS."""
    policy = policy or load_policy()
    margin_bp = basis_points(policy.value("budget_ahead_margin", on=as_of))
    y = as_of.year
    days, ndays = year_days(as_of)
    b = wh.table("budgets")
    b = b.filter(b.year == y)
    b = b.group_by(_INST).agg(total_budget=b.total_budget.cast("float64").sum())
    f = wh.table("fund_spending")
    f = f.filter((f.month >= f"{y:04d}-01") & (f.month <= f"{y:04d}-{as_of.month:02d}"))
    f = f.group_by(_INST).agg(spending_fen=fen(f.amount).sum(), months_counted=f.month.nunique().cast("int64"),
                              last_month=f.month.max())
    who = b.select(institution_code=b.institution_code.cast("string")).union(
        f.select(institution_code=f.institution_code.cast("string")), distinct=True)
    r = who.left_join(b, _INST).drop(f"{_INST}_right").left_join(f, _INST).drop(f"{_INST}_right")
    r = r.mutate(budget_fen=fen(r.total_budget), spending_fen=r.spending_fen.fill_null(0).cast("int64"),
                 months_counted=r.months_counted.fill_null(0).cast("int64"))
    has_budget = r.budget_fen.fill_null(0) > 0
    # a double computed by the engine (a float literal comes back from PostgreSQL as numeric)
    tp = ibis.literal(days, "int64").cast("float64") / ibis.literal(ndays, "int64").cast("float64")
    lhs = (r.spending_fen * ndays - r.budget_fen * days) * SCALE
    ahead = has_budget & (lhs > ibis.literal(margin_bp * ndays, "int64") * r.budget_fen)
    spending = r.spending_fen.cast("float64") / 100.0
    budget = r.budget_fen.cast("float64") / 100.0
    progress = ibis.ifelse(has_budget, spending / budget, ibis.null("float64"))
    inst = wh.table("institutions")
    inst = inst.select(_INST, institution_name=inst.name, region_code=inst.region_code, level=inst.level)
    r = r.mutate(spending=spending, spending_progress=progress, ahead=ahead, has_budget=has_budget)
    r = r.left_join(inst, _INST).drop(f"{_INST}_right")
    return r.select(
        year=ibis.literal(y, "int64"),
        as_of=ibis.literal(as_of),
        institution_code=r.institution_code,
        institution_name=r.institution_name,
        region_code=r.region_code,
        level=r.level.cast("int64"),
        total_budget=ibis.ifelse(r.total_budget.isnull(), ibis.null("float64"), budget),
        spending=r.spending,
        months_counted=r.months_counted,
        last_month=r.last_month,
        spending_progress=r.spending_progress,
        time_progress=tp,
        gap=r.spending_progress - tp,
        ahead_amount=ibis.ifelse(r.has_budget, r.spending - budget * tp, ibis.null("float64")),
        remaining_budget=ibis.ifelse(r.has_budget, budget - r.spending, ibis.null("float64")),
        projected_spending=r.spending / tp,
        over_budget=r.has_budget & (r.spending_fen > r.budget_fen),
        status=ibis.ifelse(~r.has_budget, "no_budget", ibis.ifelse(r.ahead, "ahead", "normal")),
    )


def budget_totals(result: ir.Table) -> ir.Table:
    """One row: sums over :func:`budget_progress`; see TOTALS."""
    with_budget = result.status != "no_budget"
    g = result.aggregate(
        year=result.year.max(), as_of=result.as_of.max(),
        institutions=result.count().cast("int64"),
        total_budget=result.total_budget.fill_null(0.0).sum(),
        spending=ibis.ifelse(with_budget, result.spending, 0.0).sum(),
        time_progress=result.time_progress.max(),
        ahead=ibis.ifelse(result.status == "ahead", 1, 0).sum().cast("int64"),
        over_budget=ibis.ifelse(result.over_budget, 1, 0).sum().cast("int64"),
        no_budget=ibis.ifelse(result.status == "no_budget", 1, 0).sum().cast("int64"),
    )
    g = g.mutate(spending_progress=ibis.ifelse(g.total_budget > 0, g.spending / g.total_budget, ibis.null("float64")))
    return g.select(*[c.name for c in TOTALS])


def budget_consult(wh: Warehouse, as_of: date, policy: Policy | None = None) -> ir.Table:
    """The quarterly consultation's list (会商重点机构): the institutions ahead of time progress by more than
    ``budget_ahead_margin``, ranked by the gap, most ahead first (ties by institution code); see CONSULT."""
    r = budget_progress(wh, as_of, policy)
    r = r.filter(r.status == "ahead")
    rank = ibis.row_number().over(order_by=[r.gap.desc(), r.institution_code]) + 1
    return r.mutate(rank=rank.cast("int64")).select(*[c.name for c in CONSULT])


# -- the registered measures ---------------------------------------------------------------------------

def _listed_totals(t: ir.Table) -> ir.Table:
    # a year without budgets or spending has no totals row (as a measure's rows: nothing to list)
    return t.filter(t.institutions > 0)


_INSTITUTION = Dims(institution="institution_code", region="region_code")
_MONEY = ("total_budget", "spending", "ahead_amount", "remaining_budget")

MEASURES = (
    Measure(
        name="budget", title_zh="预算执行进度", title_en="Budget progress",
        compute=lambda wh, a: budget_progress(wh, a.as_of, a.policy),
        params=("as_of",), inputs=INPUT_TABLES, columns=COLUMNS, dims=_INSTITUTION, roles=FUND_ROLES,
        sort=("institution_code",), policy=("budget_ahead_margin",), labels={"status": STATUS}, totals=_MONEY,
        group="fund", doc=__doc__,
    ),
    Measure(
        name="budget-consult", title_zh="会商重点机构", title_en="Institutions for the quarterly consultation",
        compute=lambda wh, a: budget_consult(wh, a.as_of, a.policy),
        params=("as_of",), inputs=INPUT_TABLES, columns=CONSULT, dims=_INSTITUTION, roles=FUND_ROLES,
        sort=("rank",), policy=("budget_ahead_margin",), labels={"status": STATUS}, totals=_MONEY, group="fund",
        doc=__doc__, command=False, web=False,  # a list of `jicai budget`
    ),
    Measure(
        name="budget-totals", title_zh="预算执行合计", title_en="Budget progress totals",
        compute=lambda wh, a: _listed_totals(budget_totals(budget_progress(wh, a.as_of, a.policy))),
        params=("as_of",), inputs=INPUT_TABLES, columns=TOTALS, dims=Dims(), roles=FUND_ROLES,
        policy=("budget_ahead_margin",), group="fund", doc=__doc__, command=False, web=False,  # a list of `jicai budget`
    ),
)
