"""``jicai supply-periods``: supply-problem reports, their periods, and what they changed (seed 002 五)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from jicai import clock
from jicai.commands._checks import require_tables
from jicai.commands._options import FORMAT, OUT, POLICY
from jicai.commands.supply import Listing, check_format, rows_of, write_listings
from jicai.console import console, fail, out


def register(app: typer.Typer) -> None:
    @app.command("supply-periods")
    def supply_periods_cmd(
        ctx: typer.Context,
        as_of: str = typer.Option(..., "--as-of", help="截至日期(含) / as-of date, YYYY-MM-DD"),
        batch: str = typer.Option(None, "--batch", help="批次编号 / batch id"),
        fmt: str = FORMAT,
        out_path: Path = OUT,
        policy_path: Path = POLICY,
    ) -> None:
        """供应问题期间:备供替代、非中选剔除及对完成率和占比的影响 / supply-problem periods and their effect."""
        from jicai.commands.policy import policy_for
        from jicai.measures.supply_periods import (
            EFFECT_COLUMNS,
            INPUT_TABLES,
            PERIOD_COLUMNS,
            supply_period_effects,
            supply_periods,
        )

        check_format(fmt)
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            fail(f"日期格式应为 YYYY-MM-DD:{as_of}", f"date must be YYYY-MM-DD: {as_of}")
        wh = ctx.obj.warehouse()
        try:
            require_tables(wh, INPUT_TABLES)
            policy = policy_for(ctx.obj, wh, batch, policy_path)
            computed_at = clock.stamp()
            with console.status("正在计算供应问题期间 / computing supply-problem periods…"):
                periods = rows_of(supply_periods(wh, day, batch, policy), ["institution_code", "reported_at"])
                effects = rows_of(supply_period_effects(wh, day, batch, policy), ["institution_code", "variety_id"])
        finally:
            wh.close()
        counting = [r for r in periods if r["counts"]]
        path = out_path or ctx.obj.data_dir / "reports" / f"supply_periods_{day.isoformat()}.{fmt}"
        write_listings(
            [Listing("periods", "供应问题期间", PERIOD_COLUMNS, periods,
                     ("substituted_volume", "substituted_amount", "excluded_volume", "excluded_amount"),
                     "截至日前反馈的全部供应问题;核实有效的计入替代"),
             Listing("effects", "对监测的影响", EFFECT_COLUMNS, effects, ("substituted_volume", "excluded_volume"),
                     "同一机构×品种:按政策计算与不考虑问题期计算之比较(当前采购年度)")],
            fmt, path, title="集采中选产品供应问题期间", period=f"截至 {day.isoformat()}", as_of=day,
            batch_id=batch, policy_version=policy.version, computed_at=computed_at,
            headline=[("供应问题反馈", f"{len(periods)} 条"), ("核实有效", f"{len(counting)} 条"),
                      ("受影响机构×品种", f"{len(effects)} 项")],
            paragraphs=["泉州通知 五:经核实后,医疗机构在中选企业供应保障不良期间采购备供企业产品视作采购中选产品;"
                        "采购非中选产品的,相应用量不计入集采执行情况考核范围。"])
        out.print(f"供应问题期间 截至 {day.isoformat()}(政策 {policy.version}):反馈 {len(periods)} 条,"
                  f"核实有效 {len(counting)} 条,影响 {len(effects)} 个机构×品种")
        for r in effects[:5]:
            def pct(x):
                return "—" if x is None else f"{x:.1%}"
            out.print(f"  {r['institution_name']}({r['institution_code']}){r['variety_name']}:备供计入 {r['substituted_volume']:,.0f},"
                      f"完成率 {pct(r['completion_without'])} → {pct(r['completion'])},"
                      f"非中选占比 {pct(r['share_without'])} → {pct(r['nonselected_share'])}")
        out.print(f"  报表:{path}")
