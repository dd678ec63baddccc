"""The workbook ``jicai assess`` writes: 考核结果 / 分地区汇总 / 结余留用明细 / 说明.

Chinese headers from the column dicts (the column name and English meaning in the header comment);
ratios as percentages, points and scores with two decimals, amounts with thousands separators and two
decimals; pass/fail in Chinese; header frozen, autofilter on. Each data sheet ends with a 合计 (totals)
row: the sums of its amount columns, and on the regional sheet the batch's totals.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from jicai.assess.assessment import ASSESS_COLUMNS, ASSESS_TOTALS_COLUMNS
from jicai.assess.retention import RETENTION_TRACE_COLUMNS

SHEETS = ("考核结果", "分地区汇总", "结余留用明细", "说明")
PERCENT = {"completion", "nonselected_share", "payment_rate", "offline_share", "cost_growth", "retention_ratio",
           "fund_payment_ratio"}
MONEY = {"budget", "actual", "retention_base", "reward", "overspend", "overspend_shared", "purchase_amount",
         "prior_amount", "budget_term", "actual_term", "selected_amount", "nonselected_amount"}
INTS = {"level", "cycle_year", "varieties", "rank_in_level", "institutions", "passed", "failed"}
DATES = {"cycle_start", "cycle_end", "as_of"}
BOOLS = {"passed": ("合格", "不合格"), "price_missing": ("是", "否")}  # as text when the value is a bool
# columns that may have a figure in a 合计 row (amounts are summed; counts come from assess_totals)
TOTALLED = MONEY | {"institutions", "passed", "failed"}


def _fmt(c: str, formats: dict, dtype) -> tuple:
    if c in PERCENT:
        return formats["pct"], 10
    if c in INTS:
        return formats["int"], 8
    if c in MONEY:
        return formats["money"], 14
    if c in DATES:
        return formats["date"], 11
    if c.endswith("_points") or c == "score":
        return formats["points"], 9
    if c == "baseline_unit_price":
        return formats["price"], 11
    if getattr(dtype, "kind", "") == "f":
        return formats["vol"], 12
    return None, 12


def _write_sheet(wb, name: str, df: pd.DataFrame, labels: dict[str, tuple[str, str]], formats: dict,
                 totals: dict | None) -> None:
    ws = wb.add_worksheet(name)
    cols = list(df.columns)
    for j, c in enumerate(cols):
        zh, en = labels.get(c, (c, c))
        ws.write(0, j, zh, formats["header"])
        ws.write_comment(0, j, f"{c}: {en}")
        fmt, width = _fmt(c, formats, df[c].dtype)
        wide = c in ("failed_items_zh", "score_items")
        ws.set_column(j, j, 60 if wide else max(width, len(zh) * 2 + 2), fmt)
    for i, row in enumerate(df.itertuples(index=False), start=1):
        for j, (c, v) in enumerate(zip(cols, row, strict=True)):
            _write_cell(ws, i, j, c, v, formats)
    if totals is not None:
        i = len(df) + 1
        ws.write_string(i, 0, "合计", formats["total"])
        for j, c in enumerate(cols):
            if j and c in TOTALLED and totals.get(c) is not None:
                ws.write_number(i, j, float(totals[c]), formats.get(f"total_{_kind(c)}", formats["total"]))
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(df), 1), len(cols) - 1)


def _kind(c: str) -> str:  # format of a 合计 cell
    return "money" if c in MONEY else "int"


def _write_cell(ws, i: int, j: int, c: str, v, formats: dict) -> None:
    if v is None or v is pd.NaT or (isinstance(v, float) and pd.isna(v)):
        return
    if isinstance(v, (bool, np.bool_)):
        yes, no = BOOLS.get(c, ("是", "否"))
        ws.write_string(i, j, yes if v else no)
    elif c in DATES:
        ws.write_datetime(i, j, pd.Timestamp(v).to_pydatetime(), formats["date"])
    elif isinstance(v, (int, float)):
        ws.write_number(i, j, v)
    else:
        ws.write_string(i, j, str(v))


def write_assessment_xlsx(path: str | Path, rows: pd.DataFrame, regions: pd.DataFrame, batch_total: dict,
                          trace: pd.DataFrame, *, batch_id: str, cycle_year: int, as_of: date,
                          policy_version: str, computed_at: datetime) -> Path:
    """Write the assessment workbook; ``batch_total`` is the one row of ``assess_totals(…, "batch")``."""
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
        "points": wb.add_format({"num_format": "0.00"}),
        "price": wb.add_format({"num_format": "0.0000"}),
        "date": wb.add_format({"num_format": "yyyy-mm-dd"}),
        "total": wb.add_format({"bold": True, "top": 1}),
        "total_money": wb.add_format({"bold": True, "top": 1, "num_format": "#,##0.00"}),
        "total_int": wb.add_format({"bold": True, "top": 1, "num_format": "0"}),
    }
    sums = {c: rows[c].sum() for c in rows.columns if c in MONEY}
    _write_sheet(wb, SHEETS[0], rows, ASSESS_COLUMNS, formats, sums)
    region_labels = {**ASSESS_COLUMNS, **ASSESS_TOTALS_COLUMNS}
    _write_sheet(wb, SHEETS[1], regions, region_labels, formats, batch_total)
    trace_sums = {c: trace[c].sum() for c in trace.columns if c in MONEY}
    _write_sheet(wb, SHEETS[2], trace, RETENTION_TRACE_COLUMNS, formats, trace_sums)
    info = wb.add_worksheet(SHEETS[3])
    info.set_column(0, 0, 16)
    info.set_column(1, 1, 90)
    notes = [
        ("报表", "集采年度考核与结余留用测算"), ("批次", batch_id), ("采购年度", str(cycle_year)),
        ("考核截止日", as_of.isoformat()), ("政策版本", policy_version),
        ("计算时间", computed_at.isoformat(timespec="seconds")), ("机构数", str(len(rows))),
        ("不合格规则", "非豁免品种完成率低于 min_completion,或任一品种非中选占比高于 nonselected_share_max"),
        ("得分", "五项线性计分之和;某项无数据(无约定量、无应回款、无订单、上年同期无采购)按满分计"),
        ("结余留用", "预算 = Σ约定量×集采前价格×基金支付比例;结余 = max(0, 预算 − 实际);奖励 = 结余×档次比例(不合格为0)"),
        ("缺集采前价格", "该品种不计入预算和实际金额,列于“缺集采前价格品种”"),
    ]
    for i, (k, v) in enumerate(notes):
        info.write(i, 0, k, formats["header"])
        info.write(i, 1, v)
    wb.close()
    return path
