"""``jicai supply-continuity``: institutions whose main supplier before a new batch did not win (seed 002 三)."""

from __future__ import annotations

from pathlib import Path

import typer

from jicai import clock
from jicai.commands._checks import require_tables
from jicai.commands._options import FORMAT, OUT, POLICY
from jicai.commands.supply import Listing, check_format, rows_of, write_listings
from jicai.console import console, fail_with, out
from jicai.errors import MeasureError


def register(app: typer.Typer) -> None:
    @app.command("supply-continuity")
    def supply_continuity_cmd(
        ctx: typer.Context,
        batch: str = typer.Option(..., "--batch", help="新批次编号 / the new batch"),
        window_months: int = typer.Option(3, "--window-months", help="执行日前统计月数 / months before the start date"),
        show_all: bool = typer.Option(False, "--all", help="列出全部品种,不只需替换的 / every pair, not only those to replace"),
        fmt: str = FORMAT,
        out_path: Path = OUT,
        policy_path: Path = POLICY,
    ) -> None:
        """集采落地前供应接续:原供应厂家未中选的机构与品种 / supply continuity at a new batch."""
        from jicai.commands.policy import policy_for
        from jicai.measures.supply_continuity import CONTINUITY_COLUMNS, INPUT_TABLES, supply_continuity

        check_format(fmt)
        wh = ctx.obj.warehouse()
        try:
            require_tables(wh, INPUT_TABLES)
            policy = policy_for(ctx.obj, wh, batch, policy_path)
            computed_at = clock.stamp()
            with console.status("正在计算供应接续 / computing supply continuity…"):
                try:
                    expr = supply_continuity(wh, batch, window_months, policy)
                except MeasureError as exc:
                    fail_with(exc)
                rows = rows_of(expr, ["institution_code", "variety_id"])
                start = wh.table("batches").filter(wh.table("batches").batch_id == batch).start_date.execute()[0]
        finally:
            wh.close()
        replace = [r for r in rows if r["case"] == "replace"]
        shown = rows if show_all else replace
        shown.sort(key=lambda r: -(r["monthly_units"] or 0))
        start = start if not hasattr(start, "date") else start.date()
        path = out_path or ctx.obj.data_dir / "reports" / f"supply_continuity_{batch}.{fmt}"
        write_listings(
            [Listing("continuity", "供应接续", CONTINUITY_COLUMNS, shown, ("monthly_units",),
                     "原供应厂家未中选的机构×品种,按月均使用量从高到低" if not show_all else "全部机构×品种")],
            fmt, path, title="集采落地前供应接续清单", period=f"批次 {batch}", as_of=start, batch_id=batch,
            policy_version=policy.version, computed_at=computed_at,
            headline=[("执行前有使用的机构×品种", f"{len(rows)} 项"), ("原供应厂家未中选", f"{len(replace)} 项")],
            paragraphs=["泉州通知 三:原供应厂家未中选的,指导配送企业摸清供应替换期的医疗机构使用量,合理备货。"
                        f"原供应厂家 = 执行日前 {window_months} 个月该机构采购最多的产品的生产企业。"])
        out.print(f"供应接续 批次 {batch}(执行日 {start}):执行前有使用 {len(rows)} 项,原供应厂家未中选 {len(replace)} 项")
        if not rows:
            out.print("  执行日前的统计期内没有该批次品种的订单(数据从执行日开始时即为如此) / "
                      "no orders of the batch's varieties before its start date")
        for r in replace[:5]:
            out.print(f"  {r['institution_name']}({r['institution_code']}){r['variety_name']}:原 {r['main_enterprise_name']},"
                      f"月均 {r['monthly_units']:,.0f},改由 {r['winner_enterprise_codes']} 供应")
        out.print(f"  报表:{path}")
