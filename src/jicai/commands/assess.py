"""``jicai assess``: the annual assessment (年度考核) and surplus retention (结余留用) of one batch and year.

Computes the registered measure ``assessment``, stores its rows in ``assessment_results`` (replacing the rows
of the same batch and cycle year) with the policy version and the time of the run, and writes one report
through the common pipeline: 考核结果 (the rows), 分地区汇总 (``assessment-by-region`` of the stored rows, the
batch total in its 合计 row) and 结余留用明细 (``retention-trace``); csv writes the rows to the path asked for
and each further list beside it, json holds them all. Then it prints a short Chinese summary.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis
import pyarrow as pa
import typer

from jicai.commands._runner import (
    Run,
    computing_command,
    measure_rows,
    measure_table,
    option,
    parse_day,
)
from jicai.console import console, out
from jicai.reports.documents import Report

RESULTS_TABLE = "assessment_results"
# the columns of the regional list, as the command has always written them (the measure has more: pass rate…)
REGION_LIST = ("batch_id", "cycle_year", "city_code", "institutions", "passed", "failed", "budget", "actual",
               "retention_base", "reward", "overspend", "overspend_shared")


def store_results(wh, result: pa.Table, batch_id: str, cycle_year: int, policy_version: str,
                  computed_at: datetime) -> pa.Table:
    """Put ``result`` in ``assessment_results`` with policy_version and computed_at, replacing the rows of
    the same batch and cycle year. Returns the stored rows of this run."""
    n = result.num_rows
    stamped = result.append_column("policy_version", pa.array([policy_version] * n, pa.string()))
    stamped = stamped.append_column("computed_at", pa.array([computed_at] * n, pa.timestamp("us")))
    stamped_all = stamped
    if wh.has_table(RESULTS_TABLE):
        old = wh.table(RESULTS_TABLE)
        kept = old.filter(~((old.batch_id == batch_id) & (old.cycle_year == cycle_year))).to_pyarrow()
        if kept.schema.names == stamped.schema.names:  # else the columns changed with a new version: start afresh
            stamped_all = pa.concat_tables([kept.cast(stamped.schema), stamped])
    wh.write_table(RESULTS_TABLE, stamped_all, overwrite=True)
    return stamped


def _listed_order(row: dict[str, Any]) -> tuple:
    """Higher levels first, then the rank within the level, then the code (the order of the annual report)."""
    level = row["level"] if row["level"] is not None else -1
    return -level, row["rank_in_level"], row["institution_code"]


def _yuan(x: float) -> str:
    return f"{x:,.2f} 元"


def register(app: typer.Typer) -> None:
    @computing_command(app, "assess")
    def assess_cmd(
        r: Run,
        batch: str = option("batch"),
        year: int = option("year"),
        as_of: str = typer.Option(None, "--as-of",
                                  help="考核截止日(默认年度最后一天;之前为预考核) / as-of date, YYYY-MM-DD "
                                       "(default: the last day of the cycle year; earlier = provisional)"),
    ) -> None:
        """年度考核与结余留用:合格判定、得分、同级排名、结余留用奖励、合理超支分担 / annual assessment."""
        from jicai.assess.assessment import FAIL_ITEMS, assessment_totals
        from jicai.assess.period import assessment_period
        from jicai.measures.registry import Args, measure
        from jicai.reports.annual import assessment_notes

        day = parse_day(as_of) if as_of is not None else None
        m = {k: measure(k) for k in ("assessment", "assessment-by-region", "retention-trace")}
        r.require(m["assessment"].inputs)
        policy = r.policy(batch)  # --policy, else the policy the batch names
        wh = r.warehouse
        period = assessment_period(wh, batch, year, day)  # a day outside the year is refused here
        args = Args(policy, as_of=day, batch=batch, year=year)
        with console.status("正在计算年度考核 / assessing…"):
            result = m["assessment"].rows(wh, args).to_pyarrow()
        trace = measure_rows(r, m["retention-trace"], args)
        # the write lock only for the write; the regional totals are those of the rows stored
        stored = r.store(lambda w: store_results(w, result, batch, year, policy.version, r.computed_at))
        regions = assessment_totals(ibis.memtable(stored), "region").order_by(list(m["assessment-by-region"].sort))
        regions = regions.to_pyarrow().to_pylist()
        rows = sorted(result.to_pylist(), key=_listed_order)
        day = rows[0]["as_of"] if rows else day
        passed = sum(1 for x in rows if x["passed"])
        report = Report(
            kind="assess", title="集采年度考核与结余留用测算",
            period=f"批次 {batch} 第{year}采购年度" + ("" if period.final else f"(截至 {period.as_of},预考核)"),
            as_of=period.as_of, batch_id=batch, policy_version=policy.version, policy_label=policy.label, computed_at=r.computed_at,
            headline=[("参加考核机构", f"{len(rows)} 家"), ("合格", f"{passed} 家"),
                      ("不合格", f"{len(rows) - passed} 家"),
                      ("结余留用奖励合计", _yuan(sum(x["reward"] for x in rows)))],
            paragraphs=[m["assessment"].note_zh],
            notes=assessment_notes(policy, period.as_of),
            params={"batch_id": batch, "cycle_year": year, "as_of": day})
        report.tables += [
            measure_table(m["assessment"], rows, "rows", "考核结果",
                          note="按医院等级、同级排名排序;合计为各机构金额之和"),
            measure_table(m["assessment-by-region"], regions, "region_totals", "分地区汇总",
                          names=list(REGION_LIST), note="每地市一行;合计为全批次"),
            measure_table(m["retention-trace"], trace, "trace", "结余留用明细",
                          note="每家机构每个约定品种一行;各行之和即机构的预算与实际采购金额"),
        ]
        path = r.write(report, f"assess_{batch}_{year}")
        n = len(rows)
        out.print(f"年度考核 批次 {batch} 第 {year} 采购年度" + (f"(截至 {day})" if day else "")
                  + f",政策 {policy.label}")
        out.print(f"  参加考核机构 {n} 家:合格 {passed} 家,不合格 {n - passed} 家")
        for code, (zh, _en) in FAIL_ITEMS.items():
            k = sum(1 for x in rows if code in (x["failed_items"] or "").split(";"))
            out.print(f"    {zh}:{k} 家")
        out.print(f"  结余留用奖励合计 {_yuan(sum(x['reward'] for x in rows))},"
                  f"合理超支分担合计 {_yuan(sum(x['overspend_shared'] for x in rows))}")
        out.print(f"  结果已存入 {RESULTS_TABLE}({stored.num_rows} 行),报表:{path}")
