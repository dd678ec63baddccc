"""The monitoring's roll-ups in DDDs (按机构/地市/批次汇总, the overview's cards): convert each variety, then add.

A roll-up adds volumes across varieties (:func:`jicai.measures.monitor.rollup`). In minimum units that is the
notices' 总体完成率 — Σ selected ÷ Σ agreed units, a 20 mg tablet and a sachet of powder counted alike. In DDDs
the sum means something (DDDs are additive across the varieties of a class), but only when each row is converted
first: the monitoring's rows (institution × variety) are joined to their variety's DDDs per unit
(:func:`jicai.analytics.ddd_units.with_ddd`), and the roll-up adds the converted volumes. One Ibis expression,
one pass over the rows, the same on every engine.

A row whose variety has no DDDs per unit (no DDD in the table, strength unknown, products of different
strengths in one variety) cannot be converted. It is never dropped silently: its volumes are added to
``*_volume_unconverted`` (in minimum units), ``rows_without_ddd`` counts it and ``ddd_note`` says so. The DDD
figures are those of the converted rows only, so completion and cost per DDD compare like with like:

* ``completion_ddd`` = Σ selected DDD ÷ Σ agreed DDD (rows with DDDs);
* ``nonselected_share_ddd`` = Σ counted non-selected DDD ÷ (Σ selected DDD + Σ counted non-selected DDD);
* ``selected_cost_per_ddd`` = Σ selected amount of the rows with DDDs ÷ Σ selected DDD (and non-selected alike);
* a group none of whose rows converts has null DDD figures (shown "—" with ``ddd_note``), not zeros.

>>> [c.name for c in ROLLUP_DDD_COLUMNS][:3]
['agreed_volume_ddd', 'selected_volume_ddd', 'nonselected_volume_ddd']
>>> sorted(VIEWS)
['monitor-by-batch', 'monitor-by-institution', 'monitor-by-region']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import ibis
import ibis.expr.types as ir

from jicai.contract.columns import Col, col
from jicai.measures.monitor import (
    ROLLUP_FIGURES,
    ROLLUPS,
    count_of,
    monitor,
    rollup_keys,
    rollup_ratios,
    rollup_sums,
    with_city,
)
from jicai.measures.progress import ratio
from jicai.measures.registry import Args, Measure, measure

# the roll-up measures that have a DDD view, by the roll-up they are (jicai.measures.monitor.ROLLUPS)
VIEWS = {f"monitor-by-{by}": by for by in ROLLUPS}

_ROWS = "该组有DDD的约定品种行"  # "the rows of the group with DDDs", as the descriptions say it
ROLLUP_DDD_COLUMNS = (
    Col("agreed_volume_ddd", "约定采购量(DDD)", f"Σ agreed volume × the variety's DDDs per unit ({_ROWS})",
        "volume", "DDD"),
    Col("selected_volume_ddd", "中选产品采购量(DDD)", "Σ selected volume × the variety's DDDs per unit", "volume", "DDD"),
    Col("nonselected_volume_ddd", "非中选产品采购量(DDD)", "Σ non-selected volume × the variety's DDDs per unit",
        "volume", "DDD"),
    Col("completion_ddd", "总体完成率(按DDD)", "Σ selected DDD / Σ agreed DDD over the rows with DDDs (null when none)",
        "rate", "%"),
    Col("nonselected_share_ddd", "总体非中选占比(按DDD)",
        "Σ counted non-selected DDD / (Σ selected DDD + Σ counted non-selected DDD), rows with DDDs", "rate", "%"),
    Col("selected_cost_per_ddd", "中选产品每DDD费用", "Σ selected amount of the rows with DDDs / Σ selected DDD",
        "price", "元"),
    Col("nonselected_cost_per_ddd", "非中选产品每DDD费用",
        "Σ non-selected amount of the rows with DDDs / Σ non-selected DDD", "price", "元"),
    Col("rows_without_ddd", "无DDD的约定品种行数", "rows (institution × variety) whose variety has no DDDs per unit: "
        "their volumes are in the *_unconverted columns, not in the DDD figures", "int"),
    Col("agreed_volume_unconverted", "未换算约定采购量(最小单位)",
        "Σ agreed volume of the rows without DDDs, in minimum units", "volume"),
    Col("selected_volume_unconverted", "未换算中选产品采购量(最小单位)",
        "Σ selected volume of the rows without DDDs, in minimum units", "volume"),
    Col("nonselected_volume_unconverted", "未换算非中选产品采购量(最小单位)",
        "Σ non-selected volume of the rows without DDDs, in minimum units", "volume"),
    col("ddd_note", en="how many rows of the group have no DDDs and where their volume is (blank when all have)"),
)


def note(without: ir.IntegerValue, rows: ir.IntegerValue) -> ir.StringValue:
    """What a roll-up row says of its rows without DDDs (null when every row has them)."""
    n = without.cast("string")
    text = ibis.ifelse(
        without == rows,
        n + " 个约定品种行均无DDD,无法按DDD汇总,用量见“未换算”列(最小单位)",
        n + " 个约定品种行无DDD,未计入DDD合计,用量见“未换算”列(最小单位)")  # each row's reason: its ddd_note
    return ibis.ifelse(without > 0, text, ibis.null("string"))


def rollup_ddd(converted: ir.Table, by: str | Sequence[str]) -> ir.Table:
    """Roll up monitoring rows that carry their DDD columns (``with_ddd`` of the monitor: ``*_volume_ddd`` and
    ``ddd_per_unit``) by ``by``: the roll-up's figures, then :data:`ROLLUP_DDD_COLUMNS`."""
    m = with_city(converted)
    keys = rollup_keys(by)
    has = m.ddd_per_unit.notnull()

    def of_converted(v: ir.NumericValue) -> ir.NumericScalar:
        return ibis.ifelse(has, v, 0.0).sum()

    def of_unconverted(v: ir.NumericValue) -> ir.NumericScalar:
        return ibis.ifelse(has, 0.0, v).sum().cast("float64")

    g = m.group_by(keys).agg(
        **rollup_sums(m),
        agreed_volume_ddd=m.agreed_volume_ddd.sum(),  # the sum of a group whose rows are all null is null
        selected_volume_ddd=m.selected_volume_ddd.sum(),
        nonselected_volume_ddd=m.nonselected_volume_ddd.sum(),
        counted_ddd=m.nonselected_counted_volume_ddd.sum(),
        selected_amount_ddd=of_converted(m.selected_amount),
        nonselected_amount_ddd=of_converted(m.nonselected_amount),
        rows_without_ddd=count_of(~has),
        agreed_volume_unconverted=of_unconverted(m.agreed_volume),
        selected_volume_unconverted=of_unconverted(m.selected_volume),
        nonselected_volume_unconverted=of_unconverted(m.nonselected_volume),
    )
    g = g.mutate(
        **rollup_ratios(g),
        completion_ddd=ratio(g.selected_volume_ddd, g.agreed_volume_ddd),
        nonselected_share_ddd=ratio(g.counted_ddd, g.selected_volume_ddd + g.counted_ddd),
        selected_cost_per_ddd=ratio(g.selected_amount_ddd, g.selected_volume_ddd),
        nonselected_cost_per_ddd=ratio(g.nonselected_amount_ddd, g.nonselected_volume_ddd),
        ddd_note=note(g.rows_without_ddd, g.rows),
    )
    return g.select(*keys, *(c.name for c in ROLLUP_FIGURES if c.name not in keys),
                    *(c.name for c in ROLLUP_DDD_COLUMNS))


def of_monitor(rows: ir.Table, factors: ir.Table, by: str | Sequence[str]) -> ir.Table:
    """The roll-up in DDDs of monitoring rows ``rows`` (as :func:`jicai.measures.monitor.monitor` returns them, or
    their stored or cached copy), ``factors`` as :func:`jicai.analytics.ddd_units.factor_rows`."""
    from jicai.analytics.ddd_units import with_ddd

    return rollup_ddd(with_ddd(measure("monitor"), rows, factors), by)


def view(m: Measure) -> Measure | None:
    """The DDD view of roll-up ``m`` (its columns and then :data:`ROLLUP_DDD_COLUMNS`), None when ``m`` is none of
    :data:`VIEWS`."""
    by = VIEWS.get(m.name)
    if by is None:
        return None

    def compute(wh, a: Args) -> ir.Table:
        from jicai.analytics.ddd_units import factor_rows

        return of_monitor(monitor(wh, a.as_of, a.batch, a.policy), ibis.memtable(factor_rows(wh)), by)

    note_zh = ("各品种先按其每单位DDD数换算再汇总;无DDD的品种行不计入DDD合计,其用量见“未换算”列(最小单位)")
    return replace(m, columns=(*m.columns, *ROLLUP_DDD_COLUMNS), compute=compute, title_zh=f"{m.title_zh}(DDD)",
                   title_en=f"{m.title_en} (DDDs)", note_zh=f"{m.note_zh};{note_zh}",
                   note_en=f"{m.note_en}; each variety converted before adding, rows without DDDs apart")
