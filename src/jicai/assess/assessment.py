"""Annual assessment (年度考核): pass/fail, score, rank and retention per institution, batch and cycle year.

At the end of cycle year k (001 监测考核; 003 每月监测、季度通报、年度考核) every institution with an
agreement in (batch, k) is assessed on the monitoring figures of the year (see :mod:`jicai.assess.basis`):

* fail item ``completion`` 未完成约定采购量 — a non-exempt variety with completion < ``min_completion``
  (exactly equal passes; a variety with agreed volume 0 is not judged);
* fail item ``nonselected_share`` 非中选占比超标 — a variety with non-selected share >
  ``nonselected_share_max`` (exactly 0.5 passes);
* passed = no fail item. ``failed_items`` lists the codes, ``failed_items_zh`` the varieties with their
  figures ("完成率:品种一 85.0% < 100%;非中选占比:品种二 62.0% > 50%"), sorted by text within an item;
* the score (see :mod:`jicai.assess.score`) on institution-level figures: completion = Σ_v min(selected_v,
  agreed_v) / Σ_v agreed_v over non-exempt varieties (capped per variety, so over-buying one variety
  cannot hide another), non-selected share = Σ counted non-selected / (Σ selected + Σ counted), payment
  rate = Σ paid by due / Σ due, offline share = Σ offline / Σ order amount, cost growth (see
  :mod:`jicai.assess.cost_growth`);
* ``rank_in_level``: 1 = best score among the institutions of the same level in the batch and year; ties
  share a rank (competition ranking 1, 2, 2, 4);
* retention and overspend sharing (see :mod:`jicai.assess.retention`).

Parameters are the entries in force on the assessment date. Everything is one Ibis expression (the
batch's start date is read first to fix the dates).

>>> from jicai.store import connect
>>> from jicai.contract.arrow import empty, from_pylist
>>> from jicai.measures.monitor import INPUT_TABLES
>>> from datetime import date
>>> wh = connect("duckdb://")
>>> for name in INPUT_TABLES: _ = wh.write_table(name, empty(name))
>>> _ = wh.write_table("batches", from_pylist("batches", [{"batch_id": "B1", "name": "一", "category": "drug",
...                    "start_date": date(2024, 1, 1), "cycle_years": 2}]))
>>> assess(wh, "B1", 1).to_pyarrow().num_rows
0
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.assess.basis import variety_rows
from jicai.assess.cost_growth import growth, purchase_amounts
from jicai.assess.period import assessment_period
from jicai.assess.retention import retention_columns, trace_columns
from jicai.assess.score import score_columns
from jicai.assess.text import percent, threshold
from jicai.measures.exact import basis_points, fen, ratio_above, ratio_below, yuan
from jicai.measures.progress import ratio
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

# code → (中文, English)
FAIL_ITEMS: dict[str, tuple[str, str]] = {
    "completion": ("未完成约定采购量", "a non-exempt variety with completion below min_completion"),
    "nonselected_share": ("非中选占比超标", "a variety with non-selected share above nonselected_share_max"),
}

ASSESS_COLUMNS: dict[str, tuple[str, str]] = {
    "institution_code": ("医疗机构编码", "institution code"),
    "institution_name": ("医疗机构名称", "institution name"),
    "region_code": ("所属区划", "region code of the institution"),
    "level": ("医院等级", "institution level (3/2/1/0 = 三级/二级/一级/未定级)"),
    "batch_id": ("批次编号", "procurement batch"),
    "cycle_year": ("采购年度", "cycle year k assessed"),
    "cycle_start": ("年度开始日", "first day of cycle year k"),
    "cycle_end": ("年度结束日", "last day of cycle year k"),
    "as_of": ("考核截止日", "last day assessed: cycle_end, or earlier for a provisional assessment"),
    "varieties": ("约定品种数", "varieties with an agreement of the institution in (batch, k)"),
    "exempt_varieties": ("豁免品种", "special varieties exempt from the completion item (names, `;`-separated)"),
    "passed": ("考核合格", "no fail item"),
    "failed_items": ("不合格项目", "`;`-separated fail item codes: completion, nonselected_share (empty when passed)"),
    "failed_items_zh": ("不合格原因", "the failing varieties with their figures, e.g. 完成率:品种一 85.0% < 100%"),
    "completion": ("完成率(非豁免品种合计)", "Σ min(selected, agreed) / Σ agreed over non-exempt varieties; null when Σ agreed is 0"),
    "completion_points": ("完成率得分", "points of the completion item"),
    "nonselected_share": ("非中选占比", "Σ counted non-selected / (Σ selected + Σ counted non-selected); null when 0"),
    "nonselected_points": ("非中选占比得分", "points of the non-selected share item"),
    "payment_rate": ("回款率", "Σ paid by due / Σ amount due; null when nothing was due"),
    "payment_points": ("回款率得分", "points of the payment item"),
    "offline_share": ("线下采购占比", "Σ offline amount / Σ order amount; null without orders"),
    "offline_points": ("线下采购占比得分", "points of the offline item"),
    "purchase_amount": ("本年度采购金额", "accepted amount of all products of the batch's varieties in the assessed period (to the fen)"),
    "prior_amount": ("上年同期采购金额", "the same a year earlier (before the batch start for k = 1)"),
    "cost_growth": ("费用增长率", "purchase_amount / prior_amount − 1; null when prior_amount is 0"),
    "cost_growth_points": ("费用增长率得分", "points of the cost growth item"),
    "score": ("考核得分", "sum of the five items' points (0–100), rounded to 6 decimals"),
    "score_items": ("得分明细", "each item's figure and points; an undefined figure says so and earns full weight"),
    "score_defaulted": ("按满分计项目", "`;`-separated items scored at full weight because their figure is undefined"),
    "rank_in_level": ("同级排名", "rank of the score among institutions of the same level in the batch and year (ties share)"),
    "budget": ("结余留用预算", "Σ of the budget terms: agreed_volume × baseline_unit_price × fund_payment_ratio per variety with a price, each to the fen"),
    "actual": ("实际采购金额", "Σ of the actual terms: (selected + non-selected amount) × fund_payment_ratio per variety with a price, each to the fen"),
    "budget_missing_varieties": ("缺集采前价格品种", "varieties without a baseline price, left out of budget and actual"),
    "retention_base": ("结余金额", "max(0, budget − actual)"),
    "retention_ratio": ("结余留用比例", "ratio of the first retention tier reached by the score; 0 when failed"),
    "reward": ("结余留用奖励", "retention_base × retention_ratio, rounded half up to the fen"),
    "overspend": ("超支金额", "max(0, actual − budget)"),
    "overspend_shared": ("合理超支分担", "overspend_share × overspend for institutions that passed (rounded half up to the fen), else 0"),
}

_INST = ["institution_code", "institution_name", "region_code", "level", "batch_id", "cycle_year"]


def assess(wh: Warehouse, batch_id: str, year: int, policy: Policy | None = None,
           as_of: date | None = None) -> ir.Table:
    """The assessment of cycle year ``year`` of ``batch_id``, one row per institution; see ASSESS_COLUMNS.

    ``as_of`` (inside the cycle year) gives a provisional assessment on the purchases so far; by default
    the whole year is assessed. Raises :class:`jicai.assess.period.AssessmentError` for a batch or year
    that does not exist.
    """
    policy = policy or load_policy()
    period = assessment_period(wh, batch_id, year, as_of)
    on = period.as_of

    def pv(name: str):
        return policy.value(name, on=on)

    min_c, max_s = float(pv("min_completion")), float(pv("nonselected_share_max"))
    rows = trace_columns(variety_rows(wh, period, policy), pv("fund_payment_ratio"))
    # the gates in basis points, cross-multiplied: completion = selected / agreed, share = counted /
    # (selected + counted), so neither division's last digit decides a figure exactly on the edge
    comp_fail = (~rows.exempt & (rows.agreed_volume > 0)
                 & ratio_below(rows.selected_volume, rows.agreed_volume, basis_points(min_c))).fill_null(False)
    share_fail = ratio_above(rows.nonselected_counted_volume,
                             rows.selected_volume + rows.nonselected_counted_volume,
                             basis_points(max_s)).fill_null(False)
    r = rows.mutate(
        comp_fail=comp_fail,
        share_fail=share_fail,
        comp_text="完成率:" + rows.variety_label + " " + percent(rows.completion, "down") + " < " + threshold(min_c),
        share_text=("非中选占比:" + rows.variety_label + " " + percent(rows.nonselected_share, "up")
                    + " > " + threshold(max_s)),
        capped=ibis.ifelse(rows.exempt, 0.0, ibis.least(rows.selected_volume, rows.agreed_volume)),
        agreed_judged=ibis.ifelse(rows.exempt, 0.0, rows.agreed_volume),
    )

    def listed(text: ir.StringValue, where: ir.BooleanValue) -> ir.StringScalar:
        return text.collect(where=where).sort().join(";")

    g = r.group_by(_INST).agg(
        varieties=r.count().cast("int64"),
        completion_failures=ibis.ifelse(r.comp_fail, 1, 0).sum(),
        share_failures=ibis.ifelse(r.share_fail, 1, 0).sum(),
        comp_text=listed(r.comp_text, r.comp_fail),
        share_text=listed(r.share_text, r.share_fail),
        exempt_varieties=listed(r.variety_label, r.exempt),
        budget_missing_varieties=listed(r.variety_label, r.price_missing),
        capped=r.capped.sum(),
        agreed_judged=r.agreed_judged.sum(),
        selected_volume=r.selected_volume.sum(),
        counted=r.nonselected_counted_volume.sum(),
        paid_by_due=r.paid_by_due.sum(),
        amount_due=r.amount_due.sum(),
        offline_amount=r.offline_amount.sum(),
        order_amount=r.order_amount.sum(),
        budget_fen=r.budget_fen.sum().fill_null(0),
        actual_fen=r.actual_fen.sum().fill_null(0),
    )
    cg = purchase_amounts(wh, period)
    g = g.left_join(cg, "institution_code").drop("institution_code_right")
    comp_text, share_text = g.comp_text.fill_null(""), g.share_text.fill_null("")
    g = g.mutate(
        exempt_varieties=g.exempt_varieties.fill_null(""),
        budget_missing_varieties=g.budget_missing_varieties.fill_null(""),
        passed=(g.completion_failures == 0) & (g.share_failures == 0),
        failed_items=(ibis.ifelse(g.completion_failures > 0, ";completion", "")
                      + ibis.ifelse(g.share_failures > 0, ";nonselected_share", "")).substr(1),
        failed_items_zh=ibis.ifelse((comp_text != "") & (share_text != ""), comp_text + ";" + share_text,
                                    comp_text + share_text),
        completion=ratio(g.capped, g.agreed_judged),
        nonselected_share=ratio(g.counted, g.selected_volume + g.counted),
        payment_rate=ratio(g.paid_by_due, g.amount_due),
        offline_share=ratio(g.offline_amount, g.order_amount),
        purchase_fen=g.purchase_fen.fill_null(0),
        prior_fen=g.prior_fen.fill_null(0),
        cycle_start=ibis.literal(period.cycle_start),
        cycle_end=ibis.literal(period.cycle_end),
        as_of=ibis.literal(period.as_of),
    )
    g = g.mutate(cost_growth=growth(g.purchase_fen, g.prior_fen),
                 purchase_amount=yuan(g.purchase_fen), prior_amount=yuan(g.prior_fen))
    g = score_columns(g, policy, on)
    g = retention_columns(g, policy, on)
    w = ibis.window(group_by=[g.batch_id, g.cycle_year, g.level], order_by=ibis.desc(g.score))
    g = g.mutate(rank_in_level=(ibis.rank().over(w) + 1).cast("int64"),
                 level=g.level.cast("int64"), cycle_year=g.cycle_year.cast("int64"))
    return g.select(*ASSESS_COLUMNS)


# -- totals ----------------------------------------------------------------------------------------------

TOTALS: dict[str, tuple[str, ...]] = {
    "region": ("batch_id", "cycle_year", "city_code"),
    "batch": ("batch_id", "cycle_year"),
    "level": ("batch_id", "cycle_year", "level"),
}

ASSESS_TOTALS_COLUMNS: dict[str, tuple[str, str]] = {
    "city_code": ("地市区划", "city: the first 4 digits of region_code followed by 00"),
    "institutions": ("机构数", "institutions assessed"),
    "passed": ("合格数", "institutions that passed"),
    "failed": ("不合格数", "institutions that failed"),
    "budget": ("结余留用预算", "Σ budget"),
    "actual": ("实际采购金额", "Σ actual"),
    "retention_base": ("结余金额", "Σ retention_base"),
    "reward": ("结余留用奖励", "Σ reward"),
    "overspend": ("超支金额", "Σ overspend"),
    "overspend_shared": ("合理超支分担", "Σ overspend_shared"),
}


MONEY_TOTALS = ("budget", "actual", "retention_base", "reward", "overspend", "overspend_shared")


def assess_totals(expr: ir.Table, by: str | Sequence[str]) -> ir.Table:
    """Totals of assessment rows by ``"region"`` (city prefix), ``"batch"``, ``"level"`` or columns.

    Region and level totals stay within a batch and cycle year.
    """
    t = expr.mutate(city_code=expr.region_code.substr(0, 4) + "00")
    keys = list(TOTALS[by]) if isinstance(by, str) and by in TOTALS else ([by] if isinstance(by, str) else list(by))
    g = t.group_by(keys).agg(
        institutions=t.institution_code.nunique().cast("int64"),
        passed=ibis.ifelse(t.passed, 1, 0).sum().cast("int64"),
        failed=ibis.ifelse(t.passed, 0, 1).sum().cast("int64"),
        # the rows hold fen / 100: summed as integer fen, the total is the rows' sum to the fen
        **{c: yuan(fen(t[c]).sum()) for c in MONEY_TOTALS},
    )
    return g.select(*keys, *(c for c in ASSESS_TOTALS_COLUMNS if c in g.columns and c not in keys))
