"""``jicai supply``: the supply scorecard of a month (seed 002 六) with its roll-ups and trends.

The lists are registered measures (:mod:`jicai.measures.supply`) computed for one set of arguments; the
report goes through the one output pipeline (xlsx, csv, json). The sibling commands ``supply-alerts``,
``supply-continuity`` and ``supply-periods`` are built the same way.
"""

from __future__ import annotations

from dataclasses import replace

import typer

from jicai.commands._runner import (
    POLICY,
    UNIT,
    Run,
    computing_command,
    measure_rows,
    measure_table,
    option,
    unit_option,
)
from jicai.console import out
from jicai.reports.documents import Report


def register(app: typer.Typer) -> None:
    @computing_command(app, "supply", policy=POLICY)
    def supply_cmd(
        r: Run,
        month: str = option("month"),
        months: int = typer.Option(6, "--months", help="趋势月数(含本月) / months of the trend, this one included"),
        batch: str = typer.Option(None, "--batch", help="只看该批次的中选产品 / only products selected in this batch"),
        unit: str = UNIT,
    ) -> None:
        """供应保障评分卡:中选产品×企业×配送企业×月 / supply scorecard per product, enterprise, distributor, month."""
        from jicai.analytics.ddd_units import in_ddd
        from jicai.measures.registry import measure
        from jicai.measures.supply import FLAGS, INPUT_TABLES
        from jicai.measures.supply_base import MonthsArgs, month_window

        u = unit_option(unit)
        label, first, end = month_window(month, months)
        r.require(INPUT_TABLES)
        policy = r.policy(batch)
        one = MonthsArgs(policy, month=label, batch=batch)  # the month alone
        span = replace(one, first_month=first)  # the --months window
        m = {k: measure(f"supply-{k}") for k in ("scorecard", "enterprises", "distributors", "trend",
                                                  "distributor-trend")}
        if u == "ddd":
            card, ent, dist, trend, dist_trend = in_ddd_rows(r, m, one, span)
            m = {k: in_ddd(v) for k, v in m.items()}
        else:
            card = measure_rows(r, m["scorecard"], one)
            ent = measure_rows(r, m["enterprises"], one)
            dist = measure_rows(r, m["distributors"], one)
            trend = measure_rows(r, m["trend"], span)
            dist_trend = measure_rows(r, m["distributor-trend"], span)
        flagged = [x for x in card if x["flags"]]
        # flagged rows first, the lowest delivery rate first (a row without a rate last among its kind)
        card.sort(key=lambda x: (x["flags"] == "", x["delivery_rate"] if x["delivery_rate"] is not None else 2.0))

        def pv(name: str):
            return policy.value(name, on=end)

        report = Report(
            kind="supply", title="集采中选产品供应保障评分卡", period=label, as_of=end, batch_id=batch,
            policy_version=policy.version, policy_label=policy.label, computed_at=r.computed_at,
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
            params={"as_of": end, "batch_id": batch, "month": label, "first_month": first})
        ddd = "(含DDD)" if u == "ddd" else ""
        also = ";各产品先按其每单位DDD数换算再汇总,无DDD的产品见“未换算”列" if u == "ddd" else ""
        report.tables += [
            measure_table(m["scorecard"], card, "scorecard", f"评分卡{ddd}",
                          note="中选产品×中选企业×配送企业;有预警标记的在前,按配送率从低到高"),
            measure_table(m["enterprises"], ent, "enterprises", f"按中选企业{ddd}",
                          note="中选企业汇总(中位数按全部订单行计算)" + also),
            measure_table(m["distributors"], dist, "distributors", f"按配送企业{ddd}", note="配送企业汇总" + also),
            measure_table(m["trend"], trend, "trend", f"月度趋势{ddd}", note=f"{first} 至 {label} 全部中选产品" + also),
            measure_table(m["distributor-trend"], dist_trend, "distributor_trend", f"配送企业趋势{ddd}",
                          note="配送企业×月" + also),
        ]
        path = r.write(report, f"supply_{label}" + (f"_{batch}" if batch else "") + ("_ddd" if u == "ddd" else ""))
        out.print(f"供应保障评分卡 {label}(政策 {policy.label}):{len(card)} 行,有预警标记 {len(flagged)} 行")
        counts: dict[str, int] = {}
        for x in flagged:
            for f in x["flags"].split(";"):
                counts[f] = counts.get(f, 0) + 1
        for f, n in counts.items():
            out.print(f"  {FLAGS[f][0]}:{n} 行")
        for x in [x for x in dist if "low_delivery_rate" in (x["flags"] or "")][:5]:
            rate = "—" if x["delivery_rate"] is None else f"{x['delivery_rate']:.1%}"
            med = "—" if x["response_hours_median"] is None else f"{x['response_hours_median']:.1f}"
            out.print(f"  配送企业 {x['distributor_name'] or ''}({x['distributor_code']}):配送率 {rate},"
                      f"响应时间中位数 {med} 小时")
        out.print(f"  报表:{path}")


def in_ddd_rows(r: Run, m: dict, one, span) -> tuple[list[dict], ...]:
    """The rows of ``jicai supply --unit ddd``: the scorecard of the month with its DDD columns, and the roll-ups
    (the month's, the window's trends) with theirs — each product converted before the sums
    (:mod:`jicai.analytics.ddd_supply`). The scorecard of the month and of the window are computed once each."""
    import ibis

    from jicai.analytics import ddd_supply
    from jicai.analytics.ddd_units import factor_rows, with_ddd
    from jicai.console import console

    wh = r.warehouse

    def frozen(meas, args):
        return ibis.memtable(meas.rows(wh, args).to_pyarrow())

    def listed(t, meas) -> list[dict]:
        return (t.order_by(list(meas.sort)) if meas.sort else t).to_pyarrow().to_pylist()

    with console.status("正在计算供应评价(含DDD) / computing the supply scorecard in DDDs…"):
        factors = ibis.memtable(factor_rows(wh))
        card_one, card_span = frozen(m["scorecard"], one), frozen(m["scorecard"], span)
        out = [listed(with_ddd(m["scorecard"], card_one, factors), m["scorecard"])]
        for key, card, args in (("enterprises", card_one, one), ("distributors", card_one, one),
                                ("trend", card_span, span), ("distributor-trend", card_span, span)):
            by = ddd_supply.VIEWS[f"supply-{key}"]
            out.append(listed(ddd_supply.of_rollup(frozen(m[key], args), card, factors, by), m[key]))
    return tuple(out)
