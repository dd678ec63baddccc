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

from jicai.measures.classes import product_classes, supply_problem_periods
from jicai.measures.cycles import cycle_calendar
from jicai.measures.onboarding import onboarding_columns
from jicai.measures.payment import offline, payments
from jicai.measures.progress import class_volumes, progress_columns, ratio
from jicai.measures.purchases import accepted_lines, ordered_lines, scope_products, summarize
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

INPUT_TABLES = ("batches", "varieties", "products", "selected_products", "agreements", "institutions",
                "orders", "deliveries", "payments", "supply_problems")

STATUS = {"zero": ("零采购", "zero purchase"), "behind": ("低于序时进度", "behind time progress"),
          "over": ("超量采购", "over agreed volume"), "normal": ("正常", "normal")}

# name → (中文表头, English description); the order is the column order of the result.
MONITOR_COLUMNS: dict[str, tuple[str, str]] = {
    "institution_code": ("医疗机构编码", "institution code"),
    "institution_name": ("医疗机构名称", "institution name"),
    "region_code": ("所属区划", "region code of the institution"),
    "level": ("医院等级", "institution level (3/2/1/0 = 三级/二级/一级/未定级)"),
    "batch_id": ("批次编号", "procurement batch"),
    "variety_id": ("品种编号", "variety"),
    "variety_name": ("品种名称", "variety name"),
    "cycle_year": ("采购年度", "cycle year k containing the as-of date"),
    "cycle_start": ("年度开始日", "first day of cycle year k"),
    "cycle_end": ("年度结束日", "last day of cycle year k"),
    "time_progress": ("序时进度", "min(1, days from cycle start to as-of inclusive / days in the cycle year)"),
    "agreed_volume": ("约定采购量", "agreed volume of the cycle year (minimum units)"),
    "selected_volume": ("中选产品采购量", "selected volume incl. backup inside verified supply-problem periods"),
    "backup_volume": ("备供替代量", "backup volume counted as selected (inside verified supply-problem periods)"),
    "nonselected_volume": ("非中选产品采购量", "all other volume of the variety (incl. backup outside periods)"),
    "nonselected_counted_volume": ("计入占比的非中选量",
                                   "non-selected volume outside supply-problem and special periods (share numerator)"),
    "selected_amount": ("中选产品采购金额", "amount of the selected volume (yuan)"),
    "backup_amount": ("备供替代金额", "amount of the backup volume counted as selected (yuan)"),
    "nonselected_amount": ("非中选产品采购金额", "amount of the non-selected volume (yuan)"),
    "completion": ("完成率", "selected volume / agreed volume (null when agreed is 0)"),
    "shortfall_volume": ("距序时进度差量", "volume still needed to reach time progress: max(0, agreed × progress − selected)"),
    "status": ("进度状态", "zero / behind / over / normal (零采购/低于序时进度/超量采购/正常)"),
    "nonselected_share": ("非中选占比", "counted non-selected / (selected + counted non-selected); null when 0"),
    "nonselected_excess": ("非中选超量", "non-selected share above nonselected_share_max"),
    "order_amount": ("订单金额", "amount of all orders of the variety in the cycle year (order date)"),
    "offline_amount": ("线下采购金额", "amount of offline orders of the variety in the cycle year"),
    "offline_share": ("线下采购占比", "offline amount / order amount (null when no orders)"),
    "amount_due": ("应回款金额", "accepted amount of lines due on or before the as-of date"),
    "paid_by_due": ("按期回款金额", "paid on or before each line's due date (capped at the line amount)"),
    "overdue_amount": ("逾期未回款金额", "outstanding amount of lines past due as of the as-of date (a remainder under half a fen counts as paid)"),
    "overdue_lines": ("逾期明细数", "order lines past due and not fully paid"),
    "payment_rate": ("回款率", "paid_by_due / amount_due (null when nothing is due)"),
    "onboarded": ("已进院", "a selected product has been purchased since the batch start"),
    "not_onboarded": ("未进院", "from month 3 of execution: agreement without any selected purchase"),
}

_ZERO_FILLED = ("selected_volume", "backup_volume", "nonselected_volume", "nonselected_counted_volume",
                "selected_amount", "backup_amount", "nonselected_amount", "order_amount", "offline_amount",
                "amount_due", "paid_by_due", "overdue_amount")


def monitor(wh: Warehouse, as_of: date, batch_id: str | None = None, policy: Policy | None = None) -> ir.Table:
    """The monitoring table as of ``as_of`` (inclusive) for one batch or all; see MONITOR_COLUMNS.

    Policy parameters are those in force on ``as_of``.
    """
    policy = policy or load_policy()

    def pv(name: str):
        return policy.value(name, on=as_of)

    t = {name: wh.table(name) for name in INPUT_TABLES}
    batches = t["batches"] if batch_id is None else t["batches"].filter(t["batches"].batch_id == batch_id)
    cal = cycle_calendar(batches, as_of)
    scope = scope_products(t["varieties"], t["products"], cal, batch_id)

    ag = t["agreements"]
    ag = ag.select("batch_id", "cycle_year", "institution_code", "variety_id", "agreed_volume")
    ag = ag.join(cal, ["batch_id", "cycle_year"])

    periods = supply_problem_periods(t["supply_problems"], t["products"], t["selected_products"],
                                     t["institutions"], as_of)
    sp_pairs = periods.select("institution_code", "variety_id").distinct()
    due = pv("payment_due")
    paid = summarize(accepted_lines(t["orders"], t["deliveries"], t["payments"], scope, as_of, due),
                     sp_pairs, as_of, due)
    if pv("volume_basis") == "accepted":  # one stream of accepted lines serves volumes and payments
        volume_summary = paid
    else:
        volume_summary = summarize(ordered_lines(t["orders"], scope, as_of), sp_pairs, as_of, due)
    # classes only matter where there is a row: the agreements × the selected products of their variety
    classes = product_classes(ag.select("institution_code", "variety_id", "batch_id"), t["institutions"],
                              t["selected_products"])
    vols = class_volumes(volume_summary, classes, periods,
                         backup_substitution=pv("backup_substitution"),
                         supply_problem_exclusion=pv("supply_problem_exclusion"),
                         special_treatment=pv("special_treatment"))
    pay = payments(paid)
    off = offline(t["orders"], scope, as_of)

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
    return m.select(*MONITOR_COLUMNS)


# -- roll-ups ------------------------------------------------------------------------------------------

ROLLUPS: dict[str, tuple[str, ...]] = {
    "institution": ("institution_code", "institution_name", "region_code", "level"),
    "region": ("city_code",),
    "batch": ("batch_id",),
}

ROLLUP_COLUMNS: dict[str, tuple[str, str]] = {
    "city_code": ("地市区划", "city: the first 4 digits of region_code followed by 00"),
    "rows": ("约定品种数", "monitoring rows (institution × variety agreements)"),
    "institutions": ("机构数", "distinct institutions"),
    "zero": ("零采购数", "rows with status zero"),
    "behind": ("低于序时进度数", "rows with status behind"),
    "over": ("超量采购数", "rows with status over"),
    "normal": ("正常数", "rows with status normal"),
    "nonselected_excess_rows": ("非中选超量数", "rows flagged non-selected excess"),
    "not_onboarded_rows": ("未进院数", "rows flagged not onboarded"),
    "agreed_volume": ("约定采购量", "Σ agreed volume (minimum units, across varieties)"),
    "selected_volume": ("中选产品采购量", "Σ selected volume"),
    "completion": ("总体完成率", "Σ selected / Σ agreed volume (null when Σ agreed is 0)"),
    "nonselected_share": ("总体非中选占比", "Σ counted non-selected / (Σ selected + Σ counted non-selected)"),
    "selected_amount": ("中选产品采购金额", "Σ selected amount"),
    "nonselected_amount": ("非中选产品采购金额", "Σ non-selected amount"),
    "offline_share": ("线下采购占比", "Σ offline amount / Σ order amount"),
    "amount_due": ("应回款金额", "Σ amount due"),
    "paid_by_due": ("按期回款金额", "Σ paid by due"),
    "overdue_amount": ("逾期未回款金额", "Σ overdue amount"),
    "payment_rate": ("回款率", "Σ paid by due / Σ amount due"),
}


def rollup(monitor_expr: ir.Table, by: str | Sequence[str]) -> ir.Table:
    """Roll the monitoring rows up by ``"institution"``, ``"region"`` (city prefix), ``"batch"`` or columns.

    Ratios are ratios of sums (Σ selected / Σ agreed), not means of row ratios, so a large variety
    weighs more than a small one; volumes of different varieties are added in their minimum units
    as the notices' 总体完成率 does.
    """
    m = monitor_expr.mutate(city_code=monitor_expr.region_code.substr(0, 4) + "00")
    keys = list(ROLLUPS[by]) if isinstance(by, str) and by in ROLLUPS else ([by] if isinstance(by, str) else list(by))

    def n(cond: ir.BooleanValue) -> ir.IntegerScalar:
        return ibis.ifelse(cond, 1, 0).sum().cast("int64")

    g = m.group_by(keys).agg(
        rows=m.count().cast("int64"),
        institutions=m.institution_code.nunique().cast("int64"),
        zero=n(m.status == "zero"),
        behind=n(m.status == "behind"),
        over=n(m.status == "over"),
        normal=n(m.status == "normal"),
        nonselected_excess_rows=n(m.nonselected_excess),
        not_onboarded_rows=n(m.not_onboarded),
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
    g = g.mutate(
        completion=ratio(g.selected_volume, g.agreed_volume),
        nonselected_share=ratio(g.counted, g.selected_volume + g.counted),
        offline_share=ratio(g.offline_amount, g.order_amount),
        payment_rate=ratio(g.paid_by_due, g.amount_due),
    )
    return g.select(*keys, *(c for c in ROLLUP_COLUMNS if c in g.columns and c not in keys))
