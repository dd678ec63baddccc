"""``jicai capitation``: capitation surplus return by the median-optimal method (中值最优法) for one period.

xlsx: a cover, 分档汇总 (institutions and amounts per tier) and 返还明细 (every institution with its
package, surplus, reasonable surplus, deviation, tier and returned amount), Chinese headers and 合计 rows;
csv: the detail; json: the detail, the totals, the tiers and the policy version.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import typer

from jicai import clock
from jicai.commands._checks import require_tables
from jicai.commands._options import FORMAT, OUT, POLICY
from jicai.console import console, fail, out

FORMATS = ("xlsx", "csv", "json")


def fund_policy(path: Path | None):
    """The policy of a fund command: ``--policy FILE`` or the bundled default (fund rules name no batch)."""
    from jicai.policy import load_policy

    if path is not None and not Path(path).exists():
        fail(f"政策文件不存在:{path}", f"policy file not found: {path}")
    try:
        return load_policy(path)
    except Exception as exc:  # noqa: BLE001 - a validation error, shown to the user
        fail(f"政策文件无效:{exc}", f"invalid policy: {exc}")


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        fail(f"不支持的格式 {fmt}(可选 xlsx/csv/json)", f"unsupported format {fmt} (xlsx/csv/json)")


def parse_day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option} 日期格式应为 YYYY-MM-DD:{text}", f"{option}: date must be YYYY-MM-DD: {text}")


def json_ready(v):
    if isinstance(v, dict):
        return {k: json_ready(x) for k, x in v.items()}
    if isinstance(v, list):
        return [json_ready(x) for x in v]
    return v.isoformat() if isinstance(v, (date, datetime)) else v


def register(app: typer.Typer) -> None:
    @app.command("capitation")
    def capitation_cmd(
        ctx: typer.Context,
        period: str = typer.Option(..., "--period", help="结算期(与 capitation.period 相同,如 2024、2024H1) / settlement period"),
        on: str = typer.Option(None, "--on", help="政策日期(缺省为结算期末) / policy date, YYYY-MM-DD (default: period end)"),
        fmt: str = FORMAT,
        out_path: Path = OUT,
        policy_path: Path = POLICY,
    ) -> None:
        """按人头付费包干结余返还(中值最优法) / capitation surplus return by the median-optimal method."""
        from jicai.fund import FundError
        from jicai.fund.capitation import (
            CAPITATION_COLUMNS,
            INPUT_TABLES,
            capitation_return,
            capitation_totals,
            period_end,
            return_tiers,
            tier_labels,
        )

        check_format(fmt)
        day = parse_day(on, "--on")
        policy = fund_policy(policy_path)
        try:
            day = day or period_end(period)
        except FundError as exc:
            fail(exc.zh, exc.en)
        wh = ctx.obj.warehouse()
        computed_at = clock.stamp()
        try:
            require_tables(wh, INPUT_TABLES)
            with console.status("正在计算包干结余返还 / computing the capitation return…"):
                expr = capitation_return(wh, period, policy, on=day)
                with expr.cache() as cached:
                    rows = cached.order_by("institution_code").to_pyarrow().to_pylist()
                    totals = capitation_totals(cached).to_pyarrow().to_pylist()
        finally:
            wh.close()
        labels = tier_labels(policy, day)
        rates = {k + 1: r for k, (_, r) in enumerate(return_tiers(policy, day))}
        path = out_path or ctx.obj.data_dir / "reports" / f"capitation_{period}.{fmt}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "xlsx":
            from jicai.reports.fund import capitation_report
            from jicai.reports.xlsx import write_xlsx

            write_xlsx(capitation_report(rows, period=period, on=day, tier_labels=labels, tier_rates=rates,
                                         policy_version=policy.version, computed_at=computed_at), path)
        elif fmt == "csv":
            import pandas as pd

            pd.DataFrame(rows, columns=list(CAPITATION_COLUMNS)).to_csv(path, index=False, encoding="utf-8-sig")
        else:
            path.write_text(json.dumps(json_ready({
                "period": period, "policy_date": day, "policy_version": policy.version, "computed_at": computed_at,
                "tiers": [{"tier": k, "label": labels[k], "return_rate": rates[k]} for k in labels],
                "totals": totals[0] if totals else None, "institutions": rows,
            }), ensure_ascii=False, indent=1), encoding="utf-8")

        if not rows:
            out.print(f"结算期 {period}:没有按人头付费记录 / no capitation rows for period {period}")
        else:
            t = totals[0]
            per_tier = "、".join(f"{labels[k]} {sum(1 for r in rows if r['tier'] == k)} 家" for k in labels)
            out.print(f"按人头付费包干结余返还 结算期 {period}(政策 {policy.version})")
            mean = "—" if t["overall_per_capita"] is None else f"{t['overall_per_capita']:,.2f}"
            out.print(f"  机构 {t['institutions']} 家,总体人均支出 {mean} 元,"
                      f"实际余量 {t['surplus']:,.2f} 元,返还 {t['returned_amount']:,.2f} 元")
            out.print(f"  {per_tier}")
        out.print(f"  报表:{path}")
