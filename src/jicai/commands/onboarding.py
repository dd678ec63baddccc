"""``jicai onboarding``: the 未进院 list (进院排查) on a day, and its summary per city and batch.

From month 3 of each batch's execution (001 "执行第3个月起开展排查梳理"). The list is ordered with the
worst case first: the most non-selected volume bought instead of the selected product. xlsx: a cover,
未进院名单 and 按地市汇总 with Chinese headers and a 合计 row; csv: the list, and the summary beside it
as ``<stem>_summary.csv``; json: both, with the policy version and each batch's check date.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import typer

from jicai import clock
from jicai.commands._checks import require_tables
from jicai.commands._options import FORMAT, OUT, POLICY_OF_BATCH
from jicai.console import console, fail, out

FORMATS = ("xlsx", "csv", "json")
KINDS = {"batch_start": "date", "months_since_start": "int", "agreements": "int", "not_onboarded": "int",
         "not_onboarded_rate": "pct", "nonselected_amount": "money"}
LIST_TOTALS = ("agreed_volume", "backup_volume", "nonselected_volume", "nonselected_amount")


def _json_rows(rows: list[dict]) -> list[dict]:
    return [{k: (v.isoformat() if isinstance(v, (date, datetime)) else v) for k, v in r.items()} for r in rows]


def _rate(n: int, d: int) -> str:
    return f"{n / d:.1%}" if d else "—"


def why_empty(schedule: list[dict], as_of: date) -> list[str]:
    """Chinese lines saying which batches are not checked yet on ``as_of`` and from when."""
    return [f"批次 {b['batch_id']}(执行日 {b['batch_start']:%Y-%m-%d})自 {b['check_from']:%Y-%m-%d} 起排查,"
            f"截至 {as_of:%Y-%m-%d} 尚未到排查期" for b in schedule if not b["checked"]]


def build_report(rows: list[dict], summary: list[dict], schedule: list[dict], *, as_of: date,
                 batch_id: str | None, policy_version: str, computed_at: datetime, from_month: int):
    """The workbook's document: headline figures, the list and the summary with their totals."""
    from jicai.measures.onboarding_report import ONBOARDING_COLUMNS, ONBOARDING_SUMMARY_COLUMNS
    from jicai.reports.documents import Report, Table, columns

    agreements = sum(s["agreements"] for s in summary)
    missing = sum(s["not_onboarded"] for s in summary)
    instead = sum(1 for r in rows if r["nonselected_volume"] > 0)
    report = Report(
        kind="onboarding", title="集采中选产品未进院排查", period=f"截至 {as_of:%Y-%m-%d}", as_of=as_of,
        batch_id=batch_id, policy_version=policy_version, computed_at=computed_at,
        headline=[("已排查约定品种", f"{agreements} 项"), ("未进院", f"{missing} 项({_rate(missing, agreements)})"),
                  ("其中采购非中选产品替代", f"{instead} 项")],
        paragraphs=[
            f"各批次集采执行第{from_month}个月起开展排查梳理(国家医保局 医保发〔2024〕31号):有约定采购量、"
            "自执行日起未采购本区域中选产品的医疗机构与品种列为未进院。备供产品仅在核实的供应问题期间计入中选量,"
            "不视为中选产品进院;采购非中选产品替代中选产品的,单列其采购量。",
            *why_empty(schedule, as_of),
        ],
    )
    s_totals = {"agreements": agreements, "not_onboarded": missing,
                "not_onboarded_rate": missing / agreements if agreements else None}
    report.tables = [
        Table("list", "未进院名单", columns(ONBOARDING_COLUMNS, list(ONBOARDING_COLUMNS), KINDS, totals=LIST_TOTALS),
              rows, totals={c: sum(r[c] for r in rows) for c in LIST_TOTALS},
              note="按采购非中选产品量从高到低"),
        Table("summary", "按地市汇总", columns(ONBOARDING_SUMMARY_COLUMNS, list(ONBOARDING_SUMMARY_COLUMNS), KINDS,
                                          totals=("agreements", "not_onboarded")),
              summary, totals=s_totals, note="仅含已到排查期的批次;未进院率 = 未进院数 / 约定品种数"),
    ]
    return report


def register(app: typer.Typer) -> None:
    @app.command("onboarding")
    def onboarding_cmd(
        ctx: typer.Context,
        as_of: str = typer.Option(..., "--as-of", help="排查日期(含当日) / as-of date, YYYY-MM-DD"),
        batch: str = typer.Option(None, "--batch", help="批次编号(默认全部) / batch id (default: all)"),
        fmt: str = FORMAT,
        out_path: Path = OUT,
        policy_path: Path = POLICY_OF_BATCH,
    ) -> None:
        """未进院排查:执行第3个月起,有约定量而未采购中选产品的机构与品种 / not-onboarded list."""
        from jicai.commands.policy import policy_for
        from jicai.measures.monitor import INPUT_TABLES
        from jicai.measures.onboarding_report import (
            ONBOARDING_COLUMNS,
            onboarding_rows,
            onboarding_schedule,
            onboarding_summary,
        )

        if fmt not in FORMATS:
            fail(f"不支持的格式 {fmt}(可选 xlsx/csv/json)", f"unsupported format {fmt} (xlsx/csv/json)")
        try:
            d = date.fromisoformat(as_of)
        except ValueError:
            fail(f"日期格式应为 YYYY-MM-DD:{as_of}", f"date must be YYYY-MM-DD: {as_of}")
        wh = ctx.obj.warehouse()
        try:
            require_tables(wh, INPUT_TABLES)
            policy = policy_for(ctx.obj, wh, batch, policy_path)
            computed_at = clock.stamp()
            with console.status("正在排查未进院 / checking onboarding…"):
                schedule = onboarding_schedule(wh, d, batch, policy).order_by("batch_id").to_pyarrow().to_pylist()
                if batch is not None and not schedule:
                    fail(f"批次不存在:{batch}", f"no such batch: {batch}")
                # the monitoring once, for both the list and the summary; released before the warehouse closes
                with onboarding_rows(wh, d, batch, policy).cache() as base:
                    rows = base.filter(base.not_onboarded).select(*ONBOARDING_COLUMNS).order_by(
                        [base.nonselected_volume.desc(), "batch_id", "institution_code", "variety_id"]
                    ).to_pyarrow().to_pylist()
                    summary = onboarding_summary(base).order_by(["batch_id", "city_code"]).to_pyarrow().to_pylist()
        finally:
            wh.close()
        from_month = int(policy.value("onboarding_from_month", on=d))
        stem = f"onboarding_{d.isoformat()}" + (f"_{batch}" if batch else "")
        path = out_path or ctx.obj.data_dir / "reports" / f"{stem}.{fmt}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "xlsx":
            from jicai.reports.xlsx import write_xlsx

            write_xlsx(build_report(rows, summary, schedule, as_of=d, batch_id=batch, policy_version=policy.version,
                                    computed_at=computed_at, from_month=from_month), path)
        elif fmt == "csv":
            import pandas as pd

            pd.DataFrame(rows, columns=list(ONBOARDING_COLUMNS)).to_csv(path, index=False, encoding="utf-8-sig")
            pd.DataFrame(summary).to_csv(path.with_name(f"{path.stem}_summary.csv"), index=False, encoding="utf-8-sig")
        else:
            path.write_text(json.dumps({
                "as_of": d.isoformat(), "batch_id": batch, "policy_version": policy.version,
                "computed_at": computed_at.isoformat(), "onboarding_from_month": from_month,
                "batches": _json_rows(schedule), "rows": _json_rows(rows), "summary": _json_rows(summary),
            }, ensure_ascii=False, indent=1), encoding="utf-8")

        agreements = sum(s["agreements"] for s in summary)
        out.print(f"未进院排查 截至 {d.isoformat()}" + (f" 批次 {batch}" if batch else " 全部批次")
                  + f"(政策 {policy.version},执行第 {from_month} 个月起排查)")
        checked = [b["batch_id"] for b in schedule if b["checked"]]
        if checked:
            out.print(f"  已排查批次 {'、'.join(checked)}:约定品种 {agreements} 项,未进院 {len(rows)} 项"
                      f"({_rate(len(rows), agreements)}),其中采购非中选产品替代 "
                      f"{sum(1 for r in rows if r['nonselected_volume'] > 0)} 项")
        for line in why_empty(schedule, d):
            out.print(f"  {line}")
        if not rows:
            reason = "已到排查期的约定均已进院" if checked else "没有已到排查期的批次"
            out.print(f"  未进院名单为空:{reason} / the list is empty: "
                      + ("every checked agreement is onboarded" if checked else "no batch is in its check period yet"))
        out.print(f"  报表:{path}")
