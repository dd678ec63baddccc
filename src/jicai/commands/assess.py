"""``jicai assess``: the annual assessment (年度考核) and surplus retention (结余留用) of one batch and year.

Computes :func:`jicai.assess.assessment.assess`, stores it in ``assessment_results`` (replacing the rows
of the same batch and cycle year) with the policy version and the time of the run, writes the report
(xlsx / csv / json) and prints a short Chinese summary.
"""

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

RESULTS_TABLE = "assessment_results"
FORMATS = ("xlsx", "csv", "json")
_BOOL_COLUMNS = ("passed", "price_missing")
_DATE_COLUMNS = ("cycle_start", "cycle_end", "as_of")


def store_results(wh, result: pa.Table, batch_id: str, cycle_year: int, policy_version: str,
                  computed_at: datetime) -> pa.Table:
    """Put ``result`` in ``assessment_results`` with policy_version and computed_at, replacing the rows of
    the same batch and cycle year. Returns the stored rows of this run."""
    n = result.num_rows
    stamped = result.append_column("policy_version", pa.array([policy_version] * n, pa.string()))
    stamped = stamped.append_column("computed_at", pa.array([computed_at] * n, pa.timestamp("us")))
    stamped_all = stamped
    if wh.has_table(RESULTS_TABLE):
        old = wh.table(RESULTS_TABLE)
        kept = old.filter(~((old.batch_id == batch_id) & (old.cycle_year == cycle_year))).to_pyarrow()
        if kept.schema.names == stamped.schema.names:  # else the columns changed with a new version: start afresh
            stamped_all = pa.concat_tables([kept.cast(stamped.schema), stamped])
    wh.write_table(RESULTS_TABLE, stamped_all, overwrite=True)
    return stamped


def _flat(df):
    """csv/json values: ISO dates, true/false, empty for null."""
    import pandas as pd

    df = df.copy()
    for c in df.columns:
        if c in _BOOL_COLUMNS or df[c].dtype == bool:
            df[c] = df[c].map(lambda v: None if pd.isna(v) else ("true" if v else "false"))
        elif c in _DATE_COLUMNS:
            df[c] = pd.to_datetime(df[c]).dt.strftime("%Y-%m-%d")
    return df


def _records(df) -> list[dict]:
    return json.loads(_flat(df).to_json(orient="records", force_ascii=False, double_precision=15))


def _yuan(x: float) -> str:
    return f"{x:,.2f} 元"


def register(app: typer.Typer) -> None:
    @app.command("assess")
    def assess_cmd(
        ctx: typer.Context,
        batch: str = typer.Option(..., "--batch", help="批次编号 / batch id"),
        year: int = typer.Option(..., "--year", help="采购年度 k / cycle year k (1, 2, …)"),
        fmt: str = FORMAT,
        out_path: Path = OUT,
        policy_path: Path = POLICY_OF_BATCH,
        as_of: str = typer.Option(None, "--as-of",
                                  help="考核截止日(默认年度最后一天;之前为预考核) / as-of date, YYYY-MM-DD "
                                       "(default: the last day of the cycle year; earlier = provisional)"),
    ) -> None:
        """年度考核与结余留用:合格判定、得分、同级排名、结余留用奖励、合理超支分担 / annual assessment."""
        from jicai.assess.assessment import FAIL_ITEMS, assess, assess_totals
        from jicai.assess.period import AssessmentError
        from jicai.assess.retention import retention_trace
        from jicai.commands.policy import policy_for
        from jicai.measures.monitor import INPUT_TABLES

        if fmt not in FORMATS:
            fail(f"不支持的格式 {fmt}(可选 xlsx/csv/json)", f"unsupported format {fmt} (xlsx/csv/json)")
        day = None
        if as_of is not None:
            try:
                day = date.fromisoformat(as_of)
            except ValueError:
                fail(f"日期格式应为 YYYY-MM-DD:{as_of}", f"date must be YYYY-MM-DD: {as_of}")
        settings = ctx.obj
        wh = settings.warehouse()
        require_tables(wh, INPUT_TABLES)
        policy = policy_for(settings, wh, batch, policy_path)  # --policy, else the policy the batch names
        computed_at = clock.stamp()
        try:
            with console.status("正在计算年度考核 / assessing…"):
                result = assess(wh, batch, year, policy, day).to_pyarrow()
                stored = store_results(wh, result, batch, year, policy.version, computed_at)
                t = wh.table(RESULTS_TABLE)
                t = t.filter((t.batch_id == batch) & (t.cycle_year == year))
                regions = assess_totals(t, "region").order_by("city_code").to_pandas()
                total = assess_totals(t, "batch").to_pandas()
                trace = retention_trace(wh, batch, year, policy, day).to_pandas()
        except AssessmentError as exc:
            fail(exc.zh, exc.en)
        rows = result.to_pandas().sort_values(["level", "rank_in_level", "institution_code"],
                                              ascending=[False, True, True]).reset_index(drop=True)
        trace = trace.sort_values(["institution_code", "variety_id"]).reset_index(drop=True)
        day = rows.as_of.iloc[0] if len(rows) else day
        batch_total = total.iloc[0].to_dict() if len(total) else {}
        path = out_path or settings.data_dir / "reports" / f"assess_{batch}_{year}.{fmt}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "xlsx":
            from jicai.assess.workbook import write_assessment_xlsx

            write_assessment_xlsx(path, rows, regions, batch_total, trace, batch_id=batch, cycle_year=year,
                                  as_of=day or date.min, policy_version=policy.version, computed_at=computed_at)
        elif fmt == "csv":
            _flat(rows).to_csv(path, index=False, encoding="utf-8-sig")
        else:
            doc = {"batch_id": batch, "cycle_year": year, "as_of": day.isoformat() if day else None,
                   "policy_version": policy.version, "computed_at": computed_at.isoformat(),
                   "rows": _records(rows), "totals": _records(total)[0] if len(total) else None,
                   "region_totals": _records(regions)}
            path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
        n, passed = len(rows), int(rows.passed.sum()) if len(rows) else 0
        out.print(f"年度考核 批次 {batch} 第 {year} 采购年度" + (f"(截至 {day})" if day else "")
                  + f",政策 {policy.version}")
        out.print(f"  参加考核机构 {n} 家:合格 {passed} 家,不合格 {n - passed} 家")
        for code, (zh, _en) in FAIL_ITEMS.items():
            k = int(rows.failed_items.str.split(";").map(lambda items, c=code: c in items).sum()) if n else 0
            out.print(f"    {zh}:{k} 家")
        out.print(f"  结余留用奖励合计 {_yuan(float(rows.reward.sum()) if n else 0.0)},"
                  f"合理超支分担合计 {_yuan(float(rows.overspend_shared.sum()) if n else 0.0)}")
        out.print(f"  结果已存入 {RESULTS_TABLE}({stored.num_rows} 行),报表:{path}")
