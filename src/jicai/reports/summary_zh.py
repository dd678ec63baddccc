"""A short Chinese summary of a monitoring result, for the terminal and the head of a report.

The selection (worst rows, totals) is done by Ibis on the engine; only the handful of rows that are
printed are materialised here.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.measures.monitor import STATUS, rollup


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def qty(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def money(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x / 10_000:,.1f} 万元" if abs(x) >= 10_000 else f"{x:,.0f} 元"


def _rows(expr: ir.Table) -> list[dict]:
    return expr.to_pyarrow().to_pylist()


def in_ddd(volume: float | None, factor: tuple[float | None, str | None] | None) -> str:
    """What a volume in minimum units is in DDDs, to go beside it: "(N DDD)" with the variety's DDDs per unit,
    "(该品种无DDD:why)" without; "" when the variety's factor was not given."""
    if factor is None:
        return ""
    per_unit, why = factor
    if per_unit is None:
        return f"(该品种无DDD:{why})" if why else "(该品种无DDD)"
    return "" if volume is None else f"({qty(volume * per_unit)} DDD)"


def monitoring_summary(m: ir.Table, as_of: date, top: int = 5, units: dict[str, str] | None = None,
                       batch_names: dict[str, str] | None = None,
                       ddd: dict[str, tuple[float | None, str | None]] | None = None) -> list[str]:
    """Lines of a Chinese summary of the monitoring table ``m`` (see measures.monitor.COLUMNS); ``units``
    (variety → its minimum unit, 片/支/人份) says what a quantity still to buy is counted in, ``batch_names``
    names each batch beside its code, ``ddd`` (variety → its DDDs per unit and, without, why: :func:`ddd_factors`)
    puts each quantity in DDDs beside it."""
    units, batch_names, ddd = units or {}, batch_names or {}, ddd or {}
    lines = [f"截至 {as_of:%Y年%m月%d日} 集采执行监测："]
    by_batch = rollup(m, "batch")
    progress = m.group_by("batch_id").agg(time_progress=m.time_progress.max())
    for b in _rows(by_batch.join(progress, "batch_id").order_by("batch_id")):
        lines.append(
            f"· {batch_names.get(b['batch_id'], '批次')}（{b['batch_id']}）：{b['institutions']:,} 家机构、{b['rows']:,} 个约定品种；"
            f"总体完成率 {pct(b['completion'])}（序时进度 {pct(b['time_progress'])}），"
            f"零采购 {b['zero']}、低于序时进度 {b['behind']}、超额完成 {b['over']}、进度正常 {b['normal']}；"
            f"非中选占比 {pct(b['nonselected_share'])}，回款率 {pct(b['payment_rate'])}，"
            f"未进院 {b['not_onboarded_rows']}。"
        )

    gap = (m.completion.fill_null(0) - m.time_progress)
    lagging = m.filter(m.status.isin(["zero", "behind"])).mutate(gap=gap).order_by(["gap", "institution_code", "variety_id"])
    worst = _rows(lagging.limit(top))
    if worst:
        lines.append(f"进度最落后的 {len(worst)} 项（完成率 / 序时进度，距序时进度还差）：")
        for r in worst:
            lines.append(
                f"  {r['institution_name']}（{r['institution_code']}）{r['variety_name']}："
                f"{STATUS[r['status']][0]}，完成率 {pct(r['completion'])} / 序时进度 {pct(r['time_progress'])}，"
                f"还需采购 {qty(r['shortfall_volume'])} {units.get(r['variety_id'], '')}".rstrip()
                + in_ddd(r["shortfall_volume"], ddd.get(r["variety_id"]))
            )

    excess = _rows(m.filter(m.nonselected_excess).order_by([ibis.desc("nonselected_share"), "institution_code"]).limit(3))
    if excess:
        lines.append("非中选产品占比超过规定的：")
        for r in excess:
            lines.append(f"  {r['institution_name']}（{r['institution_code']}）{r['variety_name']}：非中选占比 {pct(r['nonselected_share'])}")

    inst = rollup(m, "institution")
    late = _rows(inst.filter(inst.overdue_amount > 0).order_by([ibis.desc("overdue_amount"), "institution_code"]).limit(3))
    if late:
        lines.append("逾期未回款最多的机构：")
        for r in late:
            lines.append(
                f"  {r['institution_name']}（{r['institution_code']}）：逾期未回款 {money(r['overdue_amount'])}，"
                f"按期回款率 {pct(r['payment_rate'])}"
            )
    return lines


def ddd_factors(wh) -> dict[str, tuple[float | None, str | None]]:
    """Each variety's DDDs per unit and, when it has none, why (:func:`jicai.analytics.ddd_units.factor_rows`):
    the ``ddd`` of :func:`monitoring_summary`."""
    from jicai.analytics.ddd_units import factor_rows

    return {r["code"]: (r["ddd_per_unit"], r["ddd_note"]) for r in factor_rows(wh).to_pylist()
            if r["dim"] == "variety"}
