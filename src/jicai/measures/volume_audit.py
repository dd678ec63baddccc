"""Volume audit (报量审核): institutions' volume reports for cycle year k against last year's use (002 泉州 一, 003).

One row per institution × variety of the batch that has a volume report for (batch, k), or accepted
use of the variety in the 12 months before the start of cycle year k, or an agreement in cycle year
k − 1. ``last_year_actual`` is the accepted volume (accepted_quantity × units_per_pack) of every
product of the variety bought by the institution in the 12 months before the report: from the same
calendar day one year before ``reported_at`` (00:00, inclusive; 29 February → 28 February) up to
``reported_at`` (exclusive). Without a report the window is the 12 months before the start of cycle
year k: [start_k − 1 year, start_k).

Flags, in this order (codes ``;``-separated in ``flags``, Chinese labels in ``flags_zh``):

* ``under_report`` 报量偏低: reported < (1 − ``under_report_ratio``) × last_year_actual (exactly 20 %
  lower is not flagged);
* ``used_not_reported`` 用而不报: last_year_actual > 0 and the report is missing or 0 — unless the
  institution is only *encouraged* to take part and had no agreement in cycle year k − 1: a village clinic,
  a private institution or a pharmacy (``kind`` village / private / pharmacy, or ``public`` false) may buy
  VBP products without reporting (001 进院使用: 鼓励村卫生室、民营医疗机构、零售药店参加集采; 003 一:
  鼓励未报量的医保定点社会办医疗机构采购、使用). An institution without a row in ``institutions`` is judged
  as bound to report;
* ``renewal_below_prior`` 续签低于上年约定: k ≥ 2 and reported < agreed volume of k − 1;
* ``over_report`` 报量偏高: last_year_actual > 0 and reported > ``over_report_multiple`` × last_year_actual.

A missing report compares as unknown (only ``used_not_reported`` can flag it). Everything is an Ibis
expression over the warehouse tables; the parameters are the latest entries of the policy.

A report far below the *forecast* use (and below the 11th national batch's floor of 80 % of average prior use)
is flagged by the 报量 assistant, ``jicai volume-forecast`` (:mod:`jicai.analytics.forecast`, same keys and the
same accepted use): the forecast is fitted in the analytics layer, which this layer may not import.

>>> from jicai.store import connect
>>> from jicai.contract.arrow import empty
>>> wh = connect("duckdb://")
>>> for name in INPUT_TABLES: _ = wh.write_table(name, empty(name))
>>> volume_audit(wh, "B1", 1).to_pyarrow().num_rows
0
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.types as ir

from jicai.contract.columns import cols
from jicai.measures.cycles import add_years
from jicai.measures.progress import ratio
from jicai.measures.registry import Dims, Measure
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

INPUT_TABLES = ("batches", "varieties", "products", "agreements", "volume_reports", "orders", "deliveries",
                "institutions")
ENCOURAGED_KINDS = ("village", "private", "pharmacy")  # encouraged to take part, not bound to report

# code → (中文, English); the order is the order of the flags in a row.
FLAGS: dict[str, tuple[str, str]] = {
    "under_report": ("报量偏低", "reported < (1 − under_report_ratio) × last-year actual"),
    "used_not_reported": ("用而不报", "last-year actual > 0 and no or zero report (not for a village clinic, private "
                                       "institution or pharmacy without an agreement in k − 1)"),
    "renewal_below_prior": ("续签低于上年约定", "k ≥ 2 and reported < agreed volume of k − 1"),
    "over_report": ("报量偏高", "reported > over_report_multiple × last-year actual (> 0)"),
}

COLUMNS = cols(
    "institution_code", "batch_id", "variety_id", "cycle_year", "last_year_actual", "reported_volume",
    "prior_agreed", "flags", "flags_zh", "ratio",
    cycle_year=("采购年度", "cycle year k the report is for"),
    flags=("异常标识", "`;`-separated flag codes: under_report, used_not_reported, renewal_below_prior, over_report"),
)

_KEYS = ["institution_code", "variety_id"]


def volume_audit(wh: Warehouse, batch_id: str, cycle_year: int, policy: Policy | None = None, *,
                 tables: Mapping[str, str] | None = None) -> ir.Table:
    """The volume audit of ``batch_id`` for cycle year ``cycle_year``; see COLUMNS.

    ``tables`` optionally maps input table names to the names they have in the warehouse.
    """
    policy = policy or load_policy()
    keep = 1.0 - float(policy.value("under_report_ratio"))
    multiple = float(policy.value("over_report_multiple"))
    names = dict(tables or {})
    t = {name: wh.table(names.get(name, name)) for name in INPUT_TABLES}
    k = int(cycle_year)

    b = t["batches"].filter(t["batches"].batch_id == batch_id)
    cal = b.select(cycle_start=add_years(b.start_date, k - 1))
    cal = cal.mutate(use_lo=add_years(cal.cycle_start, -1))

    v = t["varieties"].filter(t["varieties"].batch_id == batch_id).select("variety_id")
    p = t["products"].filter(t["products"].variety_id.notnull())
    p = p.select("product_code", "variety_id", "units_per_pack").join(v, "variety_id")
    d = t["deliveries"]
    d = d.filter(d.accepted_at.notnull() & d.accepted_quantity.notnull()).select(
        "order_line_id", "accepted_at", "accepted_quantity")
    o = t["orders"].select("order_line_id", "institution_code", "product_code")
    j = o.join(d, "order_line_id").join(p, "product_code")
    lines = j.select("institution_code", "variety_id", at=j.accepted_at,
                     volume=(j.accepted_quantity * j.units_per_pack).cast("float64"))

    r = t["volume_reports"]
    r = r.filter((r.batch_id == batch_id) & (r.cycle_year == k)).select(
        "institution_code", "variety_id", reported_volume=r.reported_volume.cast("float64"),
        reported_at=r.reported_at)
    a = t["agreements"]
    a = a.filter((a.batch_id == batch_id) & (a.cycle_year == k - 1)).group_by(_KEYS).agg(
        prior_agreed=a.agreed_volume.cast("float64").sum())

    # use in the 12 months before the start of k: rows of their own, and the actual of a missing report
    lc = lines.cross_join(cal)
    lc = lc.filter((lc.at >= lc.use_lo.cast("timestamp")) & (lc.at < lc.cycle_start.cast("timestamp")))
    use = lc.group_by(_KEYS).agg(use_before_start=lc.volume.sum())
    use = use.filter(use.use_before_start > 0)

    def key_cols(x: ir.Table) -> ir.Table:
        return x.select(**{c: x[c].cast(ibis.dtype("string")) for c in _KEYS})

    keys = key_cols(r).union(key_cols(use)).union(key_cols(a)).distinct()
    rows = keys.left_join(r, _KEYS).drop(*(f"{c}_right" for c in _KEYS))
    rows = rows.left_join(a, _KEYS).drop(*(f"{c}_right" for c in _KEYS))
    rows = rows.left_join(use, _KEYS).drop(*(f"{c}_right" for c in _KEYS))
    inst = t["institutions"]
    inst = inst.select(i_code=inst.institution_code.cast("string"),
                       encouraged=(inst.kind.isin(ENCOURAGED_KINDS) | ~inst.public.fill_null(True)).fill_null(False))
    rows = rows.left_join(inst, rows.institution_code == inst.i_code).drop("i_code")
    rows = rows.cross_join(cal)

    # last-year actual of the rows with a report: the 12 months before reported_at
    reported = rows.filter(rows.reported_at.notnull()).select(
        *_KEYS, hi=rows.reported_at, lo=add_years(rows.reported_at.date(), -1).cast("timestamp"))
    w = reported.join(lines, [reported.institution_code == lines.institution_code,
                              reported.variety_id == lines.variety_id,
                              lines.at >= reported.lo, lines.at < reported.hi])
    w = w.group_by(reported.institution_code, reported.variety_id).agg(report_actual=w.volume.sum())
    rows = rows.left_join(w, _KEYS).drop(*(f"{c}_right" for c in _KEYS))

    last = ibis.ifelse(rows.reported_at.isnull(), rows.use_before_start.fill_null(0.0),
                       rows.report_actual.fill_null(0.0)).cast("float64")
    rows = rows.mutate(last_year_actual=last)
    rep, last, prior = rows.reported_volume, rows.last_year_actual, rows.prior_agreed
    conds = {
        "under_report": (rep.notnull() & (rep < keep * last)).fill_null(False),
        "used_not_reported": ((last > 0) & (rep.isnull() | (rep == 0))
                              & (~rows.encouraged.fill_null(False) | prior.notnull())).fill_null(False),
        "renewal_below_prior": ((ibis.literal(k) >= 2) & rep.notnull() & prior.notnull()
                                & (rep < prior)).fill_null(False),
        "over_report": ((last > 0) & rep.notnull() & (rep > multiple * last)).fill_null(False),
    }

    def joined(labels: dict[str, str]) -> ir.StringValue:
        s = ibis.literal("")
        for code, cond in conds.items():
            s = s + ibis.ifelse(cond, ";" + labels[code], "")
        return s.substr(1)

    return rows.select(
        "institution_code",
        batch_id=ibis.literal(batch_id, "string"),
        variety_id=rows.variety_id,
        cycle_year=ibis.literal(k, "int64"),
        last_year_actual=last,
        reported_volume=rep,
        prior_agreed=prior,
        flags=joined({c: c for c in FLAGS}),
        flags_zh=joined({c: zh for c, (zh, _) in FLAGS.items()}),
        ratio=ibis.ifelse(rep.isnull(), ibis.null("float64"), ratio(rep, last)),
    )


MEASURES = (
    Measure(
        name="volume-audit", title_zh="报量审核", title_en="Volume audit",
        compute=lambda wh, a: volume_audit(wh, a.batch, a.year, a.policy),
        params=("batch", "year"), inputs=INPUT_TABLES, columns=COLUMNS,
        dims=Dims(institution="institution_code", variety="variety_id"),
        roles=("admin", "bureau", "auditor", "institution"), sort=("institution_code", "variety_id"),
        policy=("under_report_ratio", "over_report_multiple"), labels={"flags": FLAGS}, group="assessment",
        note_zh="报量偏低、用而不报、续签低于上年约定、报量偏高(报量远低于预测用量或低于下限见 jicai volume-forecast 报量助手)",
        note_en="volume reports against last year's use (reports far below the forecast or below the floor: "
                "jicai volume-forecast)",
        cli="audit-volume", doc=__doc__,
    ),
)
