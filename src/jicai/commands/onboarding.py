"""``jicai onboarding``: the 未进院 list (进院排查) on a day, and its summary per city and batch.

From month 3 of each batch's execution (001 "执行第3个月起开展排查梳理"). The list is ordered with the
worst case first: the most non-selected volume bought instead of the selected product. The report has
three lists, each of a registered measure: 未进院名单 (``onboarding``), 按地市汇总 (``onboarding-by-city``)
and 排查时间 (``onboarding-schedule``: when each batch's check begins); csv writes the list to the path
asked for and the others beside it (``<stem>_summary.csv``, ``<stem>_batches.csv``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import typer

from jicai.commands._runner import Run, computing_command, measure_table, option, parse_day
from jicai.console import console, out
from jicai.errors import BilingualError
from jicai.reports.documents import Report

RULE = ("各批次集采执行第{n}个月起开展排查梳理(国家医保局 医保发〔2024〕31号):有约定采购量、"
        "自执行日起未采购本区域中选产品的医疗机构与品种列为未进院。备供产品仅在核实的供应问题期间计入中选量,"
        "不视为中选产品进院;采购非中选产品替代中选产品的,单列其采购量。")


def _rate(n: int, d: int) -> str:
    return f"{n / d:.1%}" if d else "—"


def why_empty(schedule: list[dict], as_of: date) -> list[str]:
    """Chinese lines saying which batches are not checked yet on ``as_of`` and from when."""
    return [f"批次 {b['batch_id']}(执行日 {b['batch_start']:%Y-%m-%d})自 {b['check_from']:%Y-%m-%d} 起排查,"
            f"截至 {as_of:%Y-%m-%d} 尚未到排查期" for b in schedule if not b["checked"]]


def onboarding_document(rows: list[dict[str, Any]], summary: list[dict[str, Any]], schedule: list[dict[str, Any]],
                        *, as_of: date, batch_id: str | None, policy_version: str, computed_at: datetime, policy_label: str = "",
                        from_month: int) -> Report:
    """The report: headline figures, the rule, the three lists (the summary's rate a ratio of its sums)."""
    from jicai.measures.registry import measure

    agreements = sum(s["agreements"] for s in summary)
    missing = sum(s["not_onboarded"] for s in summary)
    instead = sum(1 for r in rows if r["nonselected_volume"] > 0)
    report = Report(
        kind="onboarding", title="集采中选产品未进院排查", period=f"截至 {as_of:%Y-%m-%d}", as_of=as_of,
        batch_id=batch_id, policy_version=policy_version, policy_label=policy_label, computed_at=computed_at,
        headline=[("已排查约定品种", f"{agreements} 项"), ("未进院", f"{missing} 项({_rate(missing, agreements)})"),
                  ("其中采购非中选产品替代", f"{instead} 项")],
        paragraphs=[RULE.format(n=from_month), *why_empty(schedule, as_of)],
        params={"as_of": as_of, "batch": batch_id, "onboarding_from_month": from_month},
    )
    by_city = measure("onboarding-by-city")
    report.tables = [
        measure_table(measure("onboarding"), rows, key="rows", title="未进院名单", note="按采购非中选产品量从高到低"),
        measure_table(by_city, summary, key="summary", title="按地市汇总", note=by_city.note_zh),
        measure_table(measure("onboarding-schedule"), schedule, key="batches", title="排查时间",
                      note=f"执行第{from_month}个月的第一天起排查"),
    ]
    report.tables[1].totals["not_onboarded_rate"] = missing / agreements if agreements else None
    return report


def register(app: typer.Typer) -> None:
    @computing_command(app, "onboarding")
    def onboarding_cmd(
        r: Run,
        as_of: str = option("as_of", zh="排查日期(含当日)"),
        batch: str = option("batch", None, "批次编号(默认全部)"),
    ) -> None:
        """未进院排查:执行第3个月起,有约定量而未采购中选产品的机构与品种 / not-onboarded list."""
        from jicai.measures.monitor import INPUT_TABLES
        from jicai.measures.onboarding_report import (
            COLUMNS,
            onboarding_rows,
            onboarding_schedule,
            onboarding_summary,
        )

        d = parse_day(as_of)
        r.require(INPUT_TABLES)
        policy = r.policy(batch)
        wh = r.warehouse
        with console.status("正在排查未进院 / checking onboarding…"):
            schedule = onboarding_schedule(wh, d, batch, policy).order_by("batch_id").to_pyarrow().to_pylist()
            if batch is not None and not schedule:
                raise BilingualError(f"批次不存在:{batch}", f"no such batch: {batch}")
            # the monitoring once, for both the list and the summary; released before the warehouse closes
            with onboarding_rows(wh, d, batch, policy).cache() as base:
                rows = base.filter(base.not_onboarded).select(*(c.name for c in COLUMNS)).order_by(
                    [base.nonselected_volume.desc(), "batch_id", "institution_code", "variety_id"]
                ).to_pyarrow().to_pylist()
                summary = onboarding_summary(base).order_by(["batch_id", "city_code"]).to_pyarrow().to_pylist()
        from_month = int(policy.value("onboarding_from_month", on=d))
        report = onboarding_document(rows, summary, schedule, as_of=d, batch_id=batch,
                                     policy_version=policy.version, policy_label=policy.label, computed_at=r.computed_at,
                                     from_month=from_month)
        path = r.write(report, f"onboarding_{d.isoformat()}" + (f"_{batch}" if batch else ""))

        agreements = sum(s["agreements"] for s in summary)
        out.print(f"未进院排查 截至 {d.isoformat()}" + (f" 批次 {batch}" if batch else " 全部批次")
                  + f"(政策 {policy.label},执行第 {from_month} 个月起排查)")
        checked = [b["batch_id"] for b in schedule if b["checked"]]
        if checked:
            out.print(f"  已排查批次 {'、'.join(checked)}:约定品种 {agreements} 项,未进院 {len(rows)} 项"
                      f"({_rate(len(rows), agreements)}),其中采购非中选产品替代 "
                      f"{sum(1 for r in rows if r['nonselected_volume'] > 0)} 项")
        for line in why_empty(schedule, d):
            out.print(f"  {line}")
        if not rows:
            reason = "已到排查期的约定均已进院" if checked else "没有已到排查期的批次"
            out.print(f"  未进院名单为空:{reason} / the list is empty: "
                      + ("every checked agreement is onboarded" if checked else "no batch is in its check period yet"))
        out.print(f"  报表:{path}")
