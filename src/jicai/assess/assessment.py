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

from jicai.assess import retention
from jicai.assess.basis import variety_rows
from jicai.assess.cost_growth import growth, purchase_amounts
from jicai.assess.period import assessment_period
from jicai.assess.retention import TRACE_COLUMNS, retention_columns, retention_trace, trace_columns
from jicai.assess.score import SCORE_ITEMS, score_columns
from jicai.assess.text import percent, threshold
from jicai.contract.columns import col, cols
from jicai.measures.exact import basis_points, fen, ratio_above, ratio_below, yuan
from jicai.measures.monitor import INPUT_TABLES
from jicai.measures.progress import ratio
from jicai.measures.registry import Args, Dims, Measure
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

# code → (中文, English)
FAIL_ITEMS: dict[str, tuple[str, str]] = {
    "completion": ("未完成约定采购量", "a non-exempt variety with completion below min_completion"),
    "nonselected_share": ("非中选占比超标", "a variety with non-selected share above nonselected_share_max"),
}

# the assessment's columns (see the vocabulary, jicai.contract.columns); the institution-level figures are
# ratios of sums over the institution's varieties, narrower than the monitoring's per-variety ones
COLUMNS = cols(
    "institution_code", "institution_name", "region_code", "level", "batch_id", "cycle_year", "cycle_start",
    "cycle_end", "as_of", "varieties", "exempt_varieties", "passed", "failed_items", "failed_items_zh", "completion",
    "completion_points", "nonselected_share", "nonselected_points", "payment_rate", "payment_points",
    "offline_share", "offline_points", "purchase_amount", "prior_amount", "cost_growth", "cost_growth_points",
    "score", "score_items", "score_defaulted", "rank_in_level", "budget", "actual", "budget_missing_varieties",
    "retention_base", "retention_ratio", "reward", "overspend", "overspend_shared",
    cycle_year=("采购年度", "cycle year k assessed"),
    completion=("完成率(非豁免品种合计)",
                "Σ min(selected, agreed) / Σ agreed over non-exempt varieties; null when Σ agreed is 0"),
    nonselected_share=("非中选占比", "Σ counted non-selected / (Σ selected + Σ counted non-selected); null when 0"),
    payment_rate=("回款率", "Σ paid by due / Σ amount due; null when nothing was due"),
    offline_share=("线下采购占比", "Σ offline amount / Σ order amount; null without orders"),
)
NAMES = tuple(c.name for c in COLUMNS)

_INST = ["institution_code", "institution_name", "region_code", "level", "batch_id", "cycle_year"]


def assess(wh: Warehouse, batch_id: str, year: int, policy: Policy | None = None,
           as_of: date | None = None, monitoring: ir.Table | None = None) -> ir.Table:
    """The assessment of cycle year ``year`` of ``batch_id``, one row per institution; see COLUMNS.

    ``as_of`` (inside the cycle year) gives a provisional assessment on the purchases so far; by default
    the whole year is assessed. Raises :class:`jicai.assess.period.AssessmentError` for a batch or year
    that does not exist. ``monitoring``: the monitoring of every batch as of the assessment date, when the
    caller has it already (:func:`jicai.assess.basis.variety_rows`).
    """
    policy = policy or load_policy()
    period = assessment_period(wh, batch_id, year, as_of)
    on = period.as_of

    def pv(name: str):
        return policy.value(name, on=on)

    min_c, max_s = float(pv("min_completion")), float(pv("nonselected_share_max"))
    rows = trace_columns(variety_rows(wh, period, policy, monitoring), pv("fund_payment_ratio"))
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
    return g.select(*NAMES)


# -- totals ----------------------------------------------------------------------------------------------

TOTALS: dict[str, tuple[str, ...]] = {
    "region": ("batch_id", "cycle_year", "city_code"),
    "batch": ("batch_id", "cycle_year"),
    "level": ("batch_id", "cycle_year", "level"),
}

# the figures of a total (a count, narrower than the vocabulary's "passed" flag, keeps its name in the rows)
TOTALS_COLUMNS = (
    *cols("city_code", "institutions", institutions=("机构数", "institutions assessed")),
    col("passed", "合格数", "institutions that passed", kind="int"),
    *cols("failed", "budget", "actual", "retention_base", "reward", "overspend", "overspend_shared",
          budget=("结余留用预算", "Σ budget"), actual=("实际采购金额", "Σ actual"),
          retention_base=("结余金额", "Σ retention_base"), reward=("结余留用奖励", "Σ reward"),
          overspend=("超支金额", "Σ overspend"), overspend_shared=("合理超支分担", "Σ overspend_shared")),
)
TOTALS_NAMES = tuple(c.name for c in TOTALS_COLUMNS)


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
    return g.select(*keys, *(c for c in TOTALS_NAMES if c in g.columns and c not in keys))


def assessment_totals(expr: ir.Table, by: str | Sequence[str]) -> ir.Table:
    """:func:`assess_totals` with the pass rate, the mean score and the institutions rewarded of the same
    groups: the lists of the annual report (by city, by level) and of ``jicai assess`` (by city)."""
    keys = list(TOTALS[by]) if isinstance(by, str) and by in TOTALS else ([by] if isinstance(by, str) else list(by))
    t = assess_totals(expr, by)
    s = expr.mutate(city_code=expr.region_code.substr(0, 4) + "00")
    s = s.group_by(keys).agg(mean_score=s.score.mean(), rewarded=ibis.ifelse(s.reward > 0, 1, 0).sum().cast("int64"))
    t = t.join(s, keys)
    t = t.mutate(pass_rate=ratio(t.passed, t.institutions))
    return t.select(*keys, *(c.name for c in GROUP_FIGURES))


# -- the registered measures -----------------------------------------------------------------------------

# the policy parameters read: the monitoring's (the basis of every figure), then the assessment's own —
# fail items, score bands, retention tiers and overspend sharing
MONITOR_POLICY = ("payment_due", "volume_basis", "backup_substitution", "supply_problem_exclusion",
                  "special_treatment")
POLICY = (*MONITOR_POLICY, "nonselected_share_max", "min_completion",
          *(f"score_{p}{stem}{q}" for _zh, _col, stem, _u in SCORE_ITEMS.values()
            for p, q in (("weight_", ""), ("", "_full"), ("", "_zero"))),
          "fund_payment_ratio", "retention_tiers", "overspend_share")
# who sees an institution's assessment: the bureau, its auditors and the institution itself; sums over
# institutions only the bureau and its auditors
ROLES = ("admin", "bureau", "auditor", "institution")
BUREAU_ROLES = ("admin", "bureau", "auditor")

PASSED = {"true": ("合格", "passed: no fail item"), "false": ("不合格", "failed: at least one fail item")}
SCORE_DEFAULTED = {code: (zh, f"{figure} undefined ({undefined}): scored at full weight")
                   for code, (zh, figure, _stem, undefined) in SCORE_ITEMS.items()}
LABELS = {"passed": PASSED, "failed_items": FAIL_ITEMS, "score_defaulted": SCORE_DEFAULTED}
# the money of an institution's row that adds up over institutions (a workbook's 合计 row)
MONEY = ("purchase_amount", "prior_amount", "budget", "actual", "retention_base", "reward", "overspend",
         "overspend_shared")

# the figures of a group of institutions (by city, by level): counts, rates and summed money
GROUP_FIGURES = (
    *(c for c in TOTALS_COLUMNS if c.name in ("institutions", "passed", "failed")),
    *cols("pass_rate", "mean_score", "rewarded"),
    *(c for c in TOTALS_COLUMNS if c.name in MONEY),
)
GROUP_TOTALS = ("institutions", "passed", "failed", "rewarded", *(c for c in MONEY if c in TOTALS_NAMES))


def provisional_as_of(wh: Warehouse, args: Args) -> date | None:
    """The as-of date of ``args`` when it falls inside the cycle year before its last day (a provisional
    assessment); None — the whole year — for no date, a date on or after the year's end, or before its start
    (a page asks for any day; the command refuses a day outside the year before it computes)."""
    if args.as_of is None:
        return None
    period = assessment_period(wh, args.batch, args.year)
    return args.as_of if period.cycle_start <= args.as_of < period.cycle_end else None


def _assessment(wh: Warehouse, a: Args) -> ir.Table:
    return assess(wh, a.batch, a.year, a.policy, provisional_as_of(wh, a))


def _by(by: str):
    def compute(wh: Warehouse, a: Args) -> ir.Table:
        return assessment_totals(_assessment(wh, a), by)

    return compute


def _trace(wh: Warehouse, a: Args) -> ir.Table:
    return retention_trace(wh, a.batch, a.year, a.policy, provisional_as_of(wh, a))


_PARAMS = ("batch", "year", "as_of")
_NOTE_ZH = "考核结果、得分、结余留用奖励(年度未结束时为截至日期的预计数)"
_NOTE_EN = "Assessment, score and surplus-retention reward (provisional before the year ends)"

MEASURES = (
    Measure(
        name="assessment", title_zh="年度考核", title_en="Annual assessment", compute=_assessment,
        params=_PARAMS, optional=("as_of",), inputs=INPUT_TABLES, columns=COLUMNS,
        dims=Dims(institution="institution_code", region="region_code"), roles=ROLES, sort=("institution_code",),
        policy=POLICY, labels=LABELS, totals=MONEY, group="assessment", note_zh=_NOTE_ZH, note_en=_NOTE_EN,
        doc=__doc__, cli="assess",  # `jicai assess` (hand-written: it stores the rows and writes three lists)
    ),
    Measure(
        name="assessment-by-region", title_zh="年度考核分地区汇总", title_en="Annual assessment by city",
        compute=_by("region"), params=_PARAMS, optional=("as_of",), inputs=INPUT_TABLES,
        columns=(*cols("batch_id", "cycle_year", "city_code"), *GROUP_FIGURES), dims=Dims(region="city_code"),
        roles=BUREAU_ROLES, sort=("batch_id", "cycle_year", "city_code"), policy=POLICY, totals=GROUP_TOTALS,
        group="assessment", note_zh="每地市一行:考核机构数、合格数、合格率、平均得分、结余留用",
        note_en="One row per city: institutions assessed, passed, pass rate, mean score, retention",
        doc=__doc__, command=False, web=False,  # a list of `jicai assess` and of the annual report
    ),
    Measure(
        name="assessment-by-level", title_zh="年度考核按医院等级汇总", title_en="Annual assessment by level",
        compute=_by("level"), params=_PARAMS, optional=("as_of",), inputs=INPUT_TABLES,
        columns=(*cols("batch_id", "cycle_year", "level"), *GROUP_FIGURES), dims=Dims(), roles=BUREAU_ROLES,
        sort=("batch_id", "cycle_year", "level"), policy=POLICY, totals=GROUP_TOTALS, group="assessment",
        note_zh="每个医院等级一行", note_en="One row per institution level",
        doc=__doc__, command=False, web=False,  # a list of the annual report
    ),
    Measure(
        name="retention-trace", title_zh="结余留用明细", title_en="Surplus retention trace", compute=_trace,
        params=_PARAMS, optional=("as_of",), inputs=INPUT_TABLES, columns=TRACE_COLUMNS,
        dims=Dims(institution="institution_code", region="region_code", variety="variety_id"), roles=ROLES,
        sort=("institution_code", "variety_id"), policy=(*MONITOR_POLICY, "fund_payment_ratio"), totals=("budget_term", "selected_amount", "nonselected_amount", "purchase_amount", "actual_term"),
        group="assessment", note_zh="每家机构每个约定品种一行:预算金额与实际金额,之和即机构的预算与实际",
        note_en="Per institution × agreed variety: the budget and actual terms that add up to the institution's",
        doc=retention.__doc__ or "", command=False, web=False,  # a list of `jicai assess`
    ),
)
