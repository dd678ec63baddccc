"""Supply guarantee commands (seed 002): ``jicai supply`` (scorecard), ``supply-alerts`` (sentinel and
surge), ``supply-continuity`` (a new batch) and ``supply-periods`` (supply-problem periods).

Every command writes xlsx (a cover and one sheet per list, Chinese headers, 合计 rows where sums mean
something), csv (the first list; the others beside it as ``<stem>_<list>.csv``) or json (every list).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import typer

from jicai import clock
from jicai.commands._checks import require_tables
from jicai.commands._options import FORMAT, OUT, POLICY
from jicai.console import console, fail, out

FORMATS = ("xlsx", "csv", "json")

KINDS = {
    **dict.fromkeys(("ordered_amount", "shipped_amount", "accepted_amount", "substituted_amount",
                     "excluded_amount"), "money"),
    **dict.fromkeys(("ordered_packs", "ordered_units", "shipped_packs", "accepted_packs", "on_time_packs",
                     "at_risk_monthly_units", "ordered_units", "baseline_units", "month_shipped_units",
                     "baseline_shipped_units", "region_shipped_units", "monthly_units", "main_monthly_units",
                     "selected_volume", "substituted_volume", "excluded_volume", "agreed_volume"), "volume"),
    **dict.fromkeys(("order_lines", "responded_lines", "complaints", "complaint_institutions", "sentinel_reports",
                     "products", "reports", "at_risk_institutions", "institutions", "covered_days", "cycle_year"),
                    "int"),
    **dict.fromkeys(("delivery_rate", "completion", "completion_without", "nonselected_share", "share_without"),
                    "pct"),
    **dict.fromkeys(("response_hours_median", "response_hours_p90", "ship_hours_median", "surge_ratio",
                     "surge_factor"), "score"),
    **dict.fromkeys(("start_date", "period_start", "period_end", "last_ordered"), "date"),
    **dict.fromkeys(("verified", "open", "counts", "covers_region", "winner_new", "nonselected_excess",
                     "excess_without"), "bool"),
    **dict.fromkeys(("status", "status_without"), "status"),
}


@dataclass
class Listing:
    key: str  # csv suffix and json key
    title: str  # sheet name
    columns: dict[str, tuple[str, str]]
    rows: list[dict]
    totals: tuple[str, ...] = ()
    note: str = ""


def _plain(v):
    return v.isoformat() if isinstance(v, (date, datetime)) else v


def _shown(rows: list[dict]) -> list[dict]:
    """Codes a reader should not have to decode (flags, triggers, roles, cases, reasons) in Chinese."""
    from jicai.measures.supply import flag_names
    from jicai.measures.supply_alerts import TRIGGERS
    from jicai.measures.supply_continuity import CASES
    from jicai.measures.supply_periods import REASONS

    roles = {"primary": "主供", "backup": "备供"}
    out_rows = []
    for r in rows:
        r = dict(r)
        if "flags" in r:
            r["flags"] = flag_names(r["flags"])
        if "triggers" in r:
            r["triggers"] = "、".join(TRIGGERS.get(x, (x,))[0] for x in (r["triggers"] or "").split(";") if x)
        if "role" in r:
            r["role"] = roles.get(r["role"], r["role"])
        if "case" in r:
            r["case"] = CASES.get(r["case"], (r["case"],))[0]
        if "reason" in r:
            r["reason"] = REASONS.get(r["reason"], (r["reason"],))[0]
        out_rows.append(r)
    return out_rows


def write_listings(listings: list[Listing], fmt: str, path: Path, *, title: str, period: str, as_of: date,
                   batch_id: str | None, policy_version: str, computed_at: datetime,
                   headline: list[tuple[str, str]], paragraphs: list[str], extra: dict | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        from jicai.reports.documents import Report, Table, columns
        from jicai.reports.xlsx import write_xlsx

        report = Report(kind="supply", title=title, period=period, as_of=as_of, batch_id=batch_id,
                        policy_version=policy_version, computed_at=computed_at, headline=headline,
                        paragraphs=paragraphs)
        for lst in listings:
            cols = columns(lst.columns, list(lst.columns), KINDS, totals=lst.totals)
            totals = {c: sum((r.get(c) or 0) for r in lst.rows) for c in lst.totals} if lst.totals else None
            report.tables.append(Table(lst.key, lst.title, cols, _shown(lst.rows), totals=totals, note=lst.note))
        write_xlsx(report, path)
    elif fmt == "csv":
        import pandas as pd

        for i, lst in enumerate(listings):
            target = path if i == 0 else path.with_name(f"{path.stem}_{lst.key}.csv")
            pd.DataFrame(lst.rows, columns=list(lst.columns)).to_csv(target, index=False, encoding="utf-8-sig")
    else:
        doc = {"title": title, "period": period, "as_of": as_of.isoformat(), "batch_id": batch_id,
               "policy_version": policy_version, "computed_at": computed_at.isoformat(), **(extra or {})}
        for lst in listings:
            doc[lst.key] = [{k: _plain(v) for k, v in r.items()} for r in lst.rows]
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        fail(f"不支持的格式 {fmt}(可选 xlsx/csv/json)", f"unsupported format {fmt} (xlsx/csv/json)")


def rows_of(expr, order: list[str]) -> list[dict]:
    return expr.order_by(order).to_pyarrow().to_pylist()


def _month_window(month: str, months: int):
    from jicai.measures.supply_base import MonthError, month_label, parse_month, shift_month

    try:
        last = parse_month(month)
    except MonthError as exc:
        fail(exc.zh, exc.en)
    if months < 1:
        fail("--months 应不少于 1", "--months must be at least 1")
    return month_label(last), month_label(shift_month(last, -(months - 1))), shift_month(last, 1)


def register(app: typer.Typer) -> None:
    @app.command("supply")
    def supply_cmd(
        ctx: typer.Context,
        month: str = typer.Option(..., "--month", help="月份 / month, YYYY-MM"),
        months: int = typer.Option(6, "--months", help="趋势月数(含本月) / months of the trend, this one included"),
        batch: str = typer.Option(None, "--batch", help="只看该批次的中选产品 / only products selected in this batch"),
        fmt: str = FORMAT,
        out_path: Path = OUT,
        policy_path: Path = POLICY,
    ) -> None:
        """供应保障评分卡:中选产品×企业×配送企业×月 / supply scorecard per product, enterprise, distributor, month."""
        from jicai.commands.policy import policy_for
        from jicai.measures.supply import (
            INPUT_TABLES,
            ROLLUP_COLUMNS,
            SUPPLY_COLUMNS,
            supply_rollup,
            supply_scorecard,
        )

        check_format(fmt)
        label, first, end = _month_window(month, months)
        wh = ctx.obj.warehouse()
        try:
            require_tables(wh, INPUT_TABLES)
            policy = policy_for(ctx.obj, wh, batch, policy_path)
            computed_at = clock.stamp()
            with console.status("正在计算供应保障评分卡 / computing the supply scorecard…"):
                card = rows_of(supply_scorecard(wh, label, None, batch, policy),
                               ["product_code", "enterprise_code", "distributor_code"])
                ent = rows_of(supply_rollup(wh, label, "enterprise", None, batch, policy), ["enterprise_code"])
                dist = rows_of(supply_rollup(wh, label, "distributor", None, batch, policy), ["distributor_code"])
                trend = rows_of(supply_rollup(wh, label, "month", first, batch, policy), ["month"])
                dist_trend = rows_of(supply_rollup(wh, label, "distributor", first, batch, policy),
                                     ["distributor_code", "month"])
        finally:
            wh.close()
        flagged = [r for r in card if r["flags"]]
        card.sort(key=lambda r: (r["flags"] == "", r["delivery_rate"] if r["delivery_rate"] is not None else 2.0))
        ent_cols = {k: v for k, v in ROLLUP_COLUMNS.items() if not k.startswith("distributor")}
        dist_cols = {k: v for k, v in ROLLUP_COLUMNS.items() if not k.startswith("enterprise")}
        trend_cols = {k: v for k, v in ROLLUP_COLUMNS.items()
                      if not k.startswith(("enterprise", "distributor"))}
        sums = ("order_lines", "ordered_amount", "shipped_amount", "accepted_amount", "complaints")
        listings = [
            Listing("scorecard", "评分卡", SUPPLY_COLUMNS, card, sums,
                    "中选产品×中选企业×配送企业;有预警标记的在前,按配送率从低到高"),
            Listing("enterprises", "按中选企业", ent_cols, ent, sums, "中选企业汇总(中位数按全部订单行计算)"),
            Listing("distributors", "按配送企业", dist_cols, dist, sums, "配送企业汇总"),
            Listing("trend", "月度趋势", trend_cols, trend, (), f"{first} 至 {label} 全部中选产品"),
            Listing("distributor_trend", "配送企业趋势", dist_cols, dist_trend, (), "配送企业×月"),
        ]
        stem = f"supply_{label}" + (f"_{batch}" if batch else "")
        path = out_path or ctx.obj.data_dir / "reports" / f"{stem}.{fmt}"
        pv = lambda n: policy.value(n, on=end)  # noqa: E731
        write_listings(
            listings, fmt, path, title="集采中选产品供应保障评分卡", period=label,
            as_of=end, batch_id=batch, policy_version=policy.version, computed_at=computed_at,
            headline=[("评分卡行数", f"{len(card)} 行"), ("有预警标记", f"{len(flagged)} 行"),
                      ("配送时限", f"{pv('deliver_within_hours'):g} 小时"),
                      ("配送率下限", f"{pv('delivery_rate_min'):.0%}")],
            paragraphs=[
                "依据泉州市医保局《关于加强药品和医用耗材集中带量采购中选产品供应保障工作的通知》六:监测订单响应时间、"
                "发货时间、配送金额、配送数量,对订单响应不及时、配送率明显偏低、医疗机构反映供应问题集中的产品重点监测。",
                f"配送率 = 下单后 {pv('deliver_within_hours'):g} 小时内(含)发货数量 / 采购数量(包装);"
                f"响应时间中位数超过 {pv('response_hours_max'):g} 小时为响应不及时,配送率低于 "
                f"{pv('delivery_rate_min'):.0%} 为配送率偏低;数量单位为包装(采购数量另给最小单位)。",
            ],
            extra={"month": label, "first_month": first})
        out.print(f"供应保障评分卡 {label}(政策 {policy.version}):{len(card)} 行,有预警标记 {len(flagged)} 行")
        counts: dict[str, int] = {}
        for r in flagged:
            for f in r["flags"].split(";"):
                counts[f] = counts.get(f, 0) + 1
        from jicai.measures.supply import FLAGS

        for f, n in counts.items():
            out.print(f"  {FLAGS[f][0]}:{n} 行")
        for r in [r for r in dist if "low_delivery_rate" in (r["flags"] or "")][:5]:
            rate = "—" if r["delivery_rate"] is None else f"{r['delivery_rate']:.1%}"
            med = "—" if r["response_hours_median"] is None else f"{r['response_hours_median']:.1f}"
            out.print(f"  配送企业 {r['distributor_name'] or ''}({r['distributor_code']}):配送率 {rate},"
                      f"响应时间中位数 {med} 小时")
        out.print(f"  报表:{path}")
