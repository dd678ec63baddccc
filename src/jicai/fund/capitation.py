"""Capitation surplus return by the median-optimal method (中值最优法) — seed 004.

"利用门诊统筹总体人均支出测算出'合理余量',进而得到各医疗机构实际余量与这一浮动指标的偏差值,偏差值越小,
返还比例越高:偏差5%以内的,按70%返还;偏差5%至10%的,按60%返还;偏差10%至20%的,按50%返还;偏差20%以上的,
按40%返还。" Per institution i of a settlement period (rows of ``capitation`` with that ``period``):

* package ``P = enrolled × per_capita_standard`` (包干总额), surplus ``S = P − actual_spending`` (实际余量);
* overall per-capita spending ``ā = Σ actual_spending / Σ enrolled`` over every institution of the period
  (门诊统筹总体人均支出);
* reasonable spending ``enrolled × ā`` and reasonable surplus ``R = P − enrolled × ā`` (合理余量);
* deviation ``d = |S − R| / |R|``; when ``R = 0`` the package is the base: ``d = |S| / P``; when the base is
  0 as well (no enrolment, or a zero standard) there is no deviation and nothing to return;
* return rate: the first tier of ``capitation_return_tiers`` whose edge ``d`` does not exceed (edges are
  inclusive: exactly 5% → 70%), else ``capitation_return_rate_beyond``;
* returned amount ``= max(S, 0) × rate``: an overspending institution (S < 0) gets nothing back, whatever its
  deviation.

A negative reasonable surplus means the institution's standard is below the overall per-capita spending
(its package is tight); the deviation is still measured against |R|. Exactness: amounts are rounded to fen
(package, actual spending, reasonable spending — halves up) and the tier is chosen by comparing
``|S − R| × 10000 ≤ edge_bp × |R|`` in integers (:mod:`jicai.measures.exact`), so a figure exactly on 5%, 10%
or 20% lands in the lower tier on every engine. Reasonable spending is ``enrolled × Σactual / Σenrolled``
in double precision rounded to fen. The displayed ``deviation`` is the float ratio; the tier never depends
on its last digit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.calendar import month_end, quarter_bounds
from jicai.contract.columns import cols
from jicai.fund import FundError
from jicai.measures.exact import basis_points, fen, ratio_at_most, scaled_share, yuan
from jicai.measures.registry import Args, Dims, Measure
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

INPUT_TABLES = ("capitation", "institutions")

BASES = {"reasonable_surplus": ("合理余量", "|R|"), "package": ("包干总额(合理余量为0)", "P, because R = 0")}

# who sees the fund lists: the bureau and its auditors, and an institution (or pharmacy) its own rows
FUND_ROLES = ("admin", "bureau", "auditor", "institution")

COLUMNS = cols(
    "period", "institution_code", "institution_name", "region_code", "enrolled", "per_capita_standard", "package",
    "actual_spending", "surplus", "overall_per_capita", "reasonable_spending", "reasonable_surplus", "deviation",
    "deviation_basis", "tier", "return_rate", "returned_amount",
)

TOTALS = cols(
    "period", "institutions", "enrolled", "package", "actual_spending", "surplus", "overall_per_capita",
    "returned_amount", "return_share",
    period=("结算期", "settlement period"), institutions=("机构数", "institutions of the period"),
    enrolled=("签约人数", "Σ enrolled"), package=("包干总额", "Σ P"), actual_spending=("实际支出", "Σ actual spending"),
    surplus=("实际余量", "Σ S"), overall_per_capita=("总体人均支出", "ā"),
    returned_amount=("返还金额", "Σ returned amount"),
)

TIERS = cols(
    "tier", "label", "return_rate", "institutions", "surplus", "returned_amount",
    tier=("档次", "tier number: 1 = first tier of capitation_return_tiers …, n + 1 = beyond the last; null: no "
                  "deviation basis"),
    label=("偏差范围", "the tier's deviation band, e.g. 偏差≤5% (无偏差基数 for institutions without a deviation)"),
    return_rate=("返还比例", "rate of the tier; null without a deviation basis"),
    institutions=("机构数", "institutions in the tier"), surplus=("实际余量", "Σ S of the tier"),
    returned_amount=("返还金额", "Σ returned amount of the tier"),
)

NO_BASIS = "无偏差基数"  # the tier label of institutions without a deviation (no enrolment, a zero standard)

_INST = "institution_code"
_PERIOD = re.compile(r"^(\d{4})(?:-?(?:(\d{2})|[Hh]([12])|[Qq]([1-4])|(上半年|下半年)))?$")


def period_end(period: str) -> date:
    """The last day of a settlement period named ``YYYY``, ``YYYY-MM``, ``YYYYH1``/``YYYY-H2``,
    ``YYYYQ3`` or ``YYYY上半年``/``YYYY下半年`` — the day whose policy applies.

    >>> period_end("2024"), period_end("2024-02"), period_end("2024H1"), period_end("2024Q3")
    (datetime.date(2024, 12, 31), datetime.date(2024, 2, 29), datetime.date(2024, 6, 30), datetime.date(2024, 9, 30))
    """
    m = _PERIOD.match(str(period).strip())
    if not m:
        raise FundError(f"无法识别结算期 {period!r}(应为 2024、2024-06、2024H1、2024Q3 或 2024上半年;也可用 --on 指定政策日期)",
                        f"cannot read the settlement period {period!r} (use 2024, 2024-06, 2024H1, 2024Q3; "
                        "or give the policy date with --on)")
    y = int(m.group(1))
    month = 12
    if m.group(2):
        month = int(m.group(2))
        if not 1 <= month <= 12:
            raise FundError(f"结算期月份无效:{period}", f"bad month in settlement period: {period}")
    elif m.group(3):
        month = 6 * int(m.group(3))
    elif m.group(4):
        return quarter_bounds(y, int(m.group(4)))[1]
    elif m.group(5):
        month = 6 if m.group(5) == "上半年" else 12
    return month_end(date(y, month, 1))


def return_tiers(policy: Policy, on: date) -> list[tuple[int, float]]:
    """The tiers in force on ``on`` as (edge in basis points, rate), the beyond-rate last with edge None."""
    tiers = [(basis_points(d), float(r)) for d, r in policy.value("capitation_return_tiers", on=on)]
    return [*tiers, (None, float(policy.value("capitation_return_rate_beyond", on=on)))]


def capitation_return(wh: Warehouse, period: str | Sequence[str], policy: Policy | None = None,
                      on: date | None = None) -> ir.Table:
    """The surplus return of every institution of ``period``; see COLUMNS.

    ``on`` is the day whose policy applies (default: the end of the period, :func:`period_end`). Several
    periods may be given (with ``on``): each is computed on its own, with its own ā.
    """
    policy = policy or load_policy()
    periods = [period] if isinstance(period, str) else list(period)
    if on is None:
        if len(periods) != 1:
            raise FundError("多个结算期需指定政策日期", "several periods need the policy date (on)")
        on = period_end(periods[0])
    tiers = return_tiers(policy, on)
    c = wh.table("capitation")
    c = c.filter(c.period.isin(periods))
    c = c.select(
        "period", _INST,
        enrolled=c.enrolled.cast("int64"),
        per_capita_standard=c.per_capita_standard.cast("float64"),
        package_fen=fen(c.enrolled.cast("float64") * c.per_capita_standard),
        actual_fen=fen(c.actual_spending),
    )
    totals = c.group_by("period").agg(total_actual_fen=c.actual_fen.sum(), total_enrolled=c.enrolled.sum())
    c = c.join(totals, "period")
    # enrolled × ā in double precision, to fen (halves up); no enrolment spends nothing reasonably
    share = (c.enrolled.cast("float64") * c.total_actual_fen.cast("float64")) / c.total_enrolled.cast("float64")
    reasonable_fen = ibis.ifelse(c.enrolled == 0, 0, (share + 0.5).floor().cast("int64"))
    c = c.mutate(reasonable_fen=reasonable_fen.cast("int64"))
    c = c.mutate(surplus_fen=c.package_fen - c.actual_fen, r_fen=c.package_fen - c.reasonable_fen)
    base = ibis.ifelse(c.r_fen != 0, c.r_fen.abs(), c.package_fen)
    gap = ibis.ifelse(c.r_fen != 0, (c.surplus_fen - c.r_fen).abs(), c.surplus_fen.abs())
    c = c.mutate(base_fen=base.cast("int64"), gap_fen=gap.cast("int64"))
    has_base = c.base_fen > 0
    tier = ibis.cases(*[(ratio_at_most(c.gap_fen, c.base_fen, edge), k + 1)
                        for k, (edge, _) in enumerate(tiers[:-1])], else_=len(tiers))
    tier = ibis.ifelse(has_base, tier, ibis.null("int64"))
    rate_bp = ibis.cases(*[(tier == k + 1, basis_points(r)) for k, (_, r) in enumerate(tiers)], else_=0)
    c = c.mutate(tier=tier.cast("int64"), rate_bp=ibis.ifelse(has_base, rate_bp, 0).cast("int64"))
    returned = ibis.ifelse(c.surplus_fen > 0, scaled_share(c.surplus_fen, c.rate_bp), 0)
    inst = wh.table("institutions")
    inst = inst.select(_INST, institution_name=inst.name, region_code=inst.region_code)
    c = c.left_join(inst, _INST).drop(f"{_INST}_right")
    return c.select(
        "period", _INST, "institution_name", "region_code", "enrolled", "per_capita_standard",
        package=yuan(c.package_fen),
        actual_spending=yuan(c.actual_fen),
        surplus=yuan(c.surplus_fen),
        overall_per_capita=ibis.ifelse(c.total_enrolled > 0,
                                       c.total_actual_fen.cast("float64") / c.total_enrolled.cast("float64") / 100.0,
                                       ibis.null("float64")),
        reasonable_spending=yuan(c.reasonable_fen),
        reasonable_surplus=yuan(c.r_fen),
        deviation=ibis.ifelse(has_base, c.gap_fen.cast("float64") / c.base_fen.cast("float64"), ibis.null("float64")),
        deviation_basis=ibis.ifelse(c.r_fen != 0, "reasonable_surplus",
                                    ibis.ifelse(has_base, "package", ibis.null("string"))),
        tier="tier",
        return_rate=ibis.ifelse(has_base, c.rate_bp.cast("float64") / 10000.0, ibis.null("float64")),
        returned_amount=yuan(returned.cast("int64")),
    )


def capitation_totals(result: ir.Table) -> ir.Table:
    """One row per period: sums of :func:`capitation_return`; see TOTALS."""
    g = result.group_by("period").agg(
        institutions=result.institution_code.count().cast("int64"),
        enrolled=result.enrolled.sum().cast("int64"),
        package=result.package.sum(),
        actual_spending=result.actual_spending.sum(),
        surplus=result.surplus.sum(),
        overall_per_capita=result.overall_per_capita.max(),
        returned_amount=result.returned_amount.sum(),
        positive=ibis.greatest(result.surplus, 0.0).sum(),
    )
    return g.select(*[c.name for c in TOTALS if c.name != "return_share"],
                    return_share=ibis.ifelse(g.positive > 0, g.returned_amount / g.positive, ibis.null("float64")))


def tier_labels(policy: Policy, on: date) -> dict[int, str]:
    """Chinese labels of the tiers in force on ``on``: {1: "偏差≤5%", 2: "5%<偏差≤10%", …, 4: "偏差>20%"}."""
    tiers = return_tiers(policy, on)
    labels, low = {}, None
    for k, (edge, _) in enumerate(tiers):
        if edge is None:
            labels[k + 1] = f"偏差>{_pct(low)}"
        else:
            labels[k + 1] = f"偏差≤{_pct(edge)}" if low is None else f"{_pct(low)}<偏差≤{_pct(edge)}"
        low = edge if edge is not None else low
    return labels


def _pct(bp: int | None) -> str:
    return f"{bp / 100:g}%"


def capitation_tiers(wh: Warehouse, period: str, policy: Policy | None = None, on: date | None = None) -> ir.Table:
    """Per tier of the policy in force: its band, rate, institutions, surplus and returned amount; a tier
    nobody reached is listed with 0, institutions without a deviation basis come last (tier null,
    :data:`NO_BASIS`). No row at all for a period without capitation rows; see TIERS."""
    policy = policy or load_policy()
    on = on or period_end(period)
    detail = capitation_return(wh, period, policy, on)
    names = tier_labels(policy, on)
    bands = ibis.memtable({"tier": list(names), "label": list(names.values()),
                           "return_rate": [r for _, r in return_tiers(policy, on)]},
                          schema={"tier": "int64", "label": "string", "return_rate": "float64"})
    sums = detail.group_by("tier").agg(institutions=detail.count().cast("int64"), surplus=detail.surplus.sum(),
                                       returned_amount=detail.returned_amount.sum())
    seen = detail.aggregate(n=detail.count())
    listed = bands.cross_join(seen).filter(lambda t: t.n > 0).drop("n")
    listed = listed.left_join(sums, "tier").drop("tier_right")
    listed = listed.mutate(institutions=listed.institutions.fill_null(0).cast("int64"),
                           surplus=listed.surplus.fill_null(0.0), returned_amount=listed.returned_amount.fill_null(0.0))
    unbased = sums.filter(sums.tier.isnull())
    unbased = unbased.mutate(label=ibis.literal(NO_BASIS), return_rate=ibis.null("float64"))
    shown = [c.name for c in TIERS]
    return ibis.union(listed.select(*shown), unbased.select(*shown))


# -- the registered measures ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PeriodArgs(Args):
    """The arguments of ``jicai capitation``: the period, and the day whose policy applies (``--on``; default
    the end of the period)."""

    on: date | None = None


def _on(a: Args) -> date | None:
    return getattr(a, "on", None)


_POLICY = ("capitation_return_tiers", "capitation_return_rate_beyond")
_SUMMED = ("enrolled", "package", "actual_spending", "surplus", "returned_amount")

MEASURES = (
    Measure(
        name="capitation", title_zh="按人头付费结余返还", title_en="Capitation surplus return",
        compute=lambda wh, a: capitation_return(wh, a.period, a.policy, on=_on(a)),
        params=("period",), inputs=INPUT_TABLES, columns=COLUMNS,
        dims=Dims(institution="institution_code", region="region_code"), roles=FUND_ROLES,
        sort=("institution_code",), policy=_POLICY, labels={"deviation_basis": BASES}, totals=_SUMMED,
        group="fund", note_zh="中值最优法:实际结余与合理结余的偏差越小,返还比例越高",
        note_en="Median-optimal method: the closer the surplus to the reasonable surplus, the higher the return rate",
        doc=__doc__,
    ),
    Measure(
        name="capitation-tiers", title_zh="分档汇总", title_en="Capitation return per tier",
        compute=lambda wh, a: capitation_tiers(wh, a.period, a.policy, on=_on(a)),
        params=("period",), inputs=INPUT_TABLES, columns=TIERS, dims=Dims(), roles=FUND_ROLES, sort=("tier",),
        policy=_POLICY, totals=("institutions", "surplus", "returned_amount"), group="fund", doc=__doc__,
        command=False, web=False,  # a list of `jicai capitation`
    ),
    Measure(
        name="capitation-totals", title_zh="结余返还合计", title_en="Capitation return totals",
        compute=lambda wh, a: capitation_totals(capitation_return(wh, a.period, a.policy, on=_on(a))),
        params=("period",), inputs=INPUT_TABLES, columns=TOTALS, dims=Dims(), roles=FUND_ROLES, sort=("period",),
        policy=_POLICY, group="fund", doc=__doc__, command=False, web=False,  # a list of `jicai capitation`
    ),
)
