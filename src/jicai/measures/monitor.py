"""Monthly monitoring (每月监测): one row per institution × variety in the current cycle year.

The rows are the agreements (约定采购量) of the cycle year containing the as-of date D — an institution
with an agreement and no purchase has a row with zero volumes; purchases without an agreement have no
row. Every figure is an Ibis expression over the warehouse tables (batches, varieties, products,
selected_products, agreements, institutions, orders, deliveries, payments, supply_problems); nothing is
computed until the caller materializes the result, on whichever engine the warehouse runs.

Passes over the order lines: one for the accepted lines with their payments (volumes on the default
basis and payments), one for the offline share (and one more for volumes on the ``ordered`` basis); everything else joins small tables (classes per purchased (institution, product),
supply-problem periods, the batch calendar).

The ``product_code`` of an agreement (optional) is not used: completion counts every selected product
of the variety for the institution's region.

>>> from jicai.store import connect
>>> wh = connect("duckdb://")
>>> from jicai.contract.arrow import empty
>>> from jicai.contract.tables import TABLES
>>> for name in INPUT_TABLES: _ = wh.write_table(name, empty(name))
>>> from datetime import date
>>> monitor(wh, date(2024, 6, 30)).to_pyarrow().num_rows
0
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.contract.columns import cols
from jicai.measures.classes import product_classes, supply_problem_periods
from jicai.measures.cycles import cycle_calendar
from jicai.measures.facts import accepted_lines as facts_accepted
from jicai.measures.facts import open_facts
from jicai.measures.facts import ordered_lines as facts_ordered
from jicai.measures.onboarding import onboarding_columns
from jicai.measures.payment import offline, offline_of_lines, payments
from jicai.measures.progress import class_volumes, progress_columns, ratio
from jicai.measures.purchases import accepted_lines, ordered_lines, scope_products, summarize
from jicai.measures.registry import Dims, Measure
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

INPUT_TABLES = ("batches", "varieties", "products", "selected_products", "agreements", "institutions",
                "orders", "deliveries", "payments", "supply_problems")

# The progress statuses (docs/rules.md, "Progress statuses"): buying beyond the agreed volume is success — the
# winner must go on supplying at the winning price (003 三) — so ``over`` reads 超额完成; no seed makes
# 超量采购 a fault of the selected product (the one excess the policy names is 非中选超量, its own flag).
STATUS = {"zero": ("零采购", "zero purchase"), "behind": ("低于序时进度", "behind time progress"),
          "over": ("超额完成", "agreed volume exceeded (completed)"), "normal": ("进度正常", "on track")}

# the monitoring's columns, in order; labels and kinds from the shared vocabulary (contract/columns.py)
COLUMNS = cols(
    "institution_code", "institution_name", "region_code", "level", "batch_id", "variety_id", "variety_name",
    "cycle_year", "cycle_start", "cycle_end", "time_progress", "agreed_volume", "selected_volume", "backup_volume",
    "nonselected_volume", "nonselected_counted_volume", "selected_amount", "backup_amount", "nonselected_amount",
    "completion", "shortfall_volume", "status", "nonselected_share", "nonselected_excess", "order_amount",
    "offline_amount", "offline_share", "amount_due", "paid_by_due", "overdue_amount", "overdue_lines",
    "payment_rate", "onboarded", "not_onboarded",
    cycle_year=("采购年度", "cycle year k containing the as-of date"),
    status=("进度状态", "zero / behind / over / normal (零采购/低于序时进度/超额完成/进度正常)"),
)
NAMES = tuple(c.name for c in COLUMNS)

# the policy parameters monitor() reads (onboarding_from_month through onboarding_columns)
POLICY = ("payment_due", "volume_basis", "backup_substitution", "supply_problem_exclusion", "special_treatment",
          "nonselected_share_max", "onboarding_from_month")

_ZERO_FILLED = ("selected_volume", "backup_volume", "nonselected_volume", "nonselected_counted_volume",
                "selected_amount", "backup_amount", "nonselected_amount", "order_amount", "offline_amount",
                "amount_due", "paid_by_due", "overdue_amount")


def monitor(wh: Warehouse, as_of: date, batch_id: str | None = None, policy: Policy | None = None,
            source: str = "auto") -> ir.Table:
    """The monitoring table as of ``as_of`` (inclusive) for one batch or all; see COLUMNS.

    Policy parameters are those in force on ``as_of``. ``source``: read the order lines from the compact
    facts or the raw lines (:func:`jicai.measures.facts.open_facts`; both give the same rows).
    """
    policy = policy or load_policy()

    def pv(name: str):
        return policy.value(name, on=as_of)

    t = {name: wh.table(name) for name in INPUT_TABLES}
    batches = t["batches"] if batch_id is None else t["batches"].filter(t["batches"].batch_id == batch_id)
    # the calendar, the scope and the periods are small and read many times over (wh.reuse: once on Spark)
    cal = wh.reuse(cycle_calendar(batches, as_of))
    scope = wh.reuse(scope_products(t["varieties"], t["products"], cal, batch_id))

    ag = t["agreements"]
    ag = ag.select("batch_id", "cycle_year", "institution_code", "variety_id", "agreed_volume")
    ag = ag.join(cal, ["batch_id", "cycle_year"])

    periods = wh.reuse(supply_problem_periods(t["supply_problems"], t["products"], t["selected_products"],
                                              t["institutions"], as_of))
    sp_pairs = periods.select("institution_code", "variety_id").distinct()
    due = pv("payment_due")
    if (f := open_facts(wh, source)) is not None:
        acc = facts_accepted(f, scope, periods, as_of, due)
        ordered = facts_ordered(f, scope, periods, as_of)
        off = offline_of_lines(ordered)
        ordered = ordered.drop("offline_amount")
    else:
        acc = accepted_lines(t["orders"], t["deliveries"], t["payments"], scope, as_of, due)
        ordered = ordered_lines(t["orders"], scope, as_of)
        off = offline(t["orders"], scope, as_of)
    # the passes over order lines end here, computed together: one row per institution × product (volumes,
    # payments) and one per institution × variety (the offline share)
    if pv("volume_basis") == "accepted":  # one stream of accepted lines serves volumes and payments
        paid, off = wh.reuse_all(summarize(acc, sp_pairs, as_of, due), off)
        volume_summary = paid
    else:
        paid, off, volume_summary = wh.reuse_all(summarize(acc, sp_pairs, as_of, due), off,
                                                 summarize(ordered, sp_pairs, as_of, due))
    # classes only matter where there is a row: the agreements × the selected products of their variety
    classes = product_classes(ag.select("institution_code", "variety_id", "batch_id"), t["institutions"],
                              t["selected_products"])
    vols = class_volumes(volume_summary, classes, periods,
                         backup_substitution=pv("backup_substitution"),
                         supply_problem_exclusion=pv("supply_problem_exclusion"),
                         special_treatment=pv("special_treatment"))
    pay = payments(paid)

    inst = t["institutions"].select("institution_code", institution_name=t["institutions"].name,
                                    region_code=t["institutions"].region_code, level=t["institutions"].level)
    var = t["varieties"].select("variety_id", variety_name=t["varieties"].name)
    keys = ["institution_code", "variety_id", "batch_id"]
    m = ag.left_join(inst, "institution_code").drop("institution_code_right")
    m = m.left_join(var, "variety_id").drop("variety_id_right")
    for part in (vols, pay, off):
        m = m.left_join(part, keys).drop(*(f"{k}_right" for k in keys))
    m = m.mutate(**{c: m[c].fill_null(0.0) for c in _ZERO_FILLED},
                 overdue_lines=m.overdue_lines.fill_null(0).cast("int64"),
                 agreed_volume=m.agreed_volume.fill_null(0.0).cast("float64"))
    m = progress_columns(m, pv("nonselected_share_max"))
    m = onboarding_columns(m, as_of, pv("onboarding_from_month"))
    m = m.mutate(offline_share=ratio(m.offline_amount, m.order_amount),
                 payment_rate=ratio(m.paid_by_due, m.amount_due),
                 level=m.level.cast("int64"), cycle_year=m.cycle_year.cast("int64"))
    return m.select(*NAMES)


# -- roll-ups ------------------------------------------------------------------------------------------

ROLLUPS: dict[str, tuple[str, ...]] = {
    "institution": ("institution_code", "institution_name", "region_code", "level"),
    "region": ("city_code",),
    "batch": ("batch_id",),
}

# the figures of a roll-up, after its keys; ROLLUP_COLUMNS (with city_code, the key of "region") documents them
ROLLUP_COLUMNS = cols(
    "city_code", "rows", "institutions", "zero", "behind", "over", "normal", "nonselected_excess_rows",
    "not_onboarded_rows", "agreed_volume", "selected_volume", "completion", "nonselected_share", "selected_amount",
    "nonselected_amount", "offline_share", "amount_due", "paid_by_due", "overdue_amount", "payment_rate",
    agreed_volume=("约定采购量", "Σ agreed volume (minimum units, across varieties)"),
    selected_volume=("中选产品采购量", "Σ selected volume"),
    completion=("总体完成率", "Σ selected / Σ agreed volume (null when Σ agreed is 0)"),
    nonselected_share=("总体非中选占比", "Σ counted non-selected / (Σ selected + Σ counted non-selected)"),
    selected_amount=("中选产品采购金额", "Σ selected amount"),
    nonselected_amount=("非中选产品采购金额", "Σ non-selected amount"),
    offline_share=("线下采购占比", "Σ offline amount / Σ order amount"),
    amount_due=("应回款金额", "Σ amount due"),
    paid_by_due=("按期回款金额", "Σ paid by due"),
    overdue_amount=("逾期未回款金额", "Σ overdue amount"),
    payment_rate=("回款率", "Σ paid by due / Σ amount due"),
)
ROLLUP_FIGURES = tuple(c for c in ROLLUP_COLUMNS if c.name != "city_code")


def rollup_keys(by: str | Sequence[str]) -> list[str]:
    """The key columns of a roll-up by ``"institution"``, ``"region"``, ``"batch"`` or by columns."""
    return list(ROLLUPS[by]) if isinstance(by, str) and by in ROLLUPS else ([by] if isinstance(by, str) else list(by))


def with_city(monitor_expr: ir.Table) -> ir.Table:
    """The monitoring rows with ``city_code`` (the city prefix of the institution's region, the key of "region")."""
    return monitor_expr.mutate(city_code=monitor_expr.region_code.substr(0, 4) + "00")


def count_of(cond: ir.BooleanValue) -> ir.IntegerScalar:
    """How many rows of a group meet ``cond`` (an aggregation)."""
    return ibis.ifelse(cond, 1, 0).sum().cast("int64")


def rollup_sums(m: ir.Table) -> dict[str, ir.Scalar]:
    """The aggregations of a roll-up over the monitoring rows ``m`` (the sums its ratios are taken of)."""
    return dict(
        rows=m.count().cast("int64"),
        institutions=m.institution_code.nunique().cast("int64"),
        zero=count_of(m.status == "zero"),
        behind=count_of(m.status == "behind"),
        over=count_of(m.status == "over"),
        normal=count_of(m.status == "normal"),
        nonselected_excess_rows=count_of(m.nonselected_excess),
        not_onboarded_rows=count_of(m.not_onboarded),
        agreed_volume=m.agreed_volume.sum(),
        selected_volume=m.selected_volume.sum(),
        counted=m.nonselected_counted_volume.sum(),
        selected_amount=m.selected_amount.sum(),
        nonselected_amount=m.nonselected_amount.sum(),
        order_amount=m.order_amount.sum(),
        offline_amount=m.offline_amount.sum(),
        amount_due=m.amount_due.sum(),
        paid_by_due=m.paid_by_due.sum(),
        overdue_amount=m.overdue_amount.sum(),
    )


def rollup_ratios(g: ir.Table) -> dict[str, ir.Value]:
    """The ratios of a roll-up, of the sums of :func:`rollup_sums`."""
    return dict(
        completion=ratio(g.selected_volume, g.agreed_volume),
        nonselected_share=ratio(g.counted, g.selected_volume + g.counted),
        offline_share=ratio(g.offline_amount, g.order_amount),
        payment_rate=ratio(g.paid_by_due, g.amount_due),
    )


def rollup(monitor_expr: ir.Table, by: str | Sequence[str]) -> ir.Table:
    """Roll the monitoring rows up by ``"institution"``, ``"region"`` (city prefix), ``"batch"`` or columns.

    Ratios are ratios of sums (Σ selected / Σ agreed), not means of row ratios, so a large variety
    weighs more than a small one; volumes of different varieties are added in their minimum units
    as the notices' 总体完成率 does (in DDDs: :mod:`jicai.analytics.ddd_rollups`).
    """
    m = with_city(monitor_expr)
    keys = rollup_keys(by)
    g = m.group_by(keys).agg(**rollup_sums(m))
    g = g.mutate(**rollup_ratios(g))
    return g.select(*keys, *(c.name for c in ROLLUP_FIGURES if c.name not in keys))


# -- the registry ----------------------------------------------------------------------------------------

INSTITUTION_ROLES = ("admin", "bureau", "auditor", "institution")
BUREAU_ROLES = ("admin", "bureau", "auditor")


def _rollup_measure(by: str, zh: str, en: str, dims: Dims, roles: tuple[str, ...]) -> Measure:
    """The roll-up of the monitoring by ``by``: the rows of a monitor report's summary sheets (no page, no
    command of its own: ``jicai monitor`` writes them beside the detail)."""
    keys = ROLLUPS[by]
    by_name = {c.name: c for c in (*COLUMNS, *ROLLUP_COLUMNS)}
    return Measure(
        name=f"monitor-by-{by}", title_zh=f"月度监测{zh}", title_en=f"Monthly monitoring {en}",
        compute=lambda wh, a: rollup(monitor(wh, a.as_of, a.batch, a.policy), by),
        params=("as_of",), inputs=INPUT_TABLES,
        columns=(*(by_name[k] for k in keys), *(c for c in ROLLUP_FIGURES if c.name not in keys)),
        dims=dims, roles=roles, sort=keys, policy=POLICY, web=False, command=False,
        note_zh="完成率、占比、回款率为合计量之比(Σ中选量/Σ约定量等)", note_en="ratios are ratios of sums",
        doc=__doc__,
    )


MEASURES = (
    Measure(
        name="monitor", title_zh="月度监测", title_en="Monthly monitoring",
        # the batch is an option of `jicai monitor`; the page and the API show every batch
        compute=lambda wh, a: monitor(wh, a.as_of, a.batch, a.policy),
        params=("as_of",), inputs=INPUT_TABLES, columns=COLUMNS,
        dims=Dims(institution="institution_code", region="region_code", variety="variety_id"),
        sort=("institution_code", "batch_id", "variety_id"), policy=POLICY, labels={"status": STATUS},
        note_zh="每家机构每个约定品种一行:完成率、序时进度、非中选占比、线下采购、回款、进院",
        note_en="One row per institution × agreed variety: completion, time progress, non-selected share, offline "
                "purchasing, payment, onboarding",
        doc=__doc__,
    ),
    _rollup_measure("institution", "按机构汇总", "by institution",
                    Dims(institution="institution_code", region="region_code"), INSTITUTION_ROLES),
    _rollup_measure("region", "按地市汇总", "by city", Dims(region="city_code"), BUREAU_ROLES),
    _rollup_measure("batch", "按批次汇总", "by batch", Dims(), BUREAU_ROLES),
)
