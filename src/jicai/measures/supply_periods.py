"""Supply-problem periods (供应保障不良期间, seed 002 五) and what they changed.

"经市局核实后,该医疗机构在中选企业存在供应保障不良问题期间采购备供企业产品可直接视作采购中选产品……;采购
非中选产品的,相应的用量不计入集采执行情况考核范围". Reports come in through ``jicai import`` (table
``supply_problems``: verified, start_date, end_date). As of a date D:

:func:`supply_periods` — one row per report filed by D, and per verified report filed later whose period
has started by D (the monitoring at D counts a verified period whatever its filing date, so the list shows
every period that changes it): its effective period [start_date (blank: the
day of reported_at), end_date (blank: still open, through D)], whether it **counts** (verified, about a
primary selected product of the institution's region — the rule of :mod:`jicai.measures.classes`) or
why not, and inside the period (to D) the institution's purchases of the variety on the policy's volume
basis: ``substituted_volume`` — backup products (counted as selected inside a counting period),
``excluded_volume`` — non-selected products (left out of the non-selected share), and the primary
volume it still received.

:func:`supply_period_effects` — one row per (institution, variety) with a counting period and a
monitoring row at D: the monitoring (:func:`jicai.measures.monitor.monitor`) run twice, with the policy
as is and with ``backup_substitution`` and ``supply_problem_exclusion`` off, joined on the keys. The
difference is what the periods changed in the cycle year containing D: selected volume (the substituted
backup), the counted non-selected volume (less the substituted backup, which without substitution is
non-selected too: the excluded non-selected part), completion, non-selected share, status and
the non-selected excess flag; ``changed`` names the columns that differ.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.contract.columns import cols
from jicai.contract.enums import PROBLEMS
from jicai.measures.classes import product_classes, region_match
from jicai.measures.cycles import day_after
from jicai.measures.monitor import STATUS
from jicai.measures.registry import Dims, Measure
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

INPUT_TABLES = ("batches", "varieties", "products", "selected_products", "agreements", "institutions",
                "orders", "deliveries", "payments", "supply_problems")

REASONS = {"counts": ("核实有效", "verified, about a selected product of the institution's region"),
           "unverified": ("未核实", "not verified: no effect"),
           "not_selected": ("非本地区中选产品", "the product is not a primary selected product for the institution's region"),
           "not_started": ("尚未开始", "the period starts after the as-of date")}

PERIODS = cols(
    "report_id", "institution_code", "institution_name", "product_code", "variety_id", "batch_id", "problem",
    "reported_at", "verified", "period_start", "period_end", "open", "counts", "reason", "selected_volume",
    "substituted_volume", "substituted_amount", "excluded_volume", "excluded_amount",
    institution_code=("医疗机构编码", "reporting institution"), product_code=("医保编码", "product reported"),
    variety_id=("品种编号", "variety of the product"), batch_id=("批次编号", "batch of the variety"),
    selected_volume=("期间中选产品采购量",
                     "primary selected volume of the variety inside the period (to the as-of date)"),
)

EFFECTS = cols(
    "institution_code", "institution_name", "batch_id", "variety_id", "variety_name", "cycle_year", "agreed_volume",
    "substituted_volume", "excluded_volume", "completion_without", "completion", "share_without",
    "nonselected_share", "status_without", "status", "excess_without", "nonselected_excess", "changed",
    institution_code=("医疗机构编码", "institution"), batch_id=("批次编号", "batch"),
    cycle_year=("采购年度", "cycle year containing the as-of date"), agreed_volume=("约定采购量", "agreed volume"),
    substituted_volume=("备供计入中选量", "selected volume with the periods − without (the backup counted as "
                                         "selected)"),
    excluded_volume=("不计入占比的非中选量", "counted non-selected volume without the periods − with − the "
                                            "substituted backup (which, not substituted, would have been counted "
                                            "non-selected)"),
    completion=("完成率", "completion with the policy as is"),
    nonselected_share=("非中选占比", "non-selected share with the policy as is"),
    status=("进度状态", "status with the policy as is"),
    nonselected_excess=("非中选超量", "non-selected excess flag with the policy as is"),
)


def _reports(t: dict[str, ir.Table], as_of: date) -> ir.Table:
    s = t["supply_problems"]
    # filed by D, or verified with a period started by D: what the monitoring at D counts, filed when it may
    started = s.start_date.fill_null(s.reported_at.date()) <= ibis.literal(as_of)
    s = s.filter((s.reported_at < day_after(as_of)) | (s.verified.fill_null(False) & started))
    p = t["products"].select("product_code", "variety_id")
    v = t["varieties"].select("variety_id", "batch_id")
    s = s.left_join(p, "product_code").drop("product_code_right")
    s = s.left_join(v, "variety_id").drop("variety_id_right")
    prim = t["selected_products"].filter(t["selected_products"].role == "primary")
    prim = prim.select(x_product="product_code", x_regions="regions")
    inst = t["institutions"].select("institution_code", inst_region=t["institutions"].region_code,
                                    institution_name=t["institutions"].name)
    s = s.left_join(inst, "institution_code").drop("institution_code_right")
    m = s.join(prim, s.product_code == prim.x_product)
    m = m.filter(region_match(m.x_regions, m.inst_region)).select(y_report="report_id").distinct()
    s = s.left_join(m, s.report_id == m.y_report)
    start = s.start_date.fill_null(s.reported_at.date())
    verified = s.verified.fill_null(False)
    reason = ibis.ifelse(~verified, "unverified",
                         ibis.ifelse(s.y_report.isnull(), "not_selected",
                                     ibis.ifelse(start > ibis.literal(as_of), "not_started", "counts")))
    return s.select(
        "report_id", "institution_code", "institution_name", "product_code", "variety_id", "batch_id", "problem",
        "reported_at", verified=verified, period_start=start,
        period_end=ibis.ifelse(s.end_date.isnull() | (s.end_date > ibis.literal(as_of)), ibis.literal(as_of),
                               s.end_date),
        open=s.end_date.isnull() | (s.end_date > ibis.literal(as_of)),
        reason=reason,
    )


def supply_periods(wh: Warehouse, as_of: date, batch_id: str | None = None, policy: Policy | None = None) -> ir.Table:
    """Every report filed by ``as_of``, and every verified one in force by then whenever filed, with its period
    and the purchases inside it; see PERIODS."""
    policy = policy or load_policy()
    t = {name: wh.table(name) for name in INPUT_TABLES}
    r = _reports(t, as_of)
    if batch_id is not None:
        r = r.filter(r.batch_id == batch_id)
    r = r.mutate(counts=r.reason == "counts")
    # lines of the reporting (institution, variety) pairs on the volume basis, through the as-of date
    o = t["orders"].select("order_line_id", "institution_code", "product_code", "quantity", "pack_price",
                           "ordered_at")
    if policy.value("volume_basis", on=as_of) == "accepted":
        d = t["deliveries"].filter(t["deliveries"].accepted_at.notnull()).select(
            "order_line_id", "accepted_at", "accepted_quantity")
        o = o.join(d, "order_line_id")
        o = o.select("institution_code", "product_code", "pack_price", at=o.accepted_at,
                     packs=o.accepted_quantity.fill_null(0.0))
    else:
        o = o.select("institution_code", "product_code", "pack_price", at=o.ordered_at, packs=o.quantity)
    o = o.filter(o.at < day_after(as_of))
    p = t["products"].select("product_code", "variety_id", upp=t["products"].units_per_pack.fill_null(1.0))
    o = o.join(p, "product_code")
    rk = r.select(k_report="report_id", k_inst="institution_code", k_variety="variety_id",
                  k_start="period_start", k_end="period_end", k_batch="batch_id")
    day = o.at.date()
    j = o.join(rk, [o.institution_code == rk.k_inst, o.variety_id == rk.k_variety,
                    day >= rk.k_start, day <= rk.k_end])
    classes = product_classes(rk.select(institution_code="k_inst", variety_id="k_variety", batch_id="k_batch"),
                              t["institutions"], t["selected_products"])
    j = j.left_join(classes, ["institution_code", "product_code"]).drop(
        "institution_code_right", "product_code_right")
    units, amount = j.packs * j.upp, j.packs * j.pack_price
    prim, bak = j.is_primary.fill_null(0) == 1, j.is_backup.fill_null(0) == 1
    g = j.group_by("k_report").agg(
        selected_volume=ibis.ifelse(prim, units, 0.0).sum(),
        substituted_volume=ibis.ifelse(bak, units, 0.0).sum(),
        substituted_amount=ibis.ifelse(bak, amount, 0.0).sum(),
        excluded_volume=ibis.ifelse(~prim & ~bak, units, 0.0).sum(),
        excluded_amount=ibis.ifelse(~prim & ~bak, amount, 0.0).sum(),
    )
    r = r.left_join(g, r.report_id == g.k_report)
    sums = ("selected_volume", "substituted_volume", "substituted_amount", "excluded_volume", "excluded_amount")
    r = r.mutate(**{c: r[c].fill_null(0.0) for c in sums})
    return r.select(*(c.name for c in PERIODS))


def supply_period_effects(wh: Warehouse, as_of: date, batch_id: str | None = None,
                          policy: Policy | None = None) -> ir.Table:
    """What the counting periods changed in the monitoring at ``as_of``; see EFFECTS."""
    from jicai.measures.monitor import monitor

    policy = policy or load_policy()
    t = {name: wh.table(name) for name in INPUT_TABLES}
    pairs = _reports(t, as_of)
    pairs = pairs.filter(pairs.reason == "counts").select(p_inst="institution_code", p_variety="variety_id").distinct()
    keys = ["institution_code", "variety_id", "batch_id"]
    on = monitor(wh, as_of, batch_id, policy)
    off = monitor(wh, as_of, batch_id, policy.with_values(backup_substitution=False, supply_problem_exclusion=False))
    off = off.select(*keys, sel_off="selected_volume", cnt_off="nonselected_counted_volume",
                     completion_without="completion", share_without="nonselected_share", status_without="status",
                     excess_without="nonselected_excess")
    on = on.join(pairs, [on.institution_code == pairs.p_inst, on.variety_id == pairs.p_variety])
    m = on.join(off, keys)

    def differs(a: ir.Value, b: ir.Value) -> ir.BooleanValue:
        return (a.isnull() != b.isnull()) | (a != b).fill_null(False)

    changed = (ibis.ifelse(differs(m.completion, m.completion_without), ";completion", "")
               + ibis.ifelse(differs(m.nonselected_share, m.share_without), ";nonselected_share", "")
               + ibis.ifelse(differs(m.status, m.status_without), ";status", "")
               + ibis.ifelse(differs(m.nonselected_excess, m.excess_without), ";nonselected_excess", ""))
    return m.select(
        "institution_code", "institution_name", "batch_id", "variety_id", "variety_name",
        cycle_year=m.cycle_year, agreed_volume=m.agreed_volume,
        substituted_volume=m.selected_volume - m.sel_off,
        # without substitution the period's backup was counted non-selected too: take it out again
        excluded_volume=m.cnt_off - m.nonselected_counted_volume - (m.selected_volume - m.sel_off),
        completion_without=m.completion_without, completion=m.completion,
        share_without=m.share_without, nonselected_share=m.nonselected_share,
        status_without=m.status_without, status=m.status,
        excess_without=m.excess_without, nonselected_excess=m.nonselected_excess,
        changed=changed.substr(1),
    )


# -- the registered measures ---------------------------------------------------------------------------

# `jicai supply-periods` (hand-written: two lists and a summary) shows both; the page shows the effects.
MEASURES = (
    Measure(
        name="supply-period-reports", title_zh="供应问题期间", title_en="Supply-problem reports and their periods",
        compute=lambda wh, a: supply_periods(wh, a.as_of, a.batch, a.policy),
        params=("as_of", "batch"), optional=("batch",), inputs=INPUT_TABLES, columns=PERIODS,
        dims=Dims(institution="institution_code", product="product_code"),
        sort=("institution_code", "reported_at", "report_id"), policy=("volume_basis",),
        labels={"reason": REASONS, "problem": PROBLEMS},
        totals=("substituted_volume", "substituted_amount", "excluded_volume", "excluded_amount"),
        group="supply", doc=__doc__, command=False, web=False,
    ),
    Measure(
        name="supply-periods", title_zh="供应问题期间的影响", title_en="Supply-problem periods",
        compute=lambda wh, a: supply_period_effects(wh, a.as_of, a.batch, a.policy),
        params=("as_of",), inputs=INPUT_TABLES, columns=EFFECTS,
        dims=Dims(institution="institution_code", variety="variety_id"), sort=("institution_code", "variety_id"),
        # what the monitoring behind the comparison reads and the comparison turns off
        policy=("volume_basis", "backup_substitution", "supply_problem_exclusion", "special_treatment",
                "nonselected_share_max"),
        totals=("substituted_volume", "excluded_volume"), group="supply",
        labels={"status": STATUS, "status_without": STATUS},
        note_zh="核实的供应问题期间内:备供替代计入中选量、非中选量不计入占比,及其对完成率和占比的影响",
        note_en="Inside verified supply-problem periods: backup volume counted as selected, non-selected volume "
                "left out, and what that changed in completion and share",
        doc=__doc__, command=False,  # the hand-written `jicai supply-periods` shows it with the reports
    ),
)
