"""The monthly monitoring workbook (月度监测): a detail sheet and a sheet per roll-up, Chinese headers.

Headers come from ``MONITOR_COLUMNS`` / ``ROLLUP_COLUMNS`` (the English description is the header
comment); ratios are shown as percentages, volumes with thousands separators, amounts with 2 decimals;
header frozen, autofilter on; status and flags in Chinese (零采购 / 是 / 否).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd

from jicai.measures.monitor import MONITOR_COLUMNS, ROLLUP_COLUMNS, STATUS

PERCENT = {"time_progress", "completion", "nonselected_share", "offline_share", "payment_rate"}
AMOUNT_SUFFIX = "_amount"
AMOUNTS = {"amount_due", "paid_by_due"}
COUNTS = {"rows", "institutions", "zero", "behind", "over", "normal", "nonselected_excess_rows",
          "not_onboarded_rows", "overdue_lines", "level", "cycle_year"}
DATES = {"cycle_start", "cycle_end"}
BOOLS = {"nonselected_excess", "onboarded", "not_onboarded"}

SHEETS = {"institution": "按机构汇总", "region": "按地市汇总", "batch": "按批次汇总"}


def _headers(columns: list[str], labels: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    return [labels.get(c, (c, c)) for c in columns]


def _write_sheet(wb, name: str, df: pd.DataFrame, formats: dict, labels: dict[str, tuple[str, str]]) -> None:
    ws = wb.add_worksheet(name)
    cols = list(df.columns)
    for j, (c, (zh, en)) in enumerate(zip(cols, _headers(cols, labels), strict=True)):
        ws.write(0, j, zh, formats["header"])
        ws.write_comment(0, j, f"{c}: {en}")
        if c in PERCENT:
            fmt, width = formats["pct"], 10
        elif c in COUNTS:
            fmt, width = formats["int"], 9
        elif c.endswith(AMOUNT_SUFFIX) or c in AMOUNTS:
            fmt, width = formats["money"], 14
        elif c in DATES:
            fmt, width = formats["date"], 11
        elif df[c].dtype.kind == "f":
            fmt, width = formats["vol"], 13
        else:
            fmt, width = None, max(8, min(28, int(df[c].astype(str).str.len().max() or 0) * 2 if len(df) else 8))
        ws.set_column(j, j, max(width, len(zh) * 2 + 2), fmt)
    for i, row in enumerate(df.itertuples(index=False), start=1):
        for j, (c, v) in enumerate(zip(cols, row, strict=True)):
            if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NaT:
                continue
            if c == "status":
                ws.write_string(i, j, STATUS.get(v, (v,))[0])
            elif c in BOOLS:
                ws.write_string(i, j, "是" if v else "否")
            elif c in DATES:
                ws.write_datetime(i, j, pd.Timestamp(v).to_pydatetime(), formats["date"])
            elif isinstance(v, bool):
                ws.write_string(i, j, "是" if v else "否")
            elif isinstance(v, (int, float)):
                ws.write_number(i, j, v)
            else:
                ws.write_string(i, j, str(v))
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(df), 1), len(cols) - 1)


def write_monitor_xlsx(path: str | Path, detail: pd.DataFrame, rollups: dict[str, pd.DataFrame], *, as_of: date,
                       policy_version: str, computed_at: datetime, batch_id: str | None = None) -> Path:
    """Write the workbook: 说明 (parameters of the run), 监测明细, then one sheet per roll-up."""
    import xlsxwriter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    formats = {
        "header": wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                                 "valign": "vcenter"}),
        "pct": wb.add_format({"num_format": "0.0%"}),
        "int": wb.add_format({"num_format": "0"}),
        "vol": wb.add_format({"num_format": "#,##0.##"}),
        "money": wb.add_format({"num_format": "#,##0.00"}),
        "date": wb.add_format({"num_format": "yyyy-mm-dd"}),
    }
    info = wb.add_worksheet("说明")
    info.set_column(0, 0, 16)
    info.set_column(1, 1, 60)
    for i, (k, v) in enumerate([("报表", "集采执行月度监测"), ("监测日期", as_of.isoformat()),
                                ("批次", batch_id or "全部批次"), ("政策版本", policy_version),
                                ("计算时间", computed_at.isoformat(timespec="seconds")), ("明细行数", str(len(detail)))]):
        info.write(i, 0, k, formats["header"])
        info.write(i, 1, v)
    _write_sheet(wb, "监测明细", detail, formats, MONITOR_COLUMNS)
    for by, df in rollups.items():
        _write_sheet(wb, SHEETS.get(by, by), df, formats, {**MONITOR_COLUMNS, **ROLLUP_COLUMNS})
    wb.close()
    return path
