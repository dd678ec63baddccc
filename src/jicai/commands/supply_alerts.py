"""``jicai supply-alerts``: sentinel early warnings (哨点预警) and demand surges (需求激增) of a month."""

from __future__ import annotations

from pathlib import Path

import typer

from jicai import clock
from jicai.commands._checks import require_tables
from jicai.commands._options import FORMAT, OUT, POLICY
from jicai.commands.supply import Listing, _month_window, check_format, rows_of, write_listings
from jicai.console import console, out


def alert_text(kind: str, r: dict, pv) -> str:
    """The rule that fired and its figures, in one Chinese sentence."""
    if kind == "surge":
        return (f"{r['region_code']} {r['variety_name'] or r['variety_id']} {r['month']} 采购量 {r['ordered_units']:,.0f},"
                f"前{int(pv('surge_baseline_months'))}个月月均 {r['baseline_units']:,.0f},为 {r['surge_ratio']:.2f} 倍"
                f"(超过 {r['surge_factor']:g} 倍即为需求激增)")
    parts = []
    for t in (r["triggers"] or "").split(";"):
        if t == "report":
            parts.append(f"哨点反映供应问题 {r['reports']} 次")
        elif t == "slow_response":
            parts.append(f"哨点订单响应时间中位数 {r['response_hours_median']:.1f} 小时(超过 {pv('response_hours_max'):g} 小时)")
        elif t == "low_delivery_rate":
            parts.append(f"哨点配送率 {r['delivery_rate']:.1%}(低于 {pv('delivery_rate_min'):.0%})")
    return (f"{r['sentinel_name'] or r['sentinel_code']} {r['product_name'] or r['product_code']} {r['month']}:"
            + ";".join(parts) + f";同地市可能受影响机构 {r['at_risk_institutions']} 家")


def register(app: typer.Typer) -> None:
    @app.command("supply-alerts")
    def supply_alerts_cmd(
        ctx: typer.Context,
        month: str = typer.Option(..., "--month", help="月份 / month, YYYY-MM"),
        months: int = typer.Option(1, "--months", help="月数(含本月,向前) / months, this one and the ones before"),
        batch: str = typer.Option(None, "--batch", help="哨点预警只看该批次中选产品 / sentinel alerts for this batch's products"),
        fmt: str = FORMAT,
        out_path: Path = OUT,
        policy_path: Path = POLICY,
    ) -> None:
        """哨点预警与需求激增 / sentinel early warnings and demand surges, with the rule that fired."""
        from jicai.commands.policy import policy_for
        from jicai.measures.supply_alerts import (
            EXPOSURE_COLUMNS,
            INPUT_TABLES,
            SENTINEL_COLUMNS,
            SUPPLIER_COLUMNS,
            SURGE_COLUMNS,
            sentinel_alerts,
            sentinel_exposure,
            surge_alerts,
            surge_suppliers,
        )

        check_format(fmt)
        label, first, end = _month_window(month, months)
        wh = ctx.obj.warehouse()
        try:
            require_tables(wh, INPUT_TABLES)
            policy = policy_for(ctx.obj, wh, batch, policy_path)
            computed_at = clock.stamp()
            with console.status("正在计算供应预警 / computing supply alerts…"):
                sentinel = rows_of(sentinel_alerts(wh, label, first, batch, policy),
                                   ["month", "region_code", "product_code", "sentinel_code"])
                exposure = rows_of(sentinel_exposure(wh, label, first, batch, policy),
                                   ["month", "region_code", "product_code", "sentinel_code", "institution_code"])
                surges = rows_of(surge_alerts(wh, label, first, policy), ["month", "region_code", "variety_id"])
                suppliers = rows_of(surge_suppliers(wh, label, first, policy),
                                    ["month", "region_code", "variety_id", "role", "product_code"])
        finally:
            wh.close()
        pv = lambda n: policy.value(n, on=end)  # noqa: E731
        for r in sentinel:
            r["rule"] = alert_text("sentinel", r, pv)
        for r in surges:
            r["rule"] = alert_text("surge", r, pv)
        suppliers.sort(key=lambda r: (r["month"], r["region_code"], r["variety_id"], r["role"] != "backup",
                                      r["product_code"]))
        rule = {"rule": ("预警说明", "the rule that fired, with its figures")}
        listings = [
            Listing("sentinel", "哨点预警", {**SENTINEL_COLUMNS, **rule}, sentinel, (), "哨点机构先发现的供应问题"),
            Listing("exposure", "可能受影响机构", EXPOSURE_COLUMNS, exposure, ("ordered_units",),
                    "同地市近3个月采购该产品的其他机构"),
            Listing("surge", "需求激增", {**SURGE_COLUMNS, **rule}, surges, (), "品种×地市×月"),
            Listing("suppliers", "可调配供应企业", SUPPLIER_COLUMNS, suppliers, (),
                    "备供企业在前,其后为其他中选企业;发货量为最小单位"),
        ]
        stem = f"supply_alerts_{label}" + (f"_{months}m" if months > 1 else "")
        path = out_path or ctx.obj.data_dir / "reports" / f"{stem}.{fmt}"
        write_listings(
            listings, fmt, path, title="集采中选产品供应预警", period=f"{first} 至 {label}" if months > 1 else label,
            as_of=end, batch_id=batch, policy_version=policy.version, computed_at=computed_at,
            headline=[("哨点预警", f"{len(sentinel)} 条"), ("需求激增", f"{len(surges)} 条")],
            paragraphs=["哨点预警:哨点机构反映供应问题,或其本身订单的响应时间、配送率触及阈值(泉州通知 六)。"
                        "需求激增:品种在地市当月采购量超过前几个月月均的阈值倍数,列出备供企业和其他中选企业的近期发货量"
                        "(泉州通知 四)。"],
            extra={"month": label, "first_month": first})
        out.print(f"供应预警 {first if months > 1 else ''}{'~' if months > 1 else ''}{label}(政策 {policy.version}):"
                  f"哨点预警 {len(sentinel)} 条,需求激增 {len(surges)} 条")
        for r in sentinel[:5]:
            out.print(f"  哨点:{r['rule']}")
        for r in surges[:5]:
            out.print(f"  激增:{r['rule']}")
        out.print(f"  报表:{path}")
