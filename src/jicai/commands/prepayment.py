"""``jicai prepayment``: the prepayment ledger (预付台账) of one batch and cycle year, and the year-end recovery.

The ledger is the registered measure ``prepayment``, computed once; its monthly sums (``prepayment-by-month``)
and the recovery list (``prepayment-recovery``) are selections on it. One report through the common
pipeline: xlsx has a cover, 预付台账 (institution × month), 按月汇总 (the fund's monthly sums) and 年终清算
(the balances to recover), each with a 合计 row; csv writes the ledger to the path asked for and the other
lists beside it (``<stem>_months.csv``, ``<stem>_recovery.csv``); json holds all three.
"""

from __future__ import annotations

import typer

from jicai.commands._runner import (
    Run,
    computing_command,
    measure_table,
    option,
    parse_day,
)
from jicai.console import console, out
from jicai.reports.documents import Report


def _money(x: float) -> str:
    return f"{x:,.2f}"


def register(app: typer.Typer) -> None:
    @computing_command(app, "prepayment")
    def prepayment_cmd(
        r: Run,
        batch: str = option("batch"),
        year: int = option("year"),
        as_of: str = typer.Option(None, "--as-of", help="截至日期(含当日,默认年度结束) / as-of date, YYYY-MM-DD"),
    ) -> None:
        """预付台账:按采购进度冲抵预付金,年终清算应收回余额 / prepayment ledger and year-end recovery."""
        from jicai.assess.period import assessment_period
        from jicai.assess.prepayment import ledger_by_month, recovery_list
        from jicai.measures.registry import Args, measure

        day = parse_day(as_of) if as_of is not None else None
        m = {k: measure(k) for k in ("prepayment", "prepayment-by-month", "prepayment-recovery")}
        r.require(m["prepayment"].inputs)
        policy = r.policy(batch)
        period = assessment_period(r.warehouse, batch, year)
        with console.status("正在计算预付台账 / computing the prepayment ledger…"):
            expr = m["prepayment"].rows(r.warehouse, Args(policy, as_of=day, batch=batch, year=year))
            # one computation for the three lists; released before the warehouse closes
            with expr.cache() as cached:
                ledger = cached.order_by(list(m["prepayment"].sort)).to_pyarrow().to_pylist()
                months = ledger_by_month(cached).order_by(list(m["prepayment-by-month"].sort))
                months = months.to_pyarrow().to_pylist()
                recovery = recovery_list(cached).to_pyarrow().to_pylist()
        recovery.sort(key=lambda x: (-x["recover_amount"], x["institution_code"]))  # the largest first
        last_day = period.cycle_end if day is None else min(day, period.cycle_end)
        final = last_day == period.cycle_end
        last = [x for x in ledger if x["month_end"] == last_day]
        to_recover = sum(x["recover_amount"] for x in recovery)
        word = "应收回" if final else "预计应收回"
        report = Report(
            kind="prepayment", title="集采医保基金预付台账", period=f"批次 {batch} 第{year}采购年度",
            as_of=last_day, batch_id=batch, policy_version=policy.version, policy_label=policy.label, computed_at=r.computed_at,
            headline=[("机构数", f"{len(last)} 家"),
                      ("预付金额", f"{_money(sum(x['prepayment'] for x in last))} 元"),
                      ("累计冲抵", f"{_money(sum(x['cumulative_offset'] for x in last))} 元"),
                      ("预付余额", f"{_money(sum(x['balance'] for x in last))} 元"),
                      ("年终清算", f"{word} {len(recovery)} 家,合计 {_money(to_recover)} 元")],
            paragraphs=[
                "医保基金按年度约定采购金额的一定比例预付给医疗机构,按采购进度逐月冲抵,年度结束时未冲抵的余额收回"
                "(陕西 肝功生化试剂 执行通知 四(四))。采购进度 = 累计中选采购金额 / 年度约定采购金额(不超过100%),"
                "累计冲抵 = 预付金额 × 采购进度。",
                ("年度已结束,清算名单为应收回金额。" if final
                 else f"年度尚未结束,清算名单为截至 {last_day.isoformat()} 的预计数。"),
            ],
            params={"batch_id": batch, "cycle_year": year, "as_of": day})
        report.tables += [
            measure_table(m["prepayment"], ledger, "ledger", "预付台账",
                          note="每家机构每月一行;合计为各月本月冲抵金额之和"),
            measure_table(m["prepayment-by-month"], months, "months", "按月汇总",
                          note="各机构之和;合计为全年冲抵金额"),
            measure_table(m["prepayment-recovery"], recovery, "recovery", "年终清算",
                          note="余额大于0的机构;按应收回金额从高到低"),
        ]
        stem = f"prepayment_{batch}_{year}" + (f"_{day.isoformat()}" if day else "")
        path = r.write(report, stem)

        head = f"预付台账 批次 {batch} 第 {year} 采购年度"
        if not ledger:
            out.print(f"{head}:没有约定或预付记录 / no agreements or prepayments(政策 {policy.label})")
        else:
            out.print(f"{head}(截至 {last_day.isoformat()},政策 {policy.label})")
            out.print(f"  机构 {len(last)} 家,预付金额 {_money(sum(x['prepayment'] for x in last))} 元,"
                      f"累计冲抵 {_money(sum(x['cumulative_offset'] for x in last))} 元,"
                      f"余额 {_money(sum(x['balance'] for x in last))} 元")
            word = "应收回" if final else "预计应收回(年度未结束)"
            out.print(f"  年终清算:{word} {len(recovery)} 家,合计 {_money(to_recover)} 元")
        out.print(f"  报表:{path}")
