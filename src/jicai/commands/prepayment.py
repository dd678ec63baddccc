"""``jicai prepayment``: the prepayment ledger (预付台账) of one batch and cycle year, and the year-end recovery.

xlsx: a cover, 预付台账 (institution × month), 按月汇总 (the fund's monthly sums) and 年终清算 (the
balances to recover), each with Chinese headers and a 合计 row; csv: the ledger, and the recovery list
beside it as ``<stem>_recovery.csv``; json: both, with the policy version.
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

KINDS = {
    **dict.fromkeys(("agreed_amount", "prepayment", "cumulative_selected_amount", "offset_this_month",
                     "cumulative_offset", "balance", "recover_amount"), "money"),
    **dict.fromkeys(("month_end", "cycle_end", "prepaid_at", "settled_on"), "date"),
    **dict.fromkeys(("cycle_year", "unpriced_varieties", "institutions"), "int"),
    "progress": "pct",
    "final": "bool",
}
SOURCE_ZH = {"computed": "按约定金额计算", "imported": "实际拨付(导入)"}


def _json_rows(rows: list[dict]) -> list[dict]:
    return [{k: (v.isoformat() if isinstance(v, (date, datetime)) else v) for k, v in r.items()} for r in rows]


def _money(x: float) -> str:
    return f"{x:,.2f}"


def build_report(ledger: list[dict], months: list[dict], recovery: list[dict], *, batch_id: str, year: int,
                 last_day: date, final: bool, policy_version: str, computed_at: datetime):
    """The workbook's document: headline figures, the three lists and their totals."""
    from jicai.assess.prepayment import MONTH_COLUMNS, PREPAYMENT_COLUMNS, RECOVERY_COLUMNS
    from jicai.reports.documents import Report, Table, columns

    def shown(rows: list[dict]) -> list[dict]:
        return [{**r, "source": SOURCE_ZH.get(r.get("source"), r.get("source"))} for r in rows]

    def total(rows: list[dict], cols: tuple[str, ...]) -> dict:
        return {c: sum(r[c] or 0.0 for r in rows) for c in cols}

    rec_cols = ("agreed_amount", "prepayment", "cumulative_selected_amount", "cumulative_offset", "recover_amount")
    last = [r for r in ledger if r["month_end"] == last_day]
    to_recover = sum(r["recover_amount"] for r in recovery)
    word = "应收回" if final else "预计应收回"
    report = Report(
        kind="prepayment", title="集采医保基金预付台账", period=f"批次 {batch_id} 第{year}采购年度",
        as_of=last_day, batch_id=batch_id, policy_version=policy_version, computed_at=computed_at,
        headline=[("机构数", f"{len(last)} 家"),
                  ("预付金额", f"{_money(sum(r['prepayment'] for r in last))} 元"),
                  ("累计冲抵", f"{_money(sum(r['cumulative_offset'] for r in last))} 元"),
                  ("预付余额", f"{_money(sum(r['balance'] for r in last))} 元"),
                  ("年终清算", f"{word} {len(recovery)} 家,合计 {_money(to_recover)} 元")],
        paragraphs=[
            "医保基金按年度约定采购金额的一定比例预付给医疗机构,按采购进度逐月冲抵,年度结束时未冲抵的余额收回"
            "(陕西 肝功生化试剂 执行通知 四(四))。采购进度 = 累计中选采购金额 / 年度约定采购金额(不超过100%),"
            "累计冲抵 = 预付金额 × 采购进度。",
            ("年度已结束,清算名单为应收回金额。" if final
             else f"年度尚未结束,清算名单为截至 {last_day.isoformat()} 的预计数。"),
        ],
    )
    report.tables = [
        Table("ledger", "预付台账", columns(PREPAYMENT_COLUMNS, list(PREPAYMENT_COLUMNS), KINDS,
                                          totals=("offset_this_month",)),
              shown(ledger), totals=total(ledger, ("offset_this_month",)),
              note="每家机构每月一行;合计为各月本月冲抵金额之和"),
        Table("months", "按月汇总", columns(MONTH_COLUMNS, list(MONTH_COLUMNS), KINDS,
                                          totals=("offset_this_month",)),
              months, totals=total(months, ("offset_this_month",)),
              note="各机构之和;合计为全年冲抵金额"),
        Table("recovery", "年终清算", columns(RECOVERY_COLUMNS, list(RECOVERY_COLUMNS), KINDS, totals=rec_cols),
              shown(recovery), totals=total(recovery, rec_cols),
              note="余额大于0的机构;按应收回金额从高到低"),
    ]
    return report


def register(app: typer.Typer) -> None:
    @app.command("prepayment")
    def prepayment_cmd(
        ctx: typer.Context,
        batch: str = typer.Option(..., "--batch", help="批次编号 / batch id"),
        year: int = typer.Option(..., "--year", help="采购年度 k / cycle year k (1, 2, …)"),
        as_of: str = typer.Option(None, "--as-of", help="截至日期(含当日,默认年度结束) / as-of date, YYYY-MM-DD"),
        fmt: str = FORMAT,
        out_path: Path = OUT,
        policy_path: Path = POLICY_OF_BATCH,
    ) -> None:
        """预付台账:按采购进度冲抵预付金,年终清算应收回余额 / prepayment ledger and year-end recovery."""
        from jicai.assess.period import AssessmentError, assessment_period
        from jicai.assess.prepayment import (
            INPUT_TABLES,
            PREPAYMENT_COLUMNS,
            RECOVERY_COLUMNS,
            ledger_by_month,
            prepayment_ledger,
            recovery_list,
        )
        from jicai.commands.policy import policy_for

        if fmt not in FORMATS:
            fail(f"不支持的格式 {fmt}(可选 xlsx/csv/json)", f"unsupported format {fmt} (xlsx/csv/json)")
        day = None
        if as_of is not None:
            try:
                day = date.fromisoformat(as_of)
            except ValueError:
                fail(f"日期格式应为 YYYY-MM-DD:{as_of}", f"date must be YYYY-MM-DD: {as_of}")
        wh = ctx.obj.warehouse()
        try:
            require_tables(wh, INPUT_TABLES)
            policy = policy_for(ctx.obj, wh, batch, policy_path)
            computed_at = clock.stamp()
            with console.status("正在计算预付台账 / computing the prepayment ledger…"):
                try:
                    period = assessment_period(wh, batch, year)
                    expr = prepayment_ledger(wh, batch, year, policy, day)
                except AssessmentError as exc:
                    fail(exc.zh, exc.en)
                # one computation for the three lists; released before the warehouse closes
                with expr.cache() as cached:
                    ledger = cached.order_by(["institution_code", "month"]).to_pyarrow().to_pylist()
                    months = ledger_by_month(cached).order_by("month").to_pyarrow().to_pylist()
                    recovery = recovery_list(cached).to_pyarrow().to_pylist()
        finally:
            wh.close()
        recovery.sort(key=lambda r: (-r["recover_amount"], r["institution_code"]))
        last_day = period.cycle_end if day is None else min(day, period.cycle_end)
        final = last_day == period.cycle_end
        stem = f"prepayment_{batch}_{year}" + (f"_{day.isoformat()}" if day else "")
        path = out_path or ctx.obj.data_dir / "reports" / f"{stem}.{fmt}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "xlsx":
            from jicai.reports.xlsx import write_xlsx

            report = build_report(ledger, months, recovery, batch_id=batch, year=year, last_day=last_day,
                                  final=final, policy_version=policy.version, computed_at=computed_at)
            write_xlsx(report, path)
        elif fmt == "csv":
            import pandas as pd

            pd.DataFrame(ledger, columns=list(PREPAYMENT_COLUMNS)).to_csv(path, index=False, encoding="utf-8-sig")
            pd.DataFrame(recovery, columns=list(RECOVERY_COLUMNS)).to_csv(
                path.with_name(f"{path.stem}_recovery.csv"), index=False, encoding="utf-8-sig")
        else:
            path.write_text(json.dumps({
                "batch_id": batch, "cycle_year": year, "as_of": day.isoformat() if day else None,
                "policy_version": policy.version, "computed_at": computed_at.isoformat(),
                "ledger": _json_rows(ledger), "months": _json_rows(months), "recovery": _json_rows(recovery),
            }, ensure_ascii=False, indent=1), encoding="utf-8")

        last = [r for r in ledger if r["month_end"] == last_day]
        head = f"预付台账 批次 {batch} 第 {year} 采购年度"
        if not ledger:
            out.print(f"{head}:没有约定或预付记录 / no agreements or prepayments(政策 {policy.version})")
        else:
            out.print(f"{head}(截至 {last_day.isoformat()},政策 {policy.version})")
            out.print(f"  机构 {len(last)} 家,预付金额 {_money(sum(r['prepayment'] for r in last))} 元,"
                      f"累计冲抵 {_money(sum(r['cumulative_offset'] for r in last))} 元,"
                      f"余额 {_money(sum(r['balance'] for r in last))} 元")
            word = "应收回" if final else "预计应收回(年度未结束)"
            out.print(f"  年终清算:{word} {len(recovery)} 家,合计 {_money(sum(r['recover_amount'] for r in recovery))} 元")
        out.print(f"  报表:{path}")
