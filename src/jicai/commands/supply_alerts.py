"""``jicai supply-alerts``: sentinel early warnings (哨点预警) and demand surges (需求激增) of a month."""

from __future__ import annotations

import typer

from jicai.commands._runner import POLICY, Run, computing_command, measure_rows, measure_table, option
from jicai.console import out
from jicai.contract.columns import col
from jicai.reports.documents import Column, Report


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
    @computing_command(app, "supply-alerts", policy=POLICY)
    def supply_alerts_cmd(
        r: Run,
        month: str = option("month"),
        months: int = typer.Option(1, "--months", help="月数(含本月,向前) / months, this one and the ones before"),
        batch: str = typer.Option(None, "--batch", help="哨点预警只看该批次中选产品 / sentinel alerts for this batch's products"),
    ) -> None:
        """哨点预警与需求激增 / sentinel early warnings and demand surges, with the rule that fired."""
        from jicai.measures.registry import measure
        from jicai.measures.supply_alerts import INPUT_TABLES
        from jicai.measures.supply_base import MonthsArgs, month_window

        label, first, end = month_window(month, months)
        r.require(INPUT_TABLES)
        policy = r.policy(batch)
        args = MonthsArgs(policy, month=label, batch=batch, first_month=first)
        m = {k: measure(f"supply-{k}") for k in ("sentinel", "exposure", "surge", "surge-suppliers")}
        sentinel = measure_rows(r, m["sentinel"], args)
        exposure = measure_rows(r, m["exposure"], args)
        surges = measure_rows(r, m["surge"], args)  # a variety's surge in a city: no batch filter
        suppliers = measure_rows(r, m["surge-suppliers"], args)

        def pv(name: str):
            return policy.value(name, on=end)

        for x in sentinel:
            x["rule"] = alert_text("sentinel", x, pv)
        for x in surges:
            x["rule"] = alert_text("surge", x, pv)
        rule = Column.of(col("rule"))
        report = Report(
            kind="supply-alerts", title="集采中选产品供应预警",
            period=f"{first} 至 {label}" if months > 1 else label, as_of=end, batch_id=batch,
            policy_version=policy.version, policy_label=policy.label, computed_at=r.computed_at,
            headline=[("哨点预警", f"{len(sentinel)} 条"), ("需求激增", f"{len(surges)} 条")],
            paragraphs=["哨点预警:哨点机构反映供应问题,或其本身订单的响应时间、配送率触及阈值(泉州通知 六)。"
                        "需求激增:品种在地市当月采购量超过前几个月月均的阈值倍数,列出备供企业和其他中选企业的近期发货量"
                        "(泉州通知 四)。"],
            params={"as_of": end, "batch_id": batch, "month": label, "first_month": first})
        report.tables += [
            measure_table(m["sentinel"], sentinel, "sentinel", "哨点预警", note="哨点机构先发现的供应问题"),
            measure_table(m["exposure"], exposure, "exposure", "可能受影响机构",
                          note="同地市近3个月采购该产品的其他机构"),
            measure_table(m["surge"], surges, "surge", "需求激增", note="品种×地市×月"),
            measure_table(m["surge-suppliers"], suppliers, "suppliers", "可调配供应企业",
                          note="备供企业在前,其后为其他中选企业;发货量为最小单位"),
        ]
        for t in (report.table("sentinel"), report.table("surge")):
            t.columns.append(rule)
        path = r.write(report, f"supply_alerts_{label}" + (f"_{months}m" if months > 1 else ""))
        out.print(f"供应预警 {first if months > 1 else ''}{'~' if months > 1 else ''}{label}(政策 {policy.label}):"
                  f"哨点预警 {len(sentinel)} 条,需求激增 {len(surges)} 条")
        for x in sentinel[:5]:
            out.print(f"  哨点:{x['rule']}")
        for x in surges[:5]:
            out.print(f"  激增:{x['rule']}")
        out.print(f"  报表:{path}")
