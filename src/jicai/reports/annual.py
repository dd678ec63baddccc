"""年度考核结果 (annual assessment report), seed 003 四(五) 年度考核 and 001 监测考核.

Built on ``assess.assessment.assess`` (one row per institution: pass/fail with reasons, score, rank in
level, retention reward) and its ``assessment_totals``: the paragraphs say how many passed, why the others
failed and what the retention rewards come to; the lists are every result, the failures, the rewards
and the totals by city and level, with charts of the pass rate. The assessment is computed once on the
warehouse's engine; everything after is an Ibis selection on its rows. The lists' columns — labels, kinds,
the names of coded values — are the registered measures' (``assessment``, ``assessment-by-region``,
``assessment-by-level``), so the report, the page and ``jicai assess`` show a figure alike.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from jicai import clock
from jicai.contract.columns import col
from jicai.measures.registry import Measure, measure
from jicai.policy import Policy, load_policy
from jicai.reports import lists, paragraphs
from jicai.reports.charts import share_chart
from jicai.reports.documents import LEVELS, Chart, Column, Report, ReportError, Table
from jicai.reports.paragraphs import AssessmentFigures, Named
from jicai.store import Warehouse

TITLE = "集中带量采购年度考核结果"

RESULT = ("institution_code", "institution_name", "region_code", "level", "varieties", "passed", "failed_items_zh",
          "completion", "nonselected_share", "payment_rate", "offline_share", "cost_growth", "score",
          "rank_in_level", "budget", "actual", "retention_base", "retention_ratio", "reward", "overspend_shared")
# 合格 否 never without its reason (不合格原因): last, where a long list of failing items has the room to wrap
RESULT_BRIEF = ("institution_name", "level", "passed", "score", "rank_in_level", "completion", "nonselected_share",
                "payment_rate", "reward", "failed_items_zh")
RESULT_TOTALS = ("varieties", "budget", "actual", "retention_base", "reward", "overspend_shared")
TOTAL_FIGURES = ("institutions", "passed", "failed", "pass_rate", "mean_score", "budget", "actual",
                 "retention_base", "reward", "overspend_shared")
TOTAL_SUMS = ("passed", "failed", "budget", "actual", "retention_base", "reward", "overspend_shared")


def _columns(m: Measure, names: tuple[str, ...], totals: tuple[str, ...]) -> list[Column]:
    """The report columns ``names`` as measure ``m`` declares them; a column the report adds (city_name) from
    the report's own labels."""
    out = []
    for n in names:
        if n in m.column_names:
            c = m.column(n)
        else:
            zh, en = lists.REPORT_COLUMNS[n]
            c = col(n, zh, en, "text")
        out.append(Column.of(c, n in totals, m.labels.get(n)))
    return out


def _has(item: str, failed_items: ir.StringValue) -> ir.BooleanValue:
    return (";" + failed_items.fill_null("") + ";").contains(f";{item};")


def annual_report(wh: Warehouse, batch_id: str, year: int, policy: Policy | None = None, as_of: date | None = None,
                  computed_at: datetime | None = None, scope: str = "全省") -> Report:
    from jicai.assess.assessment import assess, assessment_totals
    from jicai.assess.period import AssessmentError, assessment_period

    policy = policy or load_policy()
    try:
        period = assessment_period(wh, batch_id, year, as_of)
        a = lists.frozen(assess(wh, batch_id, year, policy, as_of))
    except AssessmentError as exc:
        raise ReportError(exc.zh, exc.en) from exc
    batch_names = lists.names(wh, "batches", "batch_id", "batch_name")
    city_names = lists.names(wh, "regions", "region_code", "city_name")
    name = (lists.rows(batch_names.filter(batch_names.batch_id == batch_id)) or [{"batch_name": None}])[0]["batch_name"]

    (t,) = lists.rows(assessment_totals(a.mutate(scope=ibis.literal("合计")), ["scope"])) or [None]
    counts = lists.rows(a.aggregate(completion_failed=_has("completion", a.failed_items).sum(),
                                    share_failed=_has("nonselected_share", a.failed_items).sum()))[0]
    t = t or {}
    f = AssessmentFigures(
        batch_id=batch_id, batch_name=name, cycle_year=period.cycle_year, cycle_start=period.cycle_start,
        cycle_end=period.cycle_end, as_of=period.as_of, institutions=t.get("institutions", 0),
        passed=t.get("passed", 0), failed=t.get("failed", 0), pass_rate=t.get("pass_rate"),
        completion_failed=int(counts["completion_failed"] or 0), share_failed=int(counts["share_failed"] or 0),
        mean_score=t.get("mean_score"), reward=t.get("reward") or 0.0, rewarded=t.get("rewarded", 0),
        overspend_shared=t.get("overspend_shared") or 0.0)
    failed = a.filter(~a.passed).order_by(["score", "institution_code"])
    failing = [Named(r["institution_name"], r["score"], note=paragraphs.reason_summary(r["failed_items_zh"]))
               for r in lists.rows(failed.limit(3))]

    results = measure("assessment")

    def result_table(key: str, title: str, expr: ir.Table, note: str, brief=RESULT_BRIEF) -> Table:
        return Table(key, title, _columns(results, RESULT, RESULT_TOTALS), lists.rows(expr),
                     totals=lists.sums(expr, RESULT_TOTALS), note=note, brief=brief)

    def totals_table(key: str, title: str, m: Measure, expr: ir.Table, keys: tuple[str, ...], note: str) -> Table:
        return Table(key, title, _columns(m, (*keys, *TOTAL_FIGURES), TOTAL_SUMS), lists.rows(expr),
                     totals=t or None, note=note)

    ordered = a.order_by([ibis.desc("level"), "rank_in_level", "institution_code"])
    rewards = a.filter(a.reward > 0).order_by([ibis.desc("reward"), "institution_code"])
    by_city = assessment_totals(a, "region")
    by_city = by_city.left_join(city_names, by_city.city_code == city_names.region_code).drop("region_code")
    by_city = by_city.mutate(city_name=by_city.city_name.fill_null(by_city.city_code)).order_by("city_code")
    by_level = assessment_totals(a, "level").order_by(ibis.desc("level"))
    city_rows, level_rows = lists.rows(by_city), lists.rows(by_level)

    tables = [
        result_table("results", "考核结果", ordered, "全部参与考核的医疗机构，按医院等级、同级排名排序。"),
        result_table("failed", "不合格机构", failed, "考核不合格的医疗机构及原因，得分低的在前。",
                     brief=("institution_name", "level", "score", "failed_items_zh")),
        result_table("rewards", "结余留用奖励", rewards, "获得结余留用奖励的医疗机构，奖励金额大的在前。",
                     brief=("institution_name", "level", "score", "budget", "actual", "retention_base",
                            "retention_ratio", "reward")),
        totals_table("by_city", "按地市汇总", measure("assessment-by-region"), by_city, ("city_code", "city_name"),
                     "每地市一行。"),
        totals_table("by_level", "按医院等级汇总", measure("assessment-by-level"), by_level, ("level",),
                     "每个医院等级一行。"),
    ]
    charts = [
        Chart("pass_level", "各级医疗机构考核合格率", share_chart(
            "各级医疗机构考核合格率", [(LEVELS.get(r["level"], str(r["level"])), r["pass_rate"]) for r in level_rows],
            None, series="合格率")),
        Chart("pass_city", "各地市考核合格率", share_chart(
            "各地市考核合格率", [(r["city_name"], r["pass_rate"]) for r in city_rows], None, series="合格率")),
    ]
    headline: list[tuple[str, str]] = [
        ("参与考核机构", f"{f.institutions:,} 家"), ("考核合格", f"{f.passed:,} 家"), ("不合格", f"{f.failed:,} 家"),
        ("合格率", paragraphs.pct(f.pass_rate)),
        ("平均得分", paragraphs.score(f.mean_score)),
        ("结余留用奖励", paragraphs.yuan(f.reward)),
    ]
    final = period.as_of == period.cycle_end
    return Report(
        kind="annual", title=TITLE if final else f"{TITLE}（预考核）",
        period=f"第{period.cycle_year}采购年度（{period.cycle_start:%Y-%m-%d} 至 {period.cycle_end:%Y-%m-%d}）",
        as_of=period.as_of, batch_id=batch_id, policy_version=policy.version, policy_label=policy.label,
        computed_at=computed_at or clock.stamp(),
        paragraphs=[paragraphs.opening("annual", period.as_of, scope),
                    paragraphs.assessment_paragraph(f, failing, scope), paragraphs.retention_paragraph(f),
                    paragraphs.closing("annual")],
        headline=headline, tables=tables, charts=charts, notes=assessment_notes(policy, period.as_of))


def assessment_notes(policy: Policy, on: date) -> list[str]:
    """The rules behind the figures, with the policy's values on ``on``: the notes of the annual report and of
    ``jicai assess``'s workbook."""

    def v(name: str) -> Any:
        return policy.value(name, on=on)

    return [
        f"考核合格：各非豁免品种完成率不低于 {paragraphs.pct(v('min_completion'))}，且非中选产品占比不超过 "
        f"{paragraphs.pct(v('nonselected_share_max'))}。",
        "考核得分 0–100 分：完成率、非中选占比、回款率、线下采购占比、费用增长率五项，各项在政策区间内线性计分。",
        "结余留用奖励 = max(0, 预算 − 实际采购金额) × 得分档次对应的留用比例；考核不合格的为 0。"
        "预算 = Σ 约定采购量 × 集采前加权平均价 × 医保基金支付比例；缺集采前价格的品种不计入预算和实际采购金额，"
        "列于“缺集采前价格品种”。",
        f"执行政策 {policy.label}；各项数值由 jicai 年度考核指标计算，可追溯至订单明细。",
    ]
