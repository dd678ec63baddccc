"""Supply continuity at a new batch (集采落地前供应接续, seed 002 三).

"原供应厂家未中选的,指导配送企业摸清供应替换期的医疗机构使用量,通过测算使用量和库存量的差额进行合理备货".
For a batch b with start date S and each (institution i, variety v of b):

* the **window** is the ``window_months`` months before S (default 3: a batch starting 2024-04-15
  looks at 2024-01-15 … 2024-04-14), on the ordered basis (``quantity × units_per_pack`` by
  ``ordered_at``, every channel) — before execution the orders are the use;
* the **main product before execution** is the product of v that i ordered most in the window (ties:
  the smaller product code), its **main supplier** the product's ``manufacturer_code``;
* the **winners** are the primary selected products of v whose ``regions`` match i's region;
* ``case``: ``replace`` — the main supplier is not a winning enterprise: the winner must replace it
  (the list the notice asks for); ``continue`` — the main supplier won (its stock's price difference is
  settled at the start date); ``no_winner`` — no primary product covers i's region.

Rows: every (i, v) with use in the window. ``monthly_units`` = the variety's ordered units in the window
per 30 days of the part of the window the data covers (``covered_days``: from the first order line in
the warehouse, so a window reaching before the data is not diluted) — what must be replaced per month;
``main_monthly_units`` the main product's alone.
``winner_new`` is true when none of the winning products was ordered by anyone in the province in the
window (中选品种在中选前未供应本地市场: the maker must bring stock in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import ibis
import ibis.expr.types as ir

from jicai.calendar import add_months
from jicai.contract.columns import cols
from jicai.errors import BilingualError
from jicai.measures.classes import region_match
from jicai.measures.registry import Args, Dims, Measure
from jicai.policy import Policy
from jicai.store import Warehouse

INPUT_TABLES = ("batches", "varieties", "products", "selected_products", "enterprises", "institutions", "orders")
WINDOW_MONTHS = 3
MAX_LISTED = 3  # winners listed by code on a row
MONTH_DAYS = 30.0  # "monthly" use = use per 30 days of the covered window



CASES = {"replace": ("原供应厂家未中选,需替换", "the main supplier before execution did not win"),
         "continue": ("原供应厂家中选", "the main supplier before execution won"),
         "no_winner": ("本地区无中选产品", "no primary selected product covers the institution's region")}

COLUMNS = cols(
    "batch_id", "start_date", "window", "covered_days", "institution_code", "institution_name", "region_code",
    "variety_id", "variety_name", "main_product_code", "main_enterprise_code", "main_enterprise_name",
    "monthly_units", "main_monthly_units", "winner_product_codes", "winner_enterprise_codes", "winner_new", "case",
    batch_id=("批次编号", "the new batch"), institution_code=("医疗机构编码", "institution"),
    variety_id=("品种编号", "variety of the batch"),
    monthly_units=("月均使用量", "ordered units of the variety in the window / window months"),
)


class ContinuityError(BilingualError, ValueError):
    """The continuity list cannot be made for these arguments (an unknown batch, a window under a month)."""


@dataclass(frozen=True)
class ContinuityArgs(Args):
    """The arguments of the continuity list: the batch (Args' ``batch``) and the months before its start."""

    window_months: int = WINDOW_MONTHS


def supply_continuity(wh: Warehouse, batch_id: str, window_months: int = WINDOW_MONTHS,
                      policy: Policy | None = None) -> ir.Table:
    """The continuity list of ``batch_id``; see COLUMNS. ``policy`` is accepted for a uniform call and not
    used (the window is an argument). Raises ContinuityError for an unknown batch."""
    t = {name: wh.table(name) for name in INPUT_TABLES}
    b = t["batches"].filter(t["batches"].batch_id == batch_id).select("start_date").to_pyarrow().to_pylist()
    if not b:
        raise ContinuityError(f"批次不存在:{batch_id}", f"no such batch: {batch_id}")
    start = b[0]["start_date"]
    if window_months < 1:
        raise ContinuityError("统计期月数应不少于 1", "window_months must be at least 1")
    hi = start
    lo = add_months(start, -window_months)  # the day clamped: 31 May − 3 months = 29 February
    label = f"{lo.isoformat()}~{(hi - timedelta(days=1)).isoformat()}"

    v = t["varieties"].filter(t["varieties"].batch_id == batch_id).select(
        "variety_id", variety_name=t["varieties"].name)
    p = t["products"].select("product_code", "variety_id", "manufacturer_code",
                             upp=t["products"].units_per_pack.fill_null(1.0))
    p = p.join(v.select("variety_id"), "variety_id")
    o = t["orders"]
    o = o.filter((o.ordered_at >= ibis.literal(lo).cast("timestamp"))
                 & (o.ordered_at < ibis.literal(hi).cast("timestamp")))
    o = o.join(p, "product_code")
    # the part of the window the data covers: from the first order line in the warehouse
    data_start = t["orders"].aggregate(first=t["orders"].ordered_at.min().date())
    span = data_start.select(
        days=ibis.literal(hi).delta(ibis.greatest(ibis.literal(lo), data_start.first.fill_null(ibis.literal(lo))),
                                    unit="day"))
    use = o.group_by(["institution_code", "variety_id", "product_code", "manufacturer_code"]).agg(
        units=(o.quantity * o.upp).sum())
    keys = ["institution_code", "variety_id"]
    ranked = use.mutate(rn=ibis.row_number().over(group_by=keys, order_by=[ibis.desc(use.units), use.product_code]),
                        total=use.units.sum().over(group_by=keys))
    main = ranked.filter(ranked.rn == 0)

    sp = t["selected_products"]
    sp = sp.filter((sp.batch_id == batch_id) & (sp.role == "primary")).select(
        "variety_id", "product_code", "enterprise_code", s_regions=sp.regions)
    inst = t["institutions"].select("institution_code", "region_code", institution_name=t["institutions"].name)
    pairs = main.select(*keys).join(inst, "institution_code")
    w = pairs.join(sp, "variety_id")
    w = w.filter(region_match(w.s_regions, w.region_code))
    # was a winning product ordered by anyone in the province in the window?
    ordered = use.group_by("product_code").agg(o_units=use.units.sum())
    w = w.left_join(ordered, "product_code").drop("product_code_right")
    # the winners' codes joined in code order: ranked and pivoted (an ordered string aggregate is not
    # available on every engine); more than MAX_LISTED winners end in "…"
    w = w.mutate(rank=ibis.row_number().over(group_by=keys, order_by=[w.product_code, w.enterprise_code]))
    win = w.group_by(keys).agg(
        winners=w.count(),
        winner_units=w.o_units.fill_null(0.0).sum(),
        **{f"p{i}": ibis.ifelse(w.rank == i, w.product_code, ibis.null("string")).max() for i in range(MAX_LISTED)},
        **{f"e{i}": ibis.ifelse(w.rank == i, w.enterprise_code, ibis.null("string")).max() for i in range(MAX_LISTED)},
    )

    def joined(prefix: str) -> ir.StringValue:
        s = win[f"{prefix}0"]
        for i in range(1, MAX_LISTED):
            s = s + ibis.ifelse(win[f"{prefix}{i}"].notnull(), ";" + win[f"{prefix}{i}"], "")
        return s + ibis.ifelse(win.winners > MAX_LISTED, ";…", "")

    win = win.select(*keys, "winner_units", winner_product_codes=joined("p"), winner_enterprise_codes=joined("e"))
    same = main.join(sp, [main.variety_id == sp.variety_id, main.manufacturer_code == sp.enterprise_code])
    same = same.join(inst, "institution_code")
    same = same.filter(region_match(same.s_regions, same.region_code))
    same = same.select(c_inst="institution_code", c_variety=main.variety_id, won=ibis.literal(1, "int64")).distinct()

    r = main.left_join(win, keys).drop(*(f"{k}_right" for k in keys))
    r = r.left_join(same, [r.institution_code == same.c_inst, r.variety_id == same.c_variety])
    r = r.left_join(inst, "institution_code").drop("institution_code_right")
    r = r.left_join(v, "variety_id").drop("variety_id_right")
    r = r.cross_join(span)
    per_month = ibis.literal(MONTH_DAYS) / r.days.cast("float64")
    ent = t["enterprises"].select(main_enterprise_code="enterprise_code", main_enterprise_name="name")
    r = r.left_join(ent, r.manufacturer_code == ent.main_enterprise_code)
    case = ibis.ifelse(r.winner_product_codes.isnull(), "no_winner", ibis.ifelse(r.won.notnull(), "continue", "replace"))
    return r.select(
        batch_id=ibis.literal(batch_id, "string"), start_date=ibis.literal(start, "date"),
        window=ibis.literal(label, "string"),
        institution_code=r.institution_code, institution_name=r.institution_name, region_code=r.region_code,
        variety_id=r.variety_id, variety_name=r.variety_name,
        main_product_code=r.product_code, main_enterprise_code=r.manufacturer_code,
        main_enterprise_name=r.main_enterprise_name,
        covered_days=r.days.cast("int64"),
        monthly_units=r.total * per_month, main_monthly_units=r.units * per_month,
        winner_product_codes=r.winner_product_codes, winner_enterprise_codes=r.winner_enterprise_codes,
        winner_new=r.winner_product_codes.notnull() & (r.winner_units.fill_null(0.0) == 0),
        case=case,
    )


def _compute(wh: Warehouse, a: Args) -> ir.Table:
    months = a.window_months if isinstance(a, ContinuityArgs) else WINDOW_MONTHS
    return supply_continuity(wh, a.batch, months, a.policy)


# `jicai supply-continuity` (hand-written: its --window-months and --all) is the one place it is shown.
MEASURES = (
    Measure(
        name="supply-continuity", title_zh="集采落地前供应接续", title_en="Supply continuity at a new batch",
        compute=_compute, params=("batch",), inputs=INPUT_TABLES, columns=COLUMNS,
        dims=Dims(institution="institution_code", region="region_code", variety="variety_id"),
        roles=("admin", "bureau", "auditor"), sort=("institution_code", "variety_id"),
        labels={"case": CASES}, totals=("monthly_units",), group="supply", doc=__doc__,
        command=False, web=False,
    ),
)
