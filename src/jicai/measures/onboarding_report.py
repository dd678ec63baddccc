"""The 未进院 list (进院排查): agreements whose selected product has not been bought, from month 3 of execution.

001 国家医保局 "各批次集采执行第3个月起开展排查梳理": from the first day of month ``onboarding_from_month``
(3) of a batch's execution — D ≥ batch start + 2 months — an (institution, variety) with an agreement
in the cycle year containing D and no accepted purchase of a primary selected product of its region
since the batch start is not onboarded. The flag is the monitoring's ``not_onboarded``
(:mod:`jicai.measures.onboarding`); this module only lists and counts those rows, it computes nothing
again. Before month 3 a batch has no rows here, and its agreements are left out of the summary too (an
agreement cannot fail a check that has not begun).

Each row shows what the hospital bought instead: ``nonselected_volume`` (non-selected products,
including backups outside a verified supply-problem period — buying the non-selected product instead of
onboarding the winner is the worst case) and ``backup_volume`` (a backup bought inside a verified
supply-problem period counts as selected for completion but does not onboard the selected product).
Volumes are those of the cycle year through D, as in the monitoring.

>>> from jicai.store import connect
>>> from jicai.contract.arrow import empty
>>> from jicai.measures.monitor import INPUT_TABLES
>>> from datetime import date
>>> wh = connect("duckdb://")
>>> for name in INPUT_TABLES: _ = wh.write_table(name, empty(name))
>>> onboarding_report(wh, date(2024, 6, 30)).to_pyarrow().num_rows
0
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.contract.columns import col, cols
from jicai.measures.cycles import add_months
from jicai.measures.monitor import BUREAU_ROLES, INPUT_TABLES, POLICY, monitor, rollup
from jicai.measures.progress import ratio
from jicai.measures.registry import Dims, Measure
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

# the list's columns, in order (labels from the vocabulary, narrowed where the list means something narrower)
COLUMNS = cols(
    "institution_code", "institution_name", "region_code", "level", "batch_id", "variety_id", "variety_name",
    "cycle_year", "batch_start", "months_since_start", "agreed_volume", "backup_volume", "nonselected_volume",
    "nonselected_amount",
    cycle_year=("采购年度", "cycle year k containing the as-of date"),
    backup_volume=("备供替代量", "backup volume inside verified supply-problem periods (counts as selected, "
                                "does not onboard)"),
    nonselected_volume=("非中选产品采购量", "non-selected volume bought instead in the cycle year (incl. backup "
                                        "outside periods)"),
    nonselected_amount=("非中选产品采购金额", "amount of that non-selected volume (yuan)"),
)

# the summary per city and batch; not_onboarded counts here the flag of the list's rows
SUMMARY_COLUMNS = (
    *cols("city_code", "batch_id", "agreements"),
    col("not_onboarded", "未进院数", "agreements not onboarded", kind="int"),
    col("not_onboarded_rate"),
)

# when each batch's check begins (what the command says when the list is empty)
SCHEDULE_COLUMNS = cols("batch_id", "batch_start", "check_from", "checked")


def months_since(start: ir.DateValue, as_of: date) -> ir.IntegerValue:
    """Whole months from ``start`` to ``as_of``: the largest n with add_months(start, n) ≤ as_of (≥ 0)."""
    d = ibis.literal(as_of)
    n = (as_of.year - start.year()) * 12 + (as_of.month - start.month())
    n = ibis.ifelse(add_months(start, n) > d, n - 1, n)
    return ibis.greatest(n, 0).cast("int64")


def onboarding_rows(wh: Warehouse, as_of: date, batch_id: str | None = None,
                    policy: Policy | None = None) -> ir.Table:
    """The monitoring rows of the batches whose onboarding check has begun on ``as_of``, with
    batch_start and months_since_start (the base of the list and of the summary)."""
    policy = policy or load_policy()
    from_month = int(policy.value("onboarding_from_month", on=as_of))
    m = monitor(wh, as_of, batch_id, policy)
    b = wh.table("batches").select("batch_id", batch_start=wh.table("batches").start_date)
    m = m.join(b, "batch_id")
    m = m.filter(ibis.literal(as_of) >= add_months(m.batch_start, from_month - 1))
    return m.mutate(months_since_start=months_since(m.batch_start, as_of))


def onboarding_report(wh: Warehouse, as_of: date, batch_id: str | None = None,
                      policy: Policy | None = None) -> ir.Table:
    """The 未进院 list as of ``as_of`` (inclusive); see COLUMNS."""
    m = onboarding_rows(wh, as_of, batch_id, policy)
    return m.filter(m.not_onboarded).select(*(c.name for c in COLUMNS))


def onboarding_summary(rows: ir.Table) -> ir.Table:
    """Agreements, not onboarded and the rate per city and batch, from :func:`onboarding_rows`."""
    g = rollup(rows, ["city_code", "batch_id"])
    return g.select("city_code", "batch_id", agreements=g.rows, not_onboarded=g.not_onboarded_rows,
                    not_onboarded_rate=ratio(g.not_onboarded_rows, g.rows))


def onboarding_by_city(wh: Warehouse, as_of: date, batch_id: str | None = None,
                       policy: Policy | None = None) -> ir.Table:
    """:func:`onboarding_summary` of :func:`onboarding_rows` (one call for the CLI and the scenario files)."""
    return onboarding_summary(onboarding_rows(wh, as_of, batch_id, policy))


def onboarding_schedule(wh: Warehouse, as_of: date, batch_id: str | None = None,
                        policy: Policy | None = None) -> ir.Table:
    """Per batch: batch_start, check_from (first day of month ``onboarding_from_month``) and whether the
    check has begun on ``as_of`` — what the command says when the list is empty."""
    policy = policy or load_policy()
    from_month = int(policy.value("onboarding_from_month", on=as_of))
    b = wh.table("batches")
    if batch_id is not None:
        b = b.filter(b.batch_id == batch_id)
    b = b.select("batch_id", batch_start=b.start_date, check_from=add_months(b.start_date, from_month - 1))
    return b.mutate(checked=ibis.literal(as_of) >= b.check_from)


MEASURES = (
    Measure(
        name="onboarding", title_zh="未进院排查", title_en="Not onboarded",
        compute=lambda wh, a: onboarding_report(wh, a.as_of, a.batch, a.policy),
        params=("as_of",), inputs=INPUT_TABLES, columns=COLUMNS,
        dims=Dims(institution="institution_code", region="region_code", variety="variety_id"),
        sort=("institution_code", "variety_id"), policy=POLICY,
        totals=("agreed_volume", "backup_volume", "nonselected_volume", "nonselected_amount"),
        doc=__doc__,
    ),
    # the summary and the schedule are lists of the `jicai onboarding` report, not pages of their own
    Measure(
        name="onboarding-by-city", title_zh="未进院排查(按地市汇总)", title_en="Not onboarded by city",
        compute=lambda wh, a: onboarding_by_city(wh, a.as_of, a.batch, a.policy),
        params=("as_of",), inputs=INPUT_TABLES, columns=SUMMARY_COLUMNS, dims=Dims(region="city_code"),
        roles=BUREAU_ROLES, sort=("batch_id", "city_code"), policy=POLICY, totals=("agreements", "not_onboarded"),
        note_zh="仅含已到排查期的批次;未进院率 = 未进院数 / 约定品种数",
        note_en="batches in their check period only; rate = not onboarded / agreements",
        web=False, command=False, doc=__doc__,
    ),
    Measure(
        name="onboarding-schedule", title_zh="未进院排查时间", title_en="Onboarding check schedule",
        compute=lambda wh, a: onboarding_schedule(wh, a.as_of, a.batch, a.policy),
        params=("as_of",), inputs=("batches",), columns=SCHEDULE_COLUMNS, dims=Dims(), roles=BUREAU_ROLES,
        sort=("batch_id",), policy=("onboarding_from_month",), web=False, command=False, doc=__doc__,
    ),
)
