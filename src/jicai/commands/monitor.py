"""``jicai monitor``: compute the monthly monitoring, store it in ``monitor_results``, write a report."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import typer

from jicai import clock
from jicai.commands._checks import require_tables
from jicai.commands._options import FORMAT, OUT, POLICY_OF_BATCH
from jicai.console import console, fail, out

RESULTS_TABLE = "monitor_results"
FORMATS = ("xlsx", "csv", "json")


def store_results(wh, result: pa.Table, as_of: date, batch_id: str | None, policy_version: str,
                  computed_at: datetime) -> pa.Table:
    """Put ``result`` in ``monitor_results`` with as_of, policy_version and computed_at, replacing the
    rows of the same as-of date (and batch, when one is given). Returns the stored rows of this run."""
    n = result.num_rows
    stamped = result.append_column("as_of", pa.array([as_of] * n, pa.date32()))
    stamped = stamped.append_column("policy_version", pa.array([policy_version] * n, pa.string()))
    stamped = stamped.append_column("computed_at", pa.array([computed_at] * n, pa.timestamp("us")))
    if wh.has_table(RESULTS_TABLE):
        old = wh.table(RESULTS_TABLE)
        same = old.as_of == as_of
        if batch_id is not None:
            same = same & (old.batch_id == batch_id)
        kept = old.filter(~same).to_pyarrow()
        if kept.schema.names == stamped.schema.names:
            stamped_all = pa.concat_tables([kept.cast(stamped.schema), stamped])
        else:  # the columns changed with a new version of jicai: start the table afresh
            stamped_all = stamped
    else:
        stamped_all = stamped
    wh.write_table(RESULTS_TABLE, stamped_all, overwrite=True)
    return stamped


def _flat(df):
    """csv/json values: ISO dates, true/false, empty for null."""
    import pandas as pd

    df = df.copy()
    for c in df.columns:
        if df[c].dtype == bool or c in ("nonselected_excess", "onboarded", "not_onboarded"):
            df[c] = df[c].map(lambda v: None if pd.isna(v) else ("true" if v else "false"))
        elif "datetime" in str(df[c].dtype) or c in ("cycle_start", "cycle_end", "as_of"):
            df[c] = pd.to_datetime(df[c]).dt.strftime("%Y-%m-%d")
    return df


def register(app: typer.Typer) -> None:
    @app.command("monitor")
    def monitor_cmd(
        ctx: typer.Context,
        as_of: str = typer.Option(..., "--as-of", help="监测日期(含当日) / as-of date, YYYY-MM-DD"),
        batch: str = typer.Option(None, "--batch", help="批次编号(默认全部) / batch id (default: all)"),
        fmt: str = FORMAT,
        out_path: Path = OUT,
        policy_path: Path = POLICY_OF_BATCH,
    ) -> None:
        """月度监测:完成率、序时进度、非中选占比、线下采购、回款、进院 / monthly monitoring."""
        from jicai.commands.policy import policy_for
        from jicai.measures.monitor import INPUT_TABLES, monitor, rollup

        try:
            d = date.fromisoformat(as_of)
        except ValueError:
            fail(f"日期格式应为 YYYY-MM-DD:{as_of}", f"date must be YYYY-MM-DD: {as_of}")
        if fmt not in FORMATS:
            fail(f"不支持的格式 {fmt}(可选 xlsx/csv/json)", f"unsupported format {fmt} (xlsx/csv/json)")
        settings = ctx.obj
        wh = settings.warehouse()
        require_tables(wh, INPUT_TABLES)
        policy = policy_for(settings, wh, batch, policy_path)
        computed_at = clock.stamp()
        with console.status("正在计算月度监测 / computing…"):
            result = monitor(wh, d, batch, policy).to_pyarrow()
            store_results(wh, result, d, batch, policy.version, computed_at)
            stored = wh.table(RESULTS_TABLE)
            stored = stored.filter(stored.as_of == d)
            if batch is not None:
                stored = stored.filter(stored.batch_id == batch)
            rollups = {by: rollup(stored, by).to_pandas() for by in ("institution", "region", "batch")}
        detail = result.to_pandas()
        stem = f"monitor_{d.isoformat()}" + (f"_{batch}" if batch else "")
        path = out_path or settings.data_dir / "reports" / f"{stem}.{fmt}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "xlsx":
            from jicai.reports.monitor_xlsx import write_monitor_xlsx

            write_monitor_xlsx(path, detail, rollups, as_of=d, policy_version=policy.version,
                               computed_at=computed_at, batch_id=batch)
        elif fmt == "csv":
            _flat(detail).to_csv(path, index=False, encoding="utf-8-sig")
        else:
            recs = json.loads(_flat(detail).to_json(orient="records", force_ascii=False, double_precision=15))
            path.write_text(json.dumps({"as_of": d.isoformat(), "batch_id": batch, "policy_version": policy.version,
                                        "computed_at": computed_at.isoformat(), "rows": recs},
                                       ensure_ascii=False, indent=1), encoding="utf-8")
        s = detail.status.value_counts() if len(detail) else {}
        due, paid = detail.amount_due.sum() if len(detail) else 0, detail.paid_by_due.sum() if len(detail) else 0
        rate = f"{paid / due:.1%}" if due else "—"
        out.print(f"月度监测 {d.isoformat()}" + (f" 批次 {batch}" if batch else " 全部批次") + f"(政策 {policy.version})")
        out.print(f"  约定品种 {len(detail)} 行,机构 {detail.institution_code.nunique() if len(detail) else 0} 家")
        out.print(f"  零采购 {s.get('zero', 0)},低于序时进度 {s.get('behind', 0)},超量采购 {s.get('over', 0)},"
                  f"正常 {s.get('normal', 0)}")
        out.print(f"  非中选超量 {int(detail.nonselected_excess.sum()) if len(detail) else 0},"
                  f"未进院 {int(detail.not_onboarded.sum()) if len(detail) else 0},回款率 {rate}")
        out.print(f"  结果已存入 {RESULTS_TABLE},报表:{path}")
