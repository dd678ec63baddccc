"""``jicai supply-periods``: supply-problem reports, their periods, and what they changed (seed 002 五)."""

from __future__ import annotations

import typer

from jicai.commands._runner import (
    POLICY,
    Run,
    computing_command,
    measure_rows,
    measure_table,
    option,
    parse_day,
)
from jicai.console import out
from jicai.measures.registry import Args
from jicai.reports.documents import Report


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def register(app: typer.Typer) -> None:
    @computing_command(app, "supply-periods", policy=POLICY)
    def supply_periods_cmd(r: Run, as_of: str = option("as_of"), batch: str = option("batch", None)) -> None:
        """供应问题期间:备供替代、非中选剔除及对完成率和占比的影响 / supply-problem periods and their effect."""
        from jicai.measures.registry import measure
        from jicai.measures.supply_periods import INPUT_TABLES

        day = parse_day(as_of)
        r.require(INPUT_TABLES)
        policy = r.policy(batch)
        args = Args(policy, as_of=day, batch=batch)
        reports, effects = measure("supply-period-reports"), measure("supply-periods")
        periods = measure_rows(r, reports, args)
        changed = measure_rows(r, effects, args)
        counting = [x for x in periods if x["counts"]]
        report = Report(
            kind="supply-periods", title="集采中选产品供应问题期间", period=f"截至 {day.isoformat()}", as_of=day,
            batch_id=batch, policy_version=policy.version, policy_label=policy.label, computed_at=r.computed_at,
            headline=[("供应问题反馈", f"{len(periods)} 条"), ("核实有效", f"{len(counting)} 条"),
                      ("受影响机构×品种", f"{len(changed)} 项")],
            paragraphs=["泉州通知 五:经核实后,医疗机构在中选企业供应保障不良期间采购备供企业产品视作采购中选产品;"
                        "采购非中选产品的,相应用量不计入集采执行情况考核范围。"],
            params={"as_of": day, "batch_id": batch})
        report.tables += [
            measure_table(reports, periods, "periods", "供应问题期间",
                          note="截至日前反馈的全部供应问题;核实有效的计入替代"),
            measure_table(effects, changed, "effects", "对监测的影响",
                          note="同一机构×品种:按政策计算与不考虑问题期计算之比较(当前采购年度)"),
        ]
        path = r.write(report, f"supply_periods_{day.isoformat()}")
        out.print(f"供应问题期间 截至 {day.isoformat()}(政策 {policy.label}):反馈 {len(periods)} 条,"
                  f"核实有效 {len(counting)} 条,影响 {len(changed)} 个机构×品种")
        for x in changed[:5]:
            out.print(f"  {x['institution_name']}({x['institution_code']}){x['variety_name']}:备供计入 {x['substituted_volume']:,.0f},"
                      f"完成率 {_pct(x['completion_without'])} → {_pct(x['completion'])},"
                      f"非中选占比 {_pct(x['share_without'])} → {_pct(x['nonselected_share'])}")
        out.print(f"  报表:{path}")
