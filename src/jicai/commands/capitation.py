"""``jicai capitation``: capitation surplus return by the median-optimal method (中值最优法) for one period.

One report of three registered measures: 返还明细 (``capitation``: every institution with its package,
surplus, reasonable surplus, deviation, tier and returned amount — the csv file), 分档汇总
(``capitation-tiers``) and 合计 (``capitation-totals``); xlsx, csv (the further lists beside it as
``<stem>_tiers.csv``, ``<stem>_totals.csv``) or json (every list).
"""

from __future__ import annotations

import typer

from jicai.commands._runner import POLICY, Run, computing_command, measure_rows, parse_day
from jicai.console import out


def register(app: typer.Typer) -> None:
    @computing_command(app, "capitation", policy=POLICY)
    def capitation_cmd(
        r: Run,
        period: str = typer.Option(..., "--period", help="结算期(与 capitation.period 相同,如 2024、2024H1) / settlement period"),
        on: str = typer.Option(None, "--on", help="政策日期(缺省为结算期末) / policy date, YYYY-MM-DD (default: period end)"),
    ) -> None:
        """按人头付费包干结余返还(中值最优法) / capitation surplus return by the median-optimal method."""
        from jicai.fund.capitation import INPUT_TABLES, PeriodArgs, period_end, tier_labels
        from jicai.measures.registry import measure
        from jicai.reports.fund import capitation_report

        day = parse_day(on, "--on") if on else period_end(period)
        policy = r.bundled_policy()
        r.require(INPUT_TABLES)
        args = PeriodArgs(policy, period=period, on=day)
        rows, tiers, totals = (measure_rows(r, measure(name), args)
                               for name in ("capitation", "capitation-tiers", "capitation-totals"))
        labels = tier_labels(policy, day)
        path = r.write(capitation_report(rows, tiers, totals, period=period, on=day, tier_labels=labels,
                                         policy_version=policy.version, policy_label=policy.label, computed_at=r.computed_at),
                       f"capitation_{period}")

        if not rows:
            out.print(f"结算期 {period}:没有按人头付费记录 / no capitation rows for period {period}")
        else:
            t = totals[0]
            reached = {x["tier"]: x["institutions"] for x in tiers}
            out.print(f"按人头付费包干结余返还 结算期 {period}(政策 {policy.label})")
            mean = "—" if t["overall_per_capita"] is None else f"{t['overall_per_capita']:,.2f}"
            out.print(f"  机构 {t['institutions']} 家,总体人均支出 {mean} 元,"
                      f"实际余量 {t['surplus']:,.2f} 元,返还 {t['returned_amount']:,.2f} 元")
            out.print("  " + "、".join(f"{labels[k]} {reached.get(k, 0)} 家" for k in labels))
        out.print(f"  报表:{path}")
