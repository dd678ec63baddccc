"""Prepayment ledger (预付台账) and the year-end recovery list (年终清算) — seed 003 四(四).

"各市(区)医保经办机构应在三方协议签订后,按照不低于年度约定采购金额的30%将医保基金预付给医疗机构,……
并按医疗机构采购进度,从其申请拨付的医疗费用中逐步冲抵预付金。" Per institution i, batch b, cycle year k:

* **agreed amount** = Σ_v agreed_volume × the price of i's selected product of v: the mean ``unit_price``
  of the primary selected products of v whose ``regions`` match i's region (the region rule of
  :mod:`jicai.measures.classes`). A variety without such a product adds nothing and is counted in
  ``unpriced_varieties`` so the gap shows.
* **prepayment** = ``prepay_ratio`` × agreed amount, made on ``prepaid_at`` = the earliest
  ``signed_date`` of i's agreements in (b, k), the cycle start when none is given. Rows of the optional
  table ``prepayments`` for (b, k, i) *replace* the computed amount (several rows add up, each counting
  from its ``paid_at``; ``source`` = ``imported``). In a month ending before the payment the
  prepayment is 0: nothing has been paid that could be offset.
* **ledger**: one row per institution × calendar month of the cycle year, up to the as-of date. The
  month ends on its last day, the last month on the cycle end, the as-of month on the as-of date.
  cumulative selected amount = amount of i's *selected* purchases of the batch's agreed varieties from
  the cycle start to the month end — the monitoring's classes: the primary products of i's region,
  and backups inside a verified supply-problem period (``backup_substitution``); progress = min(1,
  cumulative selected amount / agreed amount) (null when the agreed amount is 0, offsetting nothing);
  cumulative_offset = prepayment × progress; offset_this_month = its increase over the previous month;
  balance = prepayment − cumulative_offset.
* **recovery**: the institutions with a balance > 0 in the last ledger month — at the cycle end the
  amount to recover (``final``), before it a projection.

Money is exact (:mod:`jicai.measures.exact`): each amount is rounded once, half up, to the fen, and the
ledger is integer fen from there on. Rounded: each variety's agreed_volume × price (the agreed amount is
their sum); each imported prepayment row; the computed prepayment = agreed amount × ``prepay_ratio``
(exact integer product, the ratio in basis points); the cumulative selected amount (summed exactly in
micro-yuan, rounded each month end); the cumulative offset = prepayment × cumulative selected / agreed
amount (the prepayment itself once progress reaches 1). offset_this_month and balance are differences of
those integers, so in every ledger the month's offsets add up to the cumulative offset, the cumulative
offset and the balance to the prepayment, and the institutions to the monthly totals, to the fen.

Rows: the institutions with an agreement in (b, k) and those with an imported prepayment for it.
Purchases are summed in one pass over the order lines, per (institution, product, month), by
:func:`jicai.measures.purchases.summarize` and :func:`jicai.measures.progress.class_volumes` with a
month key — the same code as the monitoring, not twelve runs of it. The volume basis and the other
parameters are those of the policy in force on the ledger's last day (the cycle end, or the as-of date).

>>> from jicai.store import connect
>>> from jicai.contract.arrow import from_pylist, empty
>>> from datetime import date
>>> wh = connect("duckdb://")
>>> for name in INPUT_TABLES: _ = wh.write_table(name, empty(name))
>>> _ = wh.write_table("batches", from_pylist("batches", [{"batch_id": "B1", "name": "一", "category": "drug",
...     "start_date": date(2024, 1, 1), "cycle_years": 2}]))
>>> prepayment_ledger(wh, "B1", 1).to_pyarrow().num_rows
0
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.assess.period import AssessmentError, assessment_period
from jicai.calendar import month_end, month_label, shift_month
from jicai.contract.arrow import empty
from jicai.contract.columns import cols
from jicai.measures.classes import product_classes, region_match, supply_problem_periods
from jicai.measures.cycles import first_of_month
from jicai.measures.exact import basis_points, fen, fen_of_micro, micro, scaled_share, share_of, yuan
from jicai.measures.facts import accepted_lines as facts_accepted
from jicai.measures.facts import open_facts
from jicai.measures.facts import ordered_lines as facts_ordered
from jicai.measures.progress import class_volumes, ratio
from jicai.measures.purchases import accepted_lines, ordered_lines, scope_products, summarize
from jicai.measures.registry import Args, Dims, Measure
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

INPUT_TABLES = ("batches", "varieties", "products", "selected_products", "agreements", "institutions",
                "orders", "deliveries", "payments", "supply_problems")
OPTIONAL_TABLES = ("prepayments",)

SOURCES = {"computed": ("按约定金额计算", "prepay_ratio × agreed amount"),
           "imported": ("实际拨付(导入)", "imported actual prepayments")}

# the ledger's, the recovery list's and the monthly sums' columns (see the vocabulary, jicai.contract.columns)
_MONTH = ("月份", "calendar month of the cycle year (YYYY-MM)")
LEDGER = cols(
    "batch_id", "cycle_year", "institution_code", "institution_name", "region_code", "month", "month_end",
    "cycle_end", "agreed_amount", "unpriced_varieties", "prepaid_at", "source", "prepayment",
    "cumulative_selected_amount", "progress", "offset_this_month", "cumulative_offset", "balance",
    month=_MONTH,
)
LEDGER_NAMES = tuple(c.name for c in LEDGER)

RECOVERY = cols(
    "batch_id", "cycle_year", "institution_code", "institution_name", "region_code", "settled_on", "final",
    "agreed_amount", "source", "prepayment", "cumulative_selected_amount", "progress", "cumulative_offset",
    "recover_amount",
    agreed_amount=("年度约定采购金额", "agreed amount of the cycle year"),
    source=("预付来源", "computed or imported"),
    prepayment=("预付金额", "prepayment made by settled_on"),
    cumulative_selected_amount=("累计中选采购金额", "selected purchase amount of the cycle year to settled_on"),
    progress=("采购进度", "min(1, cumulative selected amount / agreed amount)"),
    cumulative_offset=("累计冲抵金额", "prepayment × progress"),
)

BY_MONTH = cols(
    "month", "month_end", "institutions", "agreed_amount", "prepayment", "cumulative_selected_amount",
    "offset_this_month", "cumulative_offset", "balance",
    month=_MONTH, month_end=("截至日期", "month end of the ledger rows"),
    institutions=("机构数", "institutions in the ledger"), agreed_amount=("年度约定采购金额", "Σ agreed amount"),
    prepayment=("预付金额", "Σ prepayment made by the month end"),
    cumulative_selected_amount=("累计中选采购金额", "Σ cumulative selected amount"),
    offset_this_month=("本月冲抵金额", "Σ offset this month"), cumulative_offset=("累计冲抵金额", "Σ cumulative offset"),
    balance=("预付余额", "Σ balance"),
)
BY_MONTH_NAMES = tuple(c.name for c in BY_MONTH)

_INST = "institution_code"


def ledger_months(cycle_start: date, last_day: date) -> list[dict]:
    """The calendar months from ``cycle_start`` to ``last_day``: month (YYYY-MM), month_first, month_end.

    >>> [m["month"] for m in ledger_months(date(2024, 3, 29), date(2024, 5, 10))]
    ['2024-03', '2024-04', '2024-05']
    >>> ledger_months(date(2024, 3, 29), date(2024, 5, 10))[-1]["month_end"]
    datetime.date(2024, 5, 10)
    """
    out, first = [], cycle_start.replace(day=1)
    while first <= last_day:
        out.append({"month": month_label(first), "month_first": first, "month_end": min(month_end(first), last_day)})
        first = shift_month(first, 1)
    return out


def _agreed_amounts(agreements: ir.Table, selected_products: ir.Table, institutions: ir.Table,
                    batch_id: str) -> ir.Table:
    """agreed_fen (integer fen), unpriced_varieties and signed (earliest signed_date) per institution."""
    keys = [_INST, "variety_id"]
    vol = agreements.group_by(keys).agg(agreed_volume=agreements.agreed_volume.sum().cast("float64"))
    sp = selected_products.filter((selected_products.batch_id == batch_id) & (selected_products.role == "primary"))
    sp = sp.select("variety_id", sp_regions=sp.regions, unit_price=sp.unit_price)
    inst = institutions.select(_INST, inst_region=institutions.region_code)
    j = vol.select(*keys).join(sp, "variety_id").join(inst, _INST)
    j = j.filter(region_match(j.sp_regions, j.inst_region))
    price = j.group_by(keys).agg(price=j.unit_price.mean().cast("float64"))
    a = vol.left_join(price, keys).drop(*(f"{k}_right" for k in keys))
    amounts = a.group_by(_INST).agg(
        agreed_fen=fen(a.agreed_volume * a.price).fill_null(0).sum(),
        unpriced_varieties=ibis.ifelse(a.price.isnull(), 1, 0).sum().cast("int64"),
    )
    signed = agreements.group_by(_INST).agg(signed=agreements.signed_date.min())
    return amounts.join(signed, _INST)


def _monthly_selected(wh: Warehouse, t: dict[str, ir.Table], agreements: ir.Table, batch_id: str,
                      cycle_start: date, last_day: date, pv) -> ir.Table:
    """Selected purchase amount (integer micro-yuan) per (institution, month) in one pass over the lines."""
    b = t["batches"].filter(t["batches"].batch_id == batch_id)
    cal = b.select("batch_id", batch_start=b.start_date, cycle_start=ibis.literal(cycle_start))
    # small, and read many times over: once on Spark (wh.reuse)
    scope = wh.reuse(scope_products(t["varieties"], t["products"], cal, batch_id))
    periods = wh.reuse(supply_problem_periods(t["supply_problems"], t["products"], t["selected_products"],
                                              t["institutions"], last_day))
    if (f := open_facts(wh)) is not None:
        if pv("volume_basis") == "accepted":
            lines = facts_accepted(f, scope, periods, last_day, pv("payment_due"), with_payments=False)
        else:
            lines = facts_ordered(f, scope, periods, last_day).drop("offline_amount")
    elif pv("volume_basis") == "accepted":
        # the ledger sums amounts, not payments: no payment rows need joining to the lines
        lines = accepted_lines(t["orders"], t["deliveries"], t["payments"].limit(0), scope, last_day,
                               pv("payment_due"))
    else:
        lines = ordered_lines(t["orders"], scope, last_day)
    lines = lines.select("variety_id", "batch_id", "batch_start", "cycle_start", "special", "special_start",
                         "special_end", _INST, "product_code", "at", "volume", "amount",
                         # pre-cycle lines count for nothing here: no month, fewer groups
                         month_first=ibis.ifelse(lines.at >= ibis.literal(cycle_start).cast("timestamp"),
                                                 first_of_month(lines.at.year(), lines.at.month() - 1),
                                                 ibis.null("date")))
    sp_pairs = periods.select(_INST, "variety_id").distinct()
    summary = summarize(lines, sp_pairs, last_day, pv("payment_due"), extra_keys=["month_first"])
    classes = product_classes(agreements.select(_INST, "variety_id", "batch_id"), t["institutions"],
                              t["selected_products"])
    vols = class_volumes(summary, classes, periods, backup_substitution=pv("backup_substitution"),
                         supply_problem_exclusion=pv("supply_problem_exclusion"),
                         special_treatment=pv("special_treatment"), extra_keys=["month_first"])
    # only the varieties the institution agreed to buy: their selected purchases offset its prepayment
    agreed = agreements.select(_INST, "variety_id").distinct()
    vols = vols.join(agreed, [_INST, "variety_id"])
    # micro-yuan integers: the month's and the cumulative sums are exact, in any order of addition
    return vols.group_by([_INST, "month_first"]).agg(month_selected_micro=micro(vols.selected_amount).sum())


def prepayment_ledger(wh: Warehouse, batch_id: str, year: int, policy: Policy | None = None,
                      as_of: date | None = None) -> ir.Table:
    """The prepayment ledger of cycle year ``year`` of ``batch_id``; see LEDGER.

    ``as_of`` (inclusive) cuts the ledger before the cycle end (a date after it gives the whole year);
    raises :class:`jicai.assess.period.AssessmentError` (Chinese and English) for an unknown batch or
    cycle year, or an as-of date before the cycle start.
    """
    policy = policy or load_policy()
    period = assessment_period(wh, batch_id, year)
    if as_of is not None and as_of < period.cycle_start:
        raise AssessmentError(
            f"截至日期 {as_of} 早于批次 {batch_id} 第 {period.cycle_year} 采购年度开始日 {period.cycle_start}",
            f"as-of date {as_of} is before the start of cycle year {period.cycle_year} of batch {batch_id} "
            f"({period.cycle_start})")
    last_day = period.cycle_end if as_of is None else min(as_of, period.cycle_end)
    k = period.cycle_year

    def pv(name: str):  # the parameters in force on the ledger's last day
        return policy.value(name, on=last_day)

    t = {name: wh.table(name) for name in INPUT_TABLES}
    ag = t["agreements"]
    ag = ag.filter((ag.batch_id == batch_id) & (ag.cycle_year == k))
    # the optional table: an empty one of the contract's shape when it was never imported
    pre = wh.table("prepayments") if wh.has_table("prepayments") else ibis.memtable(empty("prepayments"))
    pre = pre.filter((pre.batch_id == batch_id) & (pre.cycle_year == k))
    pre = pre.select(_INST, paid=fen(pre.amount),
                     paid_at=pre.paid_at.cast("date").fill_null(ibis.literal(period.cycle_start)))

    amounts = _agreed_amounts(ag, t["selected_products"], t["institutions"], batch_id)
    imported_first = pre.group_by(_INST).agg(imported_at=pre.paid_at.min())
    # cast: the warehouse's key columns may be declared NOT NULL, the empty stand-in's are not
    insts = ag.select(institution_code=ag.institution_code.cast("string")).union(
        pre.select(institution_code=pre.institution_code.cast("string")))
    insts = insts.distinct()
    people = insts.left_join(amounts, _INST).drop(f"{_INST}_right")
    people = people.left_join(imported_first, _INST).drop(f"{_INST}_right")
    cycle_start = ibis.literal(period.cycle_start)
    prepay_bp = basis_points(pv("prepay_ratio"))
    people = people.mutate(
        agreed_fen=people.agreed_fen.fill_null(0),
        unpriced_varieties=people.unpriced_varieties.fill_null(0).cast("int64"),
        imported=people.imported_at.notnull(),
        prepaid_at=ibis.ifelse(people.imported_at.notnull(), people.imported_at,
                               people.signed.fill_null(cycle_start)),
    )

    months = ibis.memtable(ledger_months(period.cycle_start, last_day),
                           schema={"month": "string", "month_first": "date", "month_end": "date"})
    rows = people.cross_join(months)

    # imported prepayments paid by each month end (a small join: a few rows per institution)
    # (built from the months alone, not from ``rows``: engines without common-subexpression reuse
    # would compute the institutions' agreed amounts a second time)
    paid = pre.join(months, pre.paid_at <= months.month_end)
    paid = paid.group_by([_INST, "month_first"]).agg(imported_paid_fen=paid.paid.sum())
    rows = rows.left_join(paid, [_INST, "month_first"]).drop(f"{_INST}_right", "month_first_right")

    monthly = _monthly_selected(wh, t, ag, batch_id, period.cycle_start, last_day, pv)
    rows = rows.left_join(monthly, [_INST, "month_first"]).drop(f"{_INST}_right", "month_first_right")

    computed = ibis.ifelse(rows.prepaid_at <= rows.month_end, scaled_share(rows.agreed_fen, prepay_bp), 0)
    prepay_fen = ibis.ifelse(rows.imported, rows.imported_paid_fen.fill_null(0), computed).cast("int64")
    by_inst = ibis.window(group_by=_INST, order_by="month_first", preceding=None, following=0)
    cum_micro = rows.month_selected_micro.fill_null(0).sum().over(by_inst)
    rows = rows.mutate(prepay_fen=prepay_fen, cum_fen=fen_of_micro(cum_micro.cast("int64")))
    # LEAST skips nulls on every engine: keep a null ratio (agreed amount 0) null explicitly
    share = ratio(rows.cum_fen, rows.agreed_fen)
    progress = ibis.ifelse(share.isnull(), ibis.null("float64"), ibis.least(1.0, share))
    # offset in fen: the whole prepayment once progress reaches 1 (compared in integers), before it the
    # prepayment × cumulative selected / agreed amount, rounded half up; nothing when the agreed amount is 0
    offset_fen = ibis.cases(
        (rows.agreed_fen <= 0, 0),
        (rows.cum_fen >= rows.agreed_fen, rows.prepay_fen),
        else_=share_of(rows.prepay_fen, rows.cum_fen, rows.agreed_fen),
    ).cast("int64")
    rows = rows.mutate(progress=progress, offset_fen=offset_fen)
    previous = rows.offset_fen.lag().over(group_by=_INST, order_by="month_first")
    rows = rows.mutate(
        agreed_amount=yuan(rows.agreed_fen),
        prepayment=yuan(rows.prepay_fen),
        cumulative_selected_amount=yuan(rows.cum_fen),
        cumulative_offset=yuan(rows.offset_fen),
        offset_this_month=yuan(rows.offset_fen - previous.fill_null(0)),
        balance=yuan(rows.prepay_fen - rows.offset_fen),
        source=ibis.ifelse(rows.imported, "imported", "computed"),
    )
    inst = t["institutions"].select(_INST, institution_name=t["institutions"].name,
                                    region_code=t["institutions"].region_code)
    rows = rows.left_join(inst, _INST).drop(f"{_INST}_right")
    rows = rows.mutate(batch_id=ibis.literal(batch_id, "string"), cycle_year=ibis.literal(k, "int64"),
                       cycle_end=ibis.literal(period.cycle_end))
    return rows.select(*LEDGER_NAMES)


def recovery_list(ledger: ir.Table) -> ir.Table:
    """Institutions whose balance in the last ledger month is > 0; see RECOVERY.

    The last month of a whole-year ledger ends on the cycle end (``final``): the balance is recovered
    (冲抵后结余收回). A ledger cut by an as-of date gives the projection on that date.
    """
    last = ledger.group_by(["batch_id", "cycle_year"]).agg(settled_on=ledger.month_end.max())
    r = ledger.join(last, [ledger.batch_id == last.batch_id, ledger.cycle_year == last.cycle_year,
                           ledger.month_end == last.settled_on])
    r = r.filter(r.balance > 0)
    return r.select(
        "batch_id", "cycle_year", _INST, "institution_name", "region_code", "settled_on",
        final=r.settled_on == r.cycle_end,
        agreed_amount=r.agreed_amount, source=r.source, prepayment=r.prepayment,
        cumulative_selected_amount=r.cumulative_selected_amount, progress=r.progress,
        cumulative_offset=r.cumulative_offset, recover_amount=r.balance,
    )


def year_end_recovery(wh: Warehouse, batch_id: str, year: int, policy: Policy | None = None,
                      as_of: date | None = None) -> ir.Table:
    """:func:`recovery_list` of :func:`prepayment_ledger` (one call for the CLI and the scenario files)."""
    return recovery_list(prepayment_ledger(wh, batch_id, year, policy, as_of))


def ledger_by_month(ledger: ir.Table) -> ir.Table:
    """The fund's view: per month, the ledger's sums over institutions; see BY_MONTH."""
    # the rows hold fen / 100: summed as integer fen, each total is the rows' sum to the fen
    g = ledger.group_by("month").agg(
        month_end=ledger.month_end.max(),
        institutions=ledger.institution_code.nunique().cast("int64"),
        **{c: yuan(fen(ledger[c]).sum()) for c in ("agreed_amount", "prepayment", "cumulative_selected_amount",
                                                   "offset_this_month", "cumulative_offset", "balance")},
    )
    return g.select(*BY_MONTH_NAMES)


# -- the registered measures -----------------------------------------------------------------------------

POLICY = ("prepay_ratio", "volume_basis", "payment_due", "backup_substitution", "supply_problem_exclusion",
          "special_treatment")
# an institution sees its own ledger; the sums over institutions are the bureau's
ROLES = ("admin", "bureau", "auditor", "institution")
BUREAU_ROLES = ("admin", "bureau", "auditor")
_PARAMS = ("batch", "year", "as_of")
_DIMS = Dims(institution="institution_code", region="region_code")
RECOVERED = ("agreed_amount", "prepayment", "cumulative_selected_amount", "cumulative_offset", "recover_amount")


def _ledger(wh: Warehouse, a: Args) -> ir.Table:
    return prepayment_ledger(wh, a.batch, a.year, a.policy, a.as_of)


MEASURES = (
    Measure(
        name="prepayment", title_zh="预付台账", title_en="Prepayment ledger", compute=_ledger, params=_PARAMS,
        optional=("as_of",), inputs=INPUT_TABLES, columns=LEDGER, dims=_DIMS, roles=ROLES,
        sort=("institution_code", "month"), policy=POLICY, labels={"source": SOURCES},
        totals=("offset_this_month",), group="assessment",
        note_zh="每家机构每月一行:预付金额、累计中选采购金额、采购进度、冲抵与余额",
        note_en="Per institution × month: prepayment, cumulative selected amount, progress, offset and balance",
        doc=__doc__,  # `jicai prepayment` (hand-written: the ledger, its monthly sums and the recovery list)
    ),
    Measure(
        name="prepayment-by-month", title_zh="预付台账按月汇总", title_en="Prepayment ledger by month",
        compute=lambda wh, a: ledger_by_month(_ledger(wh, a)), params=_PARAMS, optional=("as_of",),
        inputs=INPUT_TABLES, columns=BY_MONTH, dims=Dims(), roles=BUREAU_ROLES, sort=("month",), policy=POLICY,
        totals=("offset_this_month",), group="assessment", note_zh="各机构之和;合计为全年冲抵金额",
        note_en="Sums over institutions per month", doc=__doc__, command=False, web=False,
    ),
    Measure(
        name="prepayment-recovery", title_zh="预付年终清算", title_en="Prepayment recovery",
        compute=lambda wh, a: recovery_list(_ledger(wh, a)), params=_PARAMS, optional=("as_of",),
        inputs=INPUT_TABLES, columns=RECOVERY, dims=_DIMS, roles=ROLES, sort=("institution_code",),
        policy=POLICY, labels={"source": SOURCES}, totals=RECOVERED, group="assessment",
        note_zh="余额大于0的机构(年度未结束时为预计数)",
        note_en="Institutions with a balance left (a projection before the year ends)",
        doc=__doc__, command=False, web=False,
    ),
)
