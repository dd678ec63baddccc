"""``jicai budget``: budget progress per institution as of a date, and the quarterly consultation report
(按季通报会商) listing institutions by how far their spending runs ahead of the year's time progress.

One report of three registered measures (titled 第n季度…会商报告 on a quarter's last day): 执行进度
(``budget``: every institution — the csv file), 会商重点机构 (``budget-consult``: the institutions ahead by
more than ``budget_ahead_margin``, most ahead first) and 合计 (``budget-totals``); xlsx, csv (the further lists
as ``<stem>_consult.csv``, ``<stem>_totals.csv``) or json.
"""

from __future__ import annotations

from datetime import date

import typer

from jicai import calendar
from jicai.commands._runner import POLICY, Run, computing_command, measure_rows, parse_day
from jicai.console import out
from jicai.errors import BilingualError


def quarter_end(text: str) -> date:
    """The last day of a quarter ``2024Q3`` (the calendar's bilingual error when it is not one)."""
    return calendar.quarter_bounds(*calendar.parse_quarter(text))[1]


def register(app: typer.Typer) -> None:
    @computing_command(app, "budget", policy=POLICY)
    def budget_cmd(
        r: Run,
        as_of: str = typer.Option(None, "--as-of", help="截至日期(含当日) / as-of date, YYYY-MM-DD"),
        quarter: str = typer.Option(None, "--quarter", help="季度会商(截至季末),如 2024Q3 / quarter, e.g. 2024Q3"),
    ) -> None:
        """总额预算执行进度与季度会商报告 / budget progress and the quarterly consultation report."""
        from jicai.fund.budget import INPUT_TABLES
        from jicai.measures.registry import Args, measure
        from jicai.reports.fund import budget_report

        if (as_of is None) == (quarter is None):
            raise BilingualError("请指定 --as-of 或 --quarter 之一", "give exactly one of --as-of and --quarter")
        day = parse_day(as_of, "--as-of") if as_of else quarter_end(quarter)
        policy = r.bundled_policy()
        margin = float(policy.value("budget_ahead_margin", on=day))
        r.require(INPUT_TABLES)
        args = Args(policy, as_of=day)
        rows, consult, totals = (measure_rows(r, measure(name), args)
                                 for name in ("budget", "budget-consult", "budget-totals"))
        # margin: the policy's budget_ahead_margin the flags were decided with, for a reader of the json
        report = budget_report(rows, consult, totals, as_of=day, margin=margin, policy_version=policy.version, policy_label=policy.label,
                               computed_at=r.computed_at, params={"as_of": day, "margin": margin})
        path = r.write(report, f"budget_{quarter.upper()}" if quarter else f"budget_{day.isoformat()}")

        out.print(f"预算执行进度 截至 {day.isoformat()}(政策 {policy.label})")
        if not rows:
            out.print(f"  {day.year} 年没有预算或医保支出记录 / no budgets or fund spending in {day.year}")
        else:
            t = totals[0]
            progress = "—" if t["spending_progress"] is None else f"{t['spending_progress'] * 100:.1f}%"
            out.print(f"  机构 {t['institutions']} 家,执行进度 {progress},序时进度 {t['time_progress'] * 100:.1f}%")
            out.print(f"  超序时进度(> {margin * 100:g} 个百分点)的机构 {t['ahead']} 家,已超年度预算 "
                      f"{t['over_budget']} 家,无预算 {t['no_budget']} 家")
            for x in consult[:5]:
                out.print(f"    {x['institution_name'] or x['institution_code']}({x['institution_code']}):执行进度 "
                          f"{x['spending_progress'] * 100:.1f}% / 序时进度 {x['time_progress'] * 100:.1f}%,"
                          f"超出 {x['gap'] * 100:.1f} 个百分点")
        out.print(f"  报表:{path}")
