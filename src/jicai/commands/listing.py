"""``jicai listing``: listing governance (挂网价格管理) on a day, written as a report."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer

from jicai.commands._checks import require_tables
from jicai.commands._options import OUT, POLICY_OF_BATCH
from jicai.console import console, fail, out

FORMATS = ("csv", "json", "xlsx")


def register(app: typer.Typer) -> None:
    @app.command("listing")
    def listing_cmd(
        ctx: typer.Context,
        as_of: str = typer.Option(..., "--as-of", help="核查日 / as-of date (YYYY-MM-DD)"),
        fmt: str = typer.Option("csv", "--format", help="输出格式 / output format: csv, json, xlsx"),
        out_path: Path = OUT,
        policy_path: Path = POLICY_OF_BATCH,
    ) -> None:
        """挂网价格管理:未按中选价挂网、高于中选价、建议暂停采购/撤网 / listing governance."""
        from jicai.commands.policy import policy_for
        from jicai.measures.listing import FINDINGS, INPUT_TABLES, LISTING_COLUMNS, listing_governance

        if fmt not in FORMATS:
            fail(f"不支持的格式 {fmt}(可选 csv/json/xlsx)", f"unsupported format {fmt} (csv/json/xlsx)")
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            fail(f"日期无效:{as_of}(应为 YYYY-MM-DD)", f"invalid date: {as_of} (expected YYYY-MM-DD)")
        wh = ctx.obj.warehouse()
        require_tables(wh, INPUT_TABLES)
        policy = policy_for(ctx.obj, wh, None, policy_path)
        with console.status("正在核查挂网价格 / checking listings…"):
            df = listing_governance(wh, day, policy).to_pandas()
        df = df.sort_values(["finding", "variety_id", "product_code", "batch_id"]).reset_index(drop=True)
        path = out_path or ctx.obj.data_dir / "reports" / f"listing_{day.isoformat()}.{fmt}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            df.to_csv(path, index=False, encoding="utf-8-sig")
        elif fmt == "json":
            recs = json.loads(df.to_json(orient="records", force_ascii=False, double_precision=15))
            path.write_text(json.dumps({"as_of": day.isoformat(), "policy_version": policy.version,
                                        "rows": recs}, ensure_ascii=False, indent=1), encoding="utf-8")
        else:
            headed = df.rename(columns={c: f"{zh} {c}" for c, (zh, _) in LISTING_COLUMNS.items()})
            headed.to_excel(path, index=False, sheet_name="挂网价格管理")
        out.print(f"挂网价格管理 {day.isoformat()}(政策 {policy.version}):{len(df)} 行")
        for code, (zh, _) in FINDINGS.items():
            out.print(f"  {zh} {code}: {int((df['finding'] == code).sum()) if len(df) else 0}")
        out.print(f"  报表:{path}")
