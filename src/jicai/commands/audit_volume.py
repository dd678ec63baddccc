"""``jicai audit-volume``: the volume audit (报量审核) of one batch and cycle year, written as a report."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from jicai.commands._checks import require_tables
from jicai.commands._options import OUT, POLICY_OF_BATCH
from jicai.console import console, fail, out

FORMATS = ("csv", "json", "xlsx")


def register(app: typer.Typer) -> None:
    @app.command("audit-volume")
    def audit_volume_cmd(
        ctx: typer.Context,
        batch: str = typer.Option(..., "--batch", help="批次编号 / batch id"),
        year: int = typer.Option(..., "--year", help="采购年度 k / cycle year k (1, 2, …)"),
        fmt: str = typer.Option("csv", "--format", help="输出格式 / output format: csv, json, xlsx"),
        out_path: Path = OUT,
        policy_path: Path = POLICY_OF_BATCH,
    ) -> None:
        """报量审核:报量偏低、用而不报、续签低于上年约定、报量偏高 / volume audit."""
        from jicai.commands.policy import policy_for
        from jicai.measures.volume_audit import FLAGS, INPUT_TABLES, VOLUME_AUDIT_COLUMNS, volume_audit

        if fmt not in FORMATS:
            fail(f"不支持的格式 {fmt}(可选 csv/json/xlsx)", f"unsupported format {fmt} (csv/json/xlsx)")
        if year < 1:
            fail(f"采购年度应 ≥ 1:{year}", f"cycle year must be ≥ 1: {year}")
        wh = ctx.obj.warehouse()
        require_tables(wh, INPUT_TABLES)
        policy = policy_for(ctx.obj, wh, batch, policy_path)
        with console.status("正在审核报量 / auditing volume reports…"):
            df = volume_audit(wh, batch, year, policy).to_pandas()
        df = df.sort_values(["institution_code", "variety_id"]).reset_index(drop=True)
        path = out_path or ctx.obj.data_dir / "reports" / f"audit_volume_{batch}_{year}.{fmt}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            df.to_csv(path, index=False, encoding="utf-8-sig")
        elif fmt == "json":
            recs = json.loads(df.to_json(orient="records", force_ascii=False, double_precision=15))
            path.write_text(json.dumps({"batch_id": batch, "cycle_year": year, "policy_version": policy.version,
                                        "rows": recs}, ensure_ascii=False, indent=1), encoding="utf-8")
        else:
            headed = df.rename(columns={c: f"{zh} {c}" for c, (zh, _) in VOLUME_AUDIT_COLUMNS.items()})
            headed.to_excel(path, index=False, sheet_name="报量审核")
        out.print(f"报量审核 批次 {batch} 第 {year} 年度(政策 {policy.version}):{len(df)} 行")
        for code, (zh, _) in FLAGS.items():
            n = int(df["flags"].str.split(";").map(lambda fl, c=code: c in fl).sum()) if len(df) else 0
            out.print(f"  {zh} {code}: {n}")
        out.print(f"  报表:{path}")
