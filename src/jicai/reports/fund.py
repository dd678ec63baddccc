"""Fund-supervision reports as documents (:class:`jicai.reports.documents.Report`): Chinese headers, kinds,
totals, headline figures and paragraphs — what the xlsx writer lays out and what a web page renders.

Each ``*_report`` takes the rows the measures returned (``to_pyarrow().to_pylist()``) and adds only
presentation: codes to Chinese (:func:`shown`), times as text, ordering, per-tier and per-kind sums.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from jicai.calendar import quarter_ending
from jicai.reports.documents import Report, Table, columns

MONEY = ("package", "actual_spending", "surplus", "reasonable_spending", "reasonable_surplus", "returned_amount",
         "overall_per_capita", "per_capita_standard", "amount", "settled_amount", "video_amount", "stock_amount",
         "large_amount", "proxy_amount", "flagged_amount", "recovered_ytd", "total_budget", "spending",
         "ahead_amount", "remaining_budget", "projected_spending", "unit_price")
KINDS: dict[str, str] = {
    **dict.fromkeys(MONEY, "money"),
    **dict.fromkeys(("deviation", "return_rate", "spending_progress", "time_progress", "return_share"), "pct"),
    **dict.fromkeys(("enrolled", "institutions", "tier", "settlements", "violations", "video_violations",
                     "stock_mismatches", "large_settlements", "proxy_unregistered", "flagged_settlements",
                     "cases_ytd", "suspensions_ytd", "notices_ytd", "months_counted", "rank", "count"), "int"),
    **dict.fromkeys(("quantity", "opening", "purchased", "settled_quantity", "closing", "difference"), "volume"),
    "gap": "pp",
    "over_budget": "bool", "stock_recorded": "bool", "proxy": "bool",
    "as_of": "date",
    "level": "level",
}


class FundReport(Report):
    """A report without a batch: the cover names the scope instead of 批次."""

    scope: str = "全部机构"

    @property
    def cover(self) -> list[tuple[str, str]]:
        return [("范围", self.scope) if k == "批次" else (k, v) for k, v in super().cover]


def _text_time(v: Any) -> Any:
    return v.isoformat(sep=" ", timespec="seconds") if isinstance(v, datetime) else v


def shown(rows: list[dict], labels: dict[str, dict[str, str]] | None = None) -> list[dict]:
    """Rows for display: timestamps as text, coded columns (``labels[column][code]``) in Chinese."""
    labels = labels or {}
    out = []
    for r in rows:
        d = {k: _text_time(v) for k, v in r.items()}
        for col, names in labels.items():
            if col in d and d[col] in names:
                d[col] = names[d[col]]
        out.append(d)
    return out


def _money(x: float | None) -> str:
    return "—" if x is None else f"{x:,.2f}"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _sum(rows: list[dict], col: str) -> float:
    return sum(r.get(col) or 0.0 for r in rows)


def _table(key: str, title: str, labels: dict[str, tuple[str, str]], rows: list[dict], *,
           names: list[str] | None = None, totals: tuple[str, ...] = (), note: str = "",
           brief: tuple[str, ...] = ()) -> Table:
    names = names or list(labels)
    tot = {c: _sum(rows, c) for c in totals} if totals else None
    return Table(key, title, columns(labels, names, KINDS, totals=totals), rows, totals=tot, note=note, brief=brief)


# -- capitation ----------------------------------------------------------------------------------------

def capitation_report(rows: list[dict], *, period: str, on: date, tier_labels: dict[int, str],
                      tier_rates: dict[int, float], policy_version: str, computed_at: datetime) -> FundReport:
    from jicai.fund.capitation import BASES, CAPITATION_COLUMNS

    ordered = sorted(rows, key=lambda r: (r["tier"] is None, r["tier"] or 0, -(r["returned_amount"] or 0.0),
                                          r["institution_code"]))
    shown_rows = shown(ordered, {"deviation_basis": {k: v[0] for k, v in BASES.items()}})
    for r in shown_rows:
        r["tier"] = tier_labels.get(r["tier"], "无偏差基数") if r["tier"] is not None else "无偏差基数"
    labels = {**CAPITATION_COLUMNS, "tier": ("返还档次", CAPITATION_COLUMNS["tier"][1])}
    kinds_tier = {"tier": "text"}
    detail = Table("capitation", "返还明细",
                   columns(labels, list(labels), {**KINDS, **kinds_tier},
                           totals=("enrolled", "package", "actual_spending", "surplus", "returned_amount")),
                   shown_rows,
                   totals={c: _sum(rows, c) for c in ("enrolled", "package", "actual_spending", "surplus",
                                                      "returned_amount")},
                   note="按返还档次、返还金额从高到低;合计为各机构之和",
                   brief=("institution_code", "institution_name", "package", "actual_spending", "surplus",
                          "reasonable_surplus", "deviation", "tier", "return_rate", "returned_amount"))
    tiers = []
    for k, label in tier_labels.items():
        mine = [r for r in rows if r["tier"] == k]
        tiers.append({"tier": label, "return_rate": tier_rates[k], "institutions": len(mine),
                      "surplus": _sum(mine, "surplus"), "returned_amount": _sum(mine, "returned_amount")})
    none = [r for r in rows if r["tier"] is None]
    if none:
        tiers.append({"tier": "无偏差基数", "return_rate": None, "institutions": len(none),
                      "surplus": _sum(none, "surplus"), "returned_amount": 0.0})
    tier_cols = {"tier": ("返还档次", "deviation tier"), "return_rate": ("返还比例", "rate of the tier"),
                 "institutions": ("机构数", "institutions in the tier"),
                 "surplus": ("实际余量", "Σ S of the tier"), "returned_amount": ("返还金额", "Σ returned")}
    by_tier = Table("tiers", "分档汇总",
                    columns(tier_cols, list(tier_cols), {**KINDS, "tier": "text"},
                            totals=("institutions", "surplus", "returned_amount")),
                    tiers, totals={c: _sum(tiers, c) for c in ("institutions", "surplus", "returned_amount")},
                    note="偏差上限含本数(偏差恰为5%按70%返还)")
    mean = rows[0]["overall_per_capita"] if rows else None
    positive = sum(max(r["surplus"] or 0.0, 0.0) for r in rows)
    returned = _sum(rows, "returned_amount")
    report = FundReport(
        kind="capitation", title="门诊统筹按人头付费包干结余返还(中值最优法)", period=f"结算期 {period}",
        as_of=on, batch_id=None, policy_version=policy_version, computed_at=computed_at,
        headline=[("机构数", f"{len(rows)} 家"), ("包干总额", f"{_money(_sum(rows, 'package'))} 元"),
                  ("实际支出", f"{_money(_sum(rows, 'actual_spending'))} 元"),
                  ("总体人均支出", f"{_money(mean)} 元"),
                  ("返还金额", f"{_money(returned)} 元(占正结余 {_pct(returned / positive if positive else None)})")],
        paragraphs=[
            "按“中值最优法”返还包干结余(盐城 医保基金风险防控):以门诊统筹总体人均支出测算各机构的合理余量,"
            "实际余量与合理余量的偏差越小,返还比例越高。",
            "包干总额 = 签约人数 × 人均付费标准;实际余量 = 包干总额 − 实际支出;总体人均支出 = 全部机构实际支出之和 / "
            "签约人数之和;合理余量 = 包干总额 − 签约人数 × 总体人均支出;偏差 = |实际余量 − 合理余量| / |合理余量|"
            "(合理余量为0时除以包干总额);返还金额 = max(实际余量, 0) × 返还比例。金额先精确到分,档次按整数比较,"
            "偏差恰为5%、10%、20%时按较高返还比例。",
        ],
        tables=[by_tier, detail],
    )
    return report


# -- pharmacy ------------------------------------------------------------------------------------------

def pharmacy_report(*, month: str, risk: list[dict], violations: list[dict], video: list[dict],
                    stock: list[dict], large: list[dict], proxy: list[dict], checked: dict[str, Any],
                    policy_version: str, computed_at: datetime, as_of: date) -> FundReport:
    from jicai.fund.pharmacy import (
        KINDS as VKINDS,
    )
    from jicai.fund.pharmacy import (
        RISK_COLUMNS,
        SETTLEMENT_COLUMNS,
        STOCK_COLUMNS,
        VIDEO_COLUMNS,
        VIOLATION_COLUMNS,
    )

    kind_zh = {"kind": {k: v[0] for k, v in VKINDS.items()}}
    risk = sorted(risk, key=lambda r: (-r["violations"], -r["flagged_amount"] - r["stock_amount"],
                                       -r["cases_ytd"], r["pharmacy_code"]))
    order = list(VKINDS)
    violations = sorted(violations, key=lambda r: (r["pharmacy_code"], order.index(r["kind"]),
                                                   str(r["settled_at"] or ""), r["product_code"] or ""))
    counts = {k: sum(1 for v in violations if v["kind"] == k) for k in VKINDS}
    amounts = {k: sum(v["amount"] or 0.0 for v in violations if v["kind"] == k) for k in VKINDS}
    recovered = _sum(risk, "recovered_ytd")
    suspended = sum(1 for r in risk if r["suspensions_ytd"] > 0)
    risky = [r for r in risk if r["violations"] > 0]
    report = FundReport(
        kind="pharmacy", title="定点零售药店医保结算监管", period=f"{month[:4]}年{int(month[5:])}月",
        as_of=as_of, batch_id=None, policy_version=policy_version, computed_at=computed_at,
        headline=[
            ("检查范围", f"{checked['pharmacies']} 家药店,结算 {checked['settlements']:,} 笔,"
                        f"金额 {_money(checked['amount'])} 元"),
            ("违规药店", f"{len(risky)} 家,违规 {len(violations)} 项"),
            *[(VKINDS[k][0], f"{counts[k]} 项,涉及 {_money(amounts[k])} 元") for k in VKINDS],
            ("本年查处", f"{sum(r['cases_ytd'] for r in risk)} 件,追回 {_money(recovered)} 元,"
                        f"暂停结算 {suspended} 家"),
        ],
        paragraphs=[
            "视频监控设备与结算设备同步运转,视频进入非有效状态即暂停结算;代购登记、大额购药标准、进销存一致"
            "(盐城 疏堵并举)。本表列出本月应被拦截而发生的结算、进销存不一致、大额购药和未登记代购。",
            "视频区间含开始时刻、不含结束时刻;在线与离线区间重叠时按离线处理;没有任何在线区间覆盖的结算同样违规。"
            "进销存差异 = 期初 + 购进 − 本月结算数量 − 期末(最小制剂单位),估算金额按该品种本月全部药店结算均价计。",
        ],
    )

    def tbl(key, title, labels, rows, totals=(), note="", brief=()):
        return _table(key, title, labels, shown(rows, kind_zh), totals=totals, note=note, brief=brief)

    report.tables = [
        tbl("risk", "药店风险汇总", RISK_COLUMNS, risk,
            totals=("settlements", "settled_amount", "violations", "video_violations", "video_amount",
                    "stock_mismatches", "stock_amount", "large_settlements", "large_amount", "proxy_unregistered",
                    "proxy_amount", "flagged_settlements", "flagged_amount", "cases_ytd", "recovered_ytd",
                    "suspensions_ytd", "notices_ytd"),
            note="本月有违规或本年有查处记录的药店;按违规数、涉及金额从高到低",
            brief=("pharmacy_code", "pharmacy_name", "violations", "flagged_amount", "stock_amount", "cases_ytd",
                   "recovered_ytd", "suspensions_ytd")),
        tbl("violations", "违规明细", VIOLATION_COLUMNS, violations, totals=("amount",),
            note="每项违规一行;同一笔结算可能属于多种违规"),
        tbl("video", "视频联动违规", VIDEO_COLUMNS, video, totals=("amount",)),
        tbl("stock", "进销存不一致", STOCK_COLUMNS, stock, totals=("amount",)),
        tbl("large", "大额购药", SETTLEMENT_COLUMNS, large, totals=("amount",)),
        tbl("proxy", "代购未登记", SETTLEMENT_COLUMNS, proxy, totals=("amount",)),
    ]
    return report


# -- budget --------------------------------------------------------------------------------------------

def budget_report(rows: list[dict], totals: dict, *, as_of: date, margin: float, policy_version: str,
                  computed_at: datetime) -> FundReport:
    from jicai.fund.budget import BUDGET_COLUMNS, STATUS

    def key(r: dict) -> tuple:
        return (r["gap"] is None, -(r["gap"] or 0.0), r["institution_code"])

    ordered = sorted(rows, key=key)
    ranked = []
    for i, r in enumerate(ordered, start=1):
        ranked.append({"rank": i if r["gap"] is not None else None, **r})
    labels = {"rank": ("排序", "rank by gap, most ahead first"), **BUDGET_COLUMNS}
    status_zh = {"status": {k: v[0] for k, v in STATUS.items()}}
    money = ("total_budget", "spending", "ahead_amount", "remaining_budget")
    ahead = [r for r in ranked if r["status"] == "ahead"]
    q = quarter_ending(as_of)
    title = (f"{as_of.year}年第{q}季度医保基金总额预算执行会商报告" if q else "医保基金总额预算执行进度")
    report = FundReport(
        kind="budget", title=title, period=f"{as_of.year}年1月1日至{as_of.month}月{as_of.day}日",
        as_of=as_of, batch_id=None, policy_version=policy_version, computed_at=computed_at,
        headline=[
            ("机构数", f"{totals['institutions']} 家"),
            ("年度总额预算", f"{_money(totals['total_budget'])} 元"),
            ("累计医保支出", f"{_money(totals['spending'])} 元"),
            ("预算执行进度", f"{_pct(totals['spending_progress'])}(序时进度 {_pct(totals['time_progress'])})"),
            ("超序时进度", f"{totals['ahead']} 家(超过 {margin * 100:g} 个百分点)"),
            ("已超年度预算", f"{totals['over_budget']} 家"),
            ("无预算", f"{totals['no_budget']} 家"),
        ],
        paragraphs=[
            "医保经办机构与定点医疗机构按季通报会商:通报医保基金运行情况,反馈医疗费用总量使用进度(盐城 会商制度)。",
            f"预算执行进度 = 1月至截至月的医保支出 / 年度总额预算(截至月按整月计);序时进度 = 当年已过天数(含当日)/ "
            f"全年天数;执行进度超过序时进度 {margin * 100:g} 个百分点以上(不含)的机构列为会商重点。",
        ],
    )
    report.tables = [
        _table("consult", "会商重点机构", labels, shown(ahead, status_zh), totals=money,
               note="超序时进度的机构,按超出百分点从高到低",
               brief=("rank", "institution_code", "institution_name", "total_budget", "spending", "spending_progress",
                      "time_progress", "gap", "ahead_amount", "projected_spending")),
        _table("progress", "执行进度", labels, shown(ranked, status_zh), totals=money,
               note="全部机构,按执行进度减序时进度从高到低;无预算的机构在最后",
               brief=("rank", "institution_code", "institution_name", "total_budget", "spending", "spending_progress",
                      "gap", "status")),
    ]
    return report


def page_rows(table: Table, limit: int | None = None) -> list[dict[str, str]]:
    """A list of a report as a web page shows it: rows keyed by the Chinese headers, each value formatted
    by its column's kind (percentages with %, yuan with separators and 2 decimals, 是/否, — for blanks).

    >>> t = Table("t", "例", columns({"return_rate": ("返还比例", "rate"), "amount": ("返还金额", "yuan")},
    ...                              ["return_rate", "amount"], KINDS), [{"return_rate": 0.7, "amount": 14700.0}])
    >>> page_rows(t)
    [{'返还比例': '70.0%', '返还金额': '14,700.00'}]
    """
    from jicai.reports.html import cell

    rows = table.rows if limit is None else table.rows[:limit]
    return [{c.zh: cell(r.get(c.name), c.kind) for c in table.columns} for r in rows]
