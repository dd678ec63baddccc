"""``jicai monitor``: compute the monthly monitoring, store it in ``monitor_results``, write a report.

The report has the monitoring rows (监测明细) and their roll-ups by institution, city and batch, each a list
of the registered measures ``monitor`` and ``monitor-by-*``; csv writes the detail to the path asked for
and each roll-up beside it (``<stem>_by_institution.csv``…), json holds them all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import typer

from jicai.commands._runner import UNIT, Run, computing_command, measure_table, option, parse_day, unit_option
from jicai.console import console, out
from jicai.reports.documents import Report

RESULTS_TABLE = "monitor_results"
# the roll-ups of the report: (roll-up, list key, sheet name)
ROLLUP_LISTS = (("institution", "by_institution", "按机构汇总"), ("region", "by_region", "按地市汇总"),
                ("batch", "by_batch", "按批次汇总"))


def store_results(wh, result: pa.Table, as_of: date, batch_id: str | None, policy_version: str,
                  computed_at: datetime) -> pa.Table:
    """Put ``result`` in ``monitor_results`` with as_of, policy_version and computed_at, replacing the
    rows of the same as-of date (and batch, when one is given). Returns the stored rows of this run."""
    n = result.num_rows
    stamped = result.append_column("as_of", pa.array([as_of] * n, pa.date32()))
    stamped = stamped.append_column("policy_version", pa.array([policy_version] * n, pa.string()))
    stamped = stamped.append_column("computed_at", pa.array([computed_at] * n, pa.timestamp("us")))
    if wh.has_table(RESULTS_TABLE):
        old = wh.table(RESULTS_TABLE)
        same = old.as_of == as_of
        if batch_id is not None:
            same = same & (old.batch_id == batch_id)
        kept = old.filter(~same).to_pyarrow()
        if kept.schema.names == stamped.schema.names:
            stamped_all = pa.concat_tables([kept.cast(stamped.schema), stamped])
        else:  # the columns changed with a new version of jicai: start the table afresh
            stamped_all = stamped
    else:
        stamped_all = stamped
    wh.write_table(RESULTS_TABLE, stamped_all, overwrite=True)
    return stamped


def stored_rows(wh, as_of: date, batch_id: str | None) -> ir.Table:
    """The rows of ``monitor_results`` of one run (as-of date, and batch when one is given)."""
    t = wh.table(RESULTS_TABLE)
    t = t.filter(t.as_of == as_of)
    return t if batch_id is None else t.filter(t.batch_id == batch_id)


def monitor_report(wh, as_of: date, batch_id: str | None, policy: Any, computed_at: datetime,
                   store: Callable[[Callable[[Any], pa.Table]], pa.Table] | None = None, unit: str = "min") -> Report:
    """Compute the monitoring on ``wh``, store it (:func:`store_results`) and make its report: the detail, then
    the roll-ups of the stored rows. ``store(write)`` runs ``write(warehouse)`` on a warehouse open to write —
    the command's :meth:`Run.store`, which takes the write lock only for the write; without it, ``wh`` is
    written (a warehouse opened to write, as the demo's)."""
    from jicai.measures.monitor import monitor, rollup
    from jicai.measures.registry import measure

    m = measure("monitor")
    result = monitor(wh, as_of, batch_id, policy).order_by(list(m.sort)).to_pyarrow()
    if unit == "ddd":  # read before the store: the command's store closes this connection to write
        from jicai.analytics.ddd_units import factor_rows

        factors = factor_rows(wh)
    write = lambda w: store_results(w, result, as_of, batch_id, policy.version, computed_at)  # noqa: E731
    stored = ibis.memtable(write(wh) if store is None else store(write))  # the stored rows of this run
    params = {"as_of": as_of, "batch": batch_id}
    report = Report(kind="monitor", title=m.title_zh,
                    period=f"截至 {as_of:%Y-%m-%d}" + (f",批次 {batch_id}" if batch_id else ""), as_of=as_of,
                    batch_id=batch_id, policy_version=policy.version, policy_label=policy.label, computed_at=computed_at,
                    paragraphs=[m.note_zh], params=params)
    if unit == "ddd":  # the detail with its DDD columns (analytics.ddd_units); the stored rows stay in units
        from jicai.analytics.ddd_units import in_ddd, with_ddd

        shown = with_ddd(m, ibis.memtable(result), ibis.memtable(factors)).order_by(list(m.sort)).to_pyarrow()
        m = in_ddd(m)
        report.tables.append(measure_table(m, shown.to_pylist(), key="rows", title="监测明细(含DDD)"))
    else:
        report.tables.append(measure_table(m, result.to_pylist(), key="rows", title="监测明细"))
    for by, key, title in ROLLUP_LISTS:
        r = measure(f"monitor-by-{by}")
        if unit == "ddd":  # each variety converted before the sums (analytics.ddd_rollups)
            from jicai.analytics.ddd_rollups import of_monitor
            from jicai.analytics.ddd_units import in_ddd

            r, summed, title = in_ddd(r), of_monitor(stored, ibis.memtable(factors), by), f"{title}(含DDD)"
        else:
            summed = rollup(stored, by)
        rows = summed.order_by(list(r.sort)).to_pyarrow().to_pylist()
        report.tables.append(measure_table(r, rows, key=key, title=title, note=r.note_zh))
    return report


def summary(rows: list[dict[str, Any]]) -> list[str]:
    """The counts printed after a run: rows, institutions, statuses, flags and the payment rate."""
    status = {s: sum(1 for r in rows if r["status"] == s) for s in ("zero", "behind", "over", "normal")}
    due = sum(r["amount_due"] for r in rows)
    paid = sum(r["paid_by_due"] for r in rows)
    rate = f"{paid / due:.1%}" if due else "—"
    return [
        f"  约定品种 {len(rows)} 行,机构 {len({r['institution_code'] for r in rows})} 家",
        f"  零采购 {status['zero']},低于序时进度 {status['behind']},超额完成 {status['over']},"
        f"进度正常 {status['normal']}",
        f"  非中选超量 {sum(1 for r in rows if r['nonselected_excess'])},"
        f"未进院 {sum(1 for r in rows if r['not_onboarded'])},回款率 {rate}",
    ]


def register(app: typer.Typer) -> None:
    @computing_command(app, "monitor")
    def monitor_cmd(
        r: Run,
        as_of: str = option("as_of", zh="监测日期(含当日)"),
        batch: str = option("batch", None, "批次编号(默认全部)"),
        unit: str = UNIT,
    ) -> None:
        """月度监测:完成率、序时进度、非中选占比、线下采购、回款、进院 / monthly monitoring."""
        from jicai.measures.monitor import INPUT_TABLES

        d = parse_day(as_of)
        u = unit_option(unit)
        r.require(INPUT_TABLES)
        policy = r.policy(batch)
        with console.status("正在计算月度监测 / computing…"):
            report = monitor_report(r.warehouse, d, batch, policy, r.computed_at, store=r.store, unit=u)
        path = r.write(report, f"monitor_{d.isoformat()}" + (f"_{batch}" if batch else "") + ("_ddd" if u == "ddd" else ""))
        out.print(f"月度监测 {d.isoformat()}" + (f" 批次 {batch}" if batch else " 全部批次") + f"(政策 {policy.label})")
        for line in summary(report.table("rows").rows):
            out.print(line)
        out.print(f"  结果已存入 {RESULTS_TABLE},报表:{path}")
