"""``jicai budget``: budget progress per institution as of a date, and the quarterly consultation report
(按季通报会商) listing institutions by how far their spending runs ahead of the year's time progress.

xlsx: a cover (titled 第n季度…会商报告 on a quarter's last day), 会商重点机构 (the institutions ahead by more
than ``budget_ahead_margin``) and 执行进度 (every institution, most ahead first); csv: the progress list;
json: the list and the totals.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer

from jicai import calendar, clock
from jicai.commands._checks import require_tables
from jicai.commands._options import FORMAT, OUT, POLICY
from jicai.commands.capitation import check_format, fund_policy, json_ready, parse_day
from jicai.console import console, fail, fail_with, out


def quarter_end(text: str) -> date:
    try:
        return calendar.quarter_bounds(*calendar.parse_quarter(text))[1]
    except calendar.CalendarError as exc:
        fail_with(exc)


def register(app: typer.Typer) -> None:
    @app.command("budget")
    def budget_cmd(
        ctx: typer.Context,
        as_of: str = typer.Option(None, "--as-of", help="截至日期(含当日) / as-of date, YYYY-MM-DD"),
        quarter: str = typer.Option(None, "--quarter", help="季度会商(截至季末),如 2024Q3 / quarter, e.g. 2024Q3"),
        fmt: str = FORMAT,
        out_path: Path = OUT,
        policy_path: Path = POLICY,
    ) -> None:
        """总额预算执行进度与季度会商报告 / budget progress and the quarterly consultation report."""
        from jicai.fund.budget import BUDGET_COLUMNS, INPUT_TABLES, budget_progress, budget_totals

        check_format(fmt)
        if (as_of is None) == (quarter is None):
            fail("请指定 --as-of 或 --quarter 之一", "give exactly one of --as-of and --quarter")
        day = parse_day(as_of, "--as-of") if as_of else quarter_end(quarter)
        policy = fund_policy(policy_path)
        margin = float(policy.value("budget_ahead_margin", on=day))
        wh = ctx.obj.warehouse()
        computed_at = clock.stamp()
        try:
            require_tables(wh, INPUT_TABLES)
            with console.status("正在计算预算执行进度 / computing budget progress…"):
                expr = budget_progress(wh, day, policy)
                with expr.cache() as cached:
                    rows = cached.order_by("institution_code").to_pyarrow().to_pylist()
                    totals = budget_totals(cached).to_pyarrow().to_pylist()[0]
        finally:
            wh.close()
        stem = f"budget_{quarter.upper()}" if quarter else f"budget_{day.isoformat()}"
        path = out_path or ctx.obj.data_dir / "reports" / f"{stem}.{fmt}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "xlsx":
            from jicai.reports.fund import budget_report
            from jicai.reports.xlsx import write_xlsx

            write_xlsx(budget_report(rows, totals, as_of=day, margin=margin, policy_version=policy.version,
                                     computed_at=computed_at), path)
        elif fmt == "csv":
            import pandas as pd

            pd.DataFrame(rows, columns=list(BUDGET_COLUMNS)).to_csv(path, index=False, encoding="utf-8-sig")
        else:
            path.write_text(json.dumps(json_ready({
                "as_of": day, "margin": margin, "policy_version": policy.version, "computed_at": computed_at,
                "totals": totals, "institutions": rows,
            }), ensure_ascii=False, indent=1), encoding="utf-8")

        out.print(f"预算执行进度 截至 {day.isoformat()}(政策 {policy.version})")
        if not rows:
            out.print(f"  {day.year} 年没有预算或医保支出记录 / no budgets or fund spending in {day.year}")
        else:
            progress = "—" if totals["spending_progress"] is None else f"{totals['spending_progress'] * 100:.1f}%"
            out.print(f"  机构 {totals['institutions']} 家,执行进度 {progress},序时进度 {totals['time_progress'] * 100:.1f}%")
            out.print(f"  超序时进度(> {margin * 100:g} 个百分点)的机构 {totals['ahead']} 家,已超年度预算 "
                      f"{totals['over_budget']} 家,无预算 {totals['no_budget']} 家")
            ahead = sorted((r for r in rows if r["status"] == "ahead"), key=lambda r: -r["gap"])
            for r in ahead[:5]:
                out.print(f"    {r['institution_name'] or r['institution_code']}({r['institution_code']}):执行进度 "
                          f"{r['spending_progress'] * 100:.1f}% / 序时进度 {r['time_progress'] * 100:.1f}%,"
                          f"超出 {r['gap'] * 100:.1f} 个百分点")
        out.print(f"  报表:{path}")
