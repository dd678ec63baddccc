"""``jicai pharmacy``: the month's pharmacy settlement checks (视频联动、进销存、大额购药、代购登记).

One report of the registered ``pharmacy-*`` measures (:data:`jicai.reports.fund.PHARMACY_LISTS`): 违规明细
(every violation with its amount — the csv file), 药店风险汇总 (per pharmacy: violations by kind with amounts,
and this year's cases, recovered funds and suspensions from ``violations`` — ``<stem>_risk.csv``), one list
per check and 检查范围 (what was checked); xlsx, csv (each further list as ``<stem>_<list>.csv``) or json.
"""

from __future__ import annotations

import typer

from jicai.commands._runner import POLICY, Run, computing_command, measure_rows, option
from jicai.console import out


def register(app: typer.Typer) -> None:
    @computing_command(app, "pharmacy", policy=POLICY)
    def pharmacy_cmd(r: Run, month: str = option("month")) -> None:
        """定点药店结算监管:视频联动、进销存、大额购药、代购登记 / pharmacy settlement supervision."""
        from jicai.fund.pharmacy import INPUT_TABLES, KINDS, month_end
        from jicai.measures.registry import Args, measure
        from jicai.reports.fund import PHARMACY_LISTS, pharmacy_report

        last_day = month_end(month)  # checks the month: YYYY-MM
        policy = r.bundled_policy()
        r.require(INPUT_TABLES)
        args = Args(policy, month=month)
        lists = {key: measure_rows(r, measure(name), args) for key, name, _, _ in PHARMACY_LISTS}
        path = r.write(pharmacy_report(lists, month=month, policy_version=policy.version, policy_label=policy.label,
                                       computed_at=r.computed_at, as_of=last_day), f"pharmacy_{month}")

        v, risk = lists["violations"], lists["risk"]
        checked = (lists["checked"] or [{"pharmacies": 0, "settlements": 0}])[0]
        out.print(f"药店结算监管 {month}(政策 {policy.label})")
        out.print(f"  检查 {checked['pharmacies']} 家药店、{checked['settlements']:,} 笔结算;"
                  f"违规 {len(v)} 项,涉及 {len({x['pharmacy_code'] for x in v})} 家药店")
        out.print("  " + "、".join(f"{zh} {sum(1 for x in v if x['kind'] == k)}" for k, (zh, _) in KINDS.items()))
        out.print(f"  本年查处 {sum(x['cases_ytd'] for x in risk)} 件,追回 {sum(x['recovered_ytd'] for x in risk):,.2f} 元,"
                  f"暂停结算 {sum(1 for x in risk if x['suspensions_ytd'] > 0)} 家")
        out.print(f"  报表:{path}")
