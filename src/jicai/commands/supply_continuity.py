"""``jicai supply-continuity``: institutions whose main supplier before a new batch did not win (seed 002 三)."""

from __future__ import annotations

import typer

from jicai.commands._runner import POLICY, Run, computing_command, measure_rows, measure_table
from jicai.console import out
from jicai.reports.documents import Report


def _enterprise_names(r: Run, rows: list[dict]) -> dict[str, str]:
    """The names of the winning enterprises the printed rows mention (a reader knows a company by its name)."""
    codes = {c for x in rows for c in (x["winner_enterprise_codes"] or "").split(";") if c and c != "…"}
    if not codes:
        return {}
    e = r.warehouse.table("enterprises")
    found = e.filter(e.enterprise_code.isin(sorted(codes))).select("enterprise_code", "name").to_pyarrow().to_pylist()
    return {f["enterprise_code"]: f["name"] for f in found if f["name"]}


def _winners(codes: str | None, names: dict[str, str]) -> str:
    """"91…A;91…B;…" → "甲药业、乙制药等": each winner by its name (its code when the name is unknown)."""
    parts = [c for c in (codes or "").split(";") if c]
    more = parts[-1:] == ["…"]
    shown = "、".join(names.get(c, c) for c in parts if c != "…")
    return shown + ("等" if more else "")


def register(app: typer.Typer) -> None:
    @computing_command(app, "supply-continuity", policy=POLICY)
    def supply_continuity_cmd(
        r: Run,
        batch: str = typer.Option(..., "--batch", help="新批次编号 / the new batch"),
        window_months: int = typer.Option(3, "--window-months", help="执行日前统计月数 / months before the start date"),
        show_all: bool = typer.Option(False, "--all", help="列出全部品种,不只需替换的 / every pair, not only those to replace"),
    ) -> None:
        """集采落地前供应接续:原供应厂家未中选的机构与品种 / supply continuity at a new batch."""
        from jicai.measures.registry import measure
        from jicai.measures.supply_continuity import ContinuityArgs

        m = measure("supply-continuity")
        r.require(m.inputs)
        policy = r.policy(batch)
        rows = measure_rows(r, m, ContinuityArgs(policy, batch=batch, window_months=window_months))
        b = r.warehouse.table("batches")
        start = b.filter(b.batch_id == batch).start_date.to_pyarrow().to_pylist()[0]
        start = start.date() if hasattr(start, "date") else start  # a timestamp on some engines
        replace = [x for x in rows if x["case"] == "replace"]
        shown = rows if show_all else replace
        shown.sort(key=lambda x: -(x["monthly_units"] or 0))  # the largest use to replace first
        report = Report(
            kind="supply-continuity", title="集采落地前供应接续清单", period=f"批次 {batch}", as_of=start,
            batch_id=batch, policy_version=policy.version, policy_label=policy.label, computed_at=r.computed_at,
            headline=[("执行前有使用的机构×品种", f"{len(rows)} 项"), ("原供应厂家未中选", f"{len(replace)} 项")],
            paragraphs=["泉州通知 三:原供应厂家未中选的,指导配送企业摸清供应替换期的医疗机构使用量,合理备货。"
                        f"原供应厂家 = 执行日前 {window_months} 个月该机构采购最多的产品的生产企业。"],
            params={"as_of": start, "batch_id": batch, "window_months": window_months})
        report.tables.append(measure_table(
            m, shown, "continuity", "供应接续",
            note="全部机构×品种" if show_all else "原供应厂家未中选的机构×品种,按月均使用量从高到低"))
        path = r.write(report, f"supply_continuity_{batch}")
        out.print(f"供应接续 批次 {batch}(执行日 {start}):执行前有使用 {len(rows)} 项,原供应厂家未中选 {len(replace)} 项")
        if not rows:
            out.print("  执行日前的统计期内没有该批次品种的订单(数据从执行日开始时即为如此) / "
                      "no orders of the batch's varieties before its start date")
        names = _enterprise_names(r, replace[:5])
        for x in replace[:5]:
            out.print(f"  {x['institution_name']}({x['institution_code']}){x['variety_name']}:原 {x['main_enterprise_name']},"
                      f"月均 {x['monthly_units']:,.0f},改由 {_winners(x['winner_enterprise_codes'], names)} 供应")
        out.print(f"  报表:{path}")
