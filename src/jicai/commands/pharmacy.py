"""``jicai pharmacy``: the month's pharmacy settlement checks (视频联动、进销存、大额购药、代购登记).

xlsx: a cover with the month's figures, 药店风险汇总 (per pharmacy: violations by kind with amounts, and this
year's cases, recovered funds and suspensions from ``violations``), 违规明细 (every violation with its
amount) and one sheet per check; csv: the violation list, the risk summary beside it as
``<stem>_risk.csv``; json: every list.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from jicai import clock
from jicai.commands._checks import require_tables
from jicai.commands._options import FORMAT, OUT, POLICY
from jicai.commands.capitation import check_format, fund_policy, json_ready
from jicai.console import console, fail, out


def register(app: typer.Typer) -> None:
    @app.command("pharmacy")
    def pharmacy_cmd(
        ctx: typer.Context,
        month: str = typer.Option(..., "--month", help="月份 / month, YYYY-MM"),
        fmt: str = FORMAT,
        out_path: Path = OUT,
        policy_path: Path = POLICY,
    ) -> None:
        """定点药店结算监管:视频联动、进销存、大额购药、代购登记 / pharmacy settlement supervision."""
        import ibis

        from jicai.fund import FundError
        from jicai.fund.pharmacy import (
            INPUT_TABLES,
            RISK_COLUMNS,
            VIOLATION_COLUMNS,
            large_settlements,
            month_bounds,
            month_end,
            pharmacy_risk,
            pharmacy_violations,
            stock_mismatches,
            unregistered_proxies,
            video_violations,
        )

        check_format(fmt)
        try:
            lo, hi = month_bounds(month)
        except FundError as exc:
            fail(exc.zh, exc.en)
        policy = fund_policy(policy_path)
        wh = ctx.obj.warehouse()
        computed_at = clock.stamp()
        try:
            require_tables(wh, INPUT_TABLES)
            with console.status("正在检查药店结算 / checking pharmacy settlements…"):
                def rows(expr):
                    return expr.to_pyarrow().to_pylist()

                lists = {
                    "risk": rows(pharmacy_risk(wh, month, policy)),
                    "violations": rows(pharmacy_violations(wh, month, policy)),
                    "video": rows(video_violations(wh, month, policy).order_by(["pharmacy_code", "settled_at"])),
                    "stock": rows(stock_mismatches(wh, month, policy).order_by(["pharmacy_code", "product_code"])),
                    "large": rows(large_settlements(wh, month, policy).order_by(["pharmacy_code", "settled_at"])),
                    "proxy": rows(unregistered_proxies(wh, month, policy).order_by(["pharmacy_code", "settled_at"])),
                }
                s = wh.table("pharmacy_settlements")
                s = s.filter((s.settled_at >= ibis.literal(lo)) & (s.settled_at < ibis.literal(hi)))
                checked = s.aggregate(pharmacies=s.pharmacy_code.nunique(), settlements=s.count(),
                                      amount=s.amount.sum()).to_pyarrow().to_pylist()[0]
                checked = {k: (v or 0) for k, v in checked.items()}
        finally:
            wh.close()
        path = out_path or ctx.obj.data_dir / "reports" / f"pharmacy_{month}.{fmt}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "xlsx":
            from jicai.reports.fund import pharmacy_report
            from jicai.reports.xlsx import write_xlsx

            write_xlsx(pharmacy_report(month=month, checked=checked, policy_version=policy.version,
                                       computed_at=computed_at, as_of=month_end(month), **lists), path)
        elif fmt == "csv":
            import pandas as pd

            pd.DataFrame(lists["violations"], columns=list(VIOLATION_COLUMNS)).to_csv(
                path, index=False, encoding="utf-8-sig")
            pd.DataFrame(lists["risk"], columns=list(RISK_COLUMNS)).to_csv(
                path.with_name(f"{path.stem}_risk.csv"), index=False, encoding="utf-8-sig")
        else:
            path.write_text(json.dumps(json_ready({
                "month": month, "policy_version": policy.version, "computed_at": computed_at, "checked": checked,
                **lists,
            }), ensure_ascii=False, indent=1), encoding="utf-8")

        v = lists["violations"]
        out.print(f"药店结算监管 {month}(政策 {policy.version})")
        out.print(f"  检查 {checked['pharmacies']} 家药店、{checked['settlements']:,} 笔结算;"
                  f"违规 {len(v)} 项,涉及 {len({r['pharmacy_code'] for r in v})} 家药店")
        from jicai.fund.pharmacy import KINDS

        parts = [f"{zh} {sum(1 for r in v if r['kind'] == k)}" for k, (zh, _) in KINDS.items()]
        out.print("  " + "、".join(parts))
        r = lists["risk"]
        out.print(f"  本年查处 {sum(x['cases_ytd'] for x in r)} 件,追回 {sum(x['recovered_ytd'] for x in r):,.2f} 元,"
                  f"暂停结算 {sum(1 for x in r if x['suspensions_ytd'] > 0)} 家")
        out.print(f"  报表:{path}")
