"""Slow adopters (中选产品使用进度慢): months from a batch start until the selected share reached the policy's level.

For every institution with an agreement in a batch that has started by the as-of date D (any cycle year), per
calendar month of execution (the start month is month 1, D's month the last): the selected share = selected
/ (selected + counted non-selected) volume of the month — one minus the monitoring's non-selected share
(:mod:`jicai.measures.progress`, its classes and exclusions, agreed varieties of the batch only). The level
is ``1 − nonselected_share_max``: the share at which non-selected use no longer exceeds the maximum
(exactly the level passes, as exactly the maximum is not 非中选超量).

``months_to_pass`` = the month of execution in which the share first reached the level (1 = already in the
start month); null for an institution that never did by D — a month without counted purchases does not pass.
Ranked within each batch, slowest first: those that never passed share rank 1, then by months_to_pass,
most first; ties share a rank. Everything is an Ibis
expression (no Python step): the rows are institutions × batches.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.analytics.monthly import INPUT_TABLES, monthly_classes, started_batches
from jicai.analytics.monthly import POLICY as MONTHLY_POLICY
from jicai.contract.columns import cols
from jicai.measures.progress import ratio
from jicai.measures.registry import Dims, Measure
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

POLICY = ("nonselected_share_max", *MONTHLY_POLICY)

COLUMNS = cols(
    "batch_id", "batch_name", "batch_start", "institution_code", "institution_name", "region_code", "level",
    "required_selected_share", "passed", "months_to_pass", "passed_month", "passed_share", "execution_months",
    "latest_month", "latest_selected_share", "rank", "rule",
    passed=("已达标", "the selected share reached the required level in some month of execution by the as-of date"),
    rank=("慢采用排名", "rank within the batch, slowest first: never passed (rank 1), then most months to pass"),
    rule=("说明", "months to pass or never passed, with the share and the policy level"),
)
NAMES = tuple(c.name for c in COLUMNS)


def _month_index(month: ir.DateValue, start: ir.DateValue) -> ir.IntegerValue:
    """Month of execution of ``month`` (a month's 1st): the start's month is 1."""
    return ((month.year() - start.year()) * 12 + month.month() - start.month() + 1).cast("int64")


def _pct(x: ir.NumericValue) -> ir.StringValue:
    """A ratio as '45.0%' text (one decimal, rounded half away from zero on every engine)."""
    tenths = (x * 1000.0).round().cast("int64")
    return (tenths // 10).cast("string") + "." + (tenths % 10).cast("string") + "%"


def slow_adopters(wh: Warehouse, as_of: date, policy: Policy | None = None) -> ir.Table:
    """One row per institution × started batch with an agreement; see COLUMNS."""
    policy = policy or load_policy()
    level = 1.0 - float(policy.value("nonselected_share_max", on=as_of))
    b = started_batches(wh, as_of)
    b = b.select("batch_id", batch_name=b.name, batch_start=b.start_date)
    ag = wh.table("agreements")
    who = ag.select("institution_code", "batch_id").distinct().join(b, "batch_id")

    m = monthly_classes(wh, as_of, policy)
    m = m.mutate(share=ratio(m.selected_volume, m.selected_volume + m.nonselected_counted_volume))
    m = m.filter(m.share.notnull())
    keys = ["institution_code", "batch_id"]
    first = m.filter(m.share >= level).group_by(keys).agg(passed_month_first=m.month_first.min())
    passed = m.join(first, [*keys, m.month_first == first.passed_month_first])
    passed = passed.select(*keys, passed_month_first=passed.month_first, passed_share=passed.share)
    latest = m.group_by(keys).agg(latest_month_first=m.month_first.max())
    latest = m.join(latest, [*keys, m.month_first == latest.latest_month_first])
    latest = latest.select(*keys, latest_month_first=latest.month_first, latest_selected_share=latest.share)

    r = who.left_join(passed, keys).drop("institution_code_right", "batch_id_right")
    r = r.left_join(latest, keys).drop("institution_code_right", "batch_id_right")
    i = wh.table("institutions")
    i = i.select("institution_code", institution_name=i.name, region_code=i.region_code, level=i.level.cast("int64"))
    r = r.left_join(i, "institution_code").drop("institution_code_right")
    as_of_month = ibis.literal(as_of.replace(day=1))
    r = r.mutate(
        # a text cast to double: PostgreSQL types a bare 0.5 as numeric, which Arrow will not read as a double
        required_selected_share=ibis.literal(repr(level)).cast("float64"),
        passed=r.passed_month_first.notnull(),
        months_to_pass=ibis.ifelse(r.passed_month_first.notnull(), _month_index(r.passed_month_first, r.batch_start),
                                   ibis.null("int64")),
        passed_month=r.passed_month_first.strftime("%Y-%m"),
        execution_months=_month_index(as_of_month, r.batch_start),
        latest_month=r.latest_month_first.strftime("%Y-%m"),
    )
    # slowest first: never passed, then most months to pass
    never = ibis.ifelse(r.passed, 1, 0)
    order = [never, ibis.desc(r.months_to_pass.fill_null(0))]
    r = r.mutate(rank=(ibis.rank().over(ibis.window(group_by="batch_id", order_by=order)) + 1).cast("int64"))
    need = _pct(r.required_selected_share)
    rule = ibis.ifelse(
        r.passed,
        "执行第 " + r.months_to_pass.cast("string") + " 个月(" + r.passed_month + ")中选占比 "
        + _pct(r.passed_share) + " 首次达到达标线 " + need + "(1 − 非中选占比上限)",
        ibis.ifelse(r.latest_selected_share.notnull(),
                    "执行 " + r.execution_months.cast("string") + " 个月仍未达到达标线 " + need + ",最近 "
                    + r.latest_month + " 中选占比 " + _pct(r.latest_selected_share),
                    "执行 " + r.execution_months.cast("string") + " 个月仍未达到达标线 " + need + ",约定品种无计入占比的采购"),
    )
    return r.mutate(rule=rule).select(*NAMES)


MEASURES = (
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="slow-adopters", title_zh="中选产品使用进度慢的机构", title_en="Slow adopters of the selected products",
        compute=lambda wh, a: slow_adopters(wh, a.as_of, a.policy), params=("as_of",), inputs=INPUT_TABLES,
        columns=COLUMNS, dims=Dims(institution="institution_code", region="region_code"),
        roles=("admin", "bureau", "auditor", "institution"), sort=("batch_id", "rank", "institution_code"),
        policy=POLICY,
        note_zh="批次执行后中选产品月度占比首次达到(1 − 非中选占比上限)所用月数,最慢者在前;从未达到者排第 1",
        note_en="Months from a batch start until the monthly selected share first reached 1 − nonselected_share_max; "
                "slowest first, those that never did ranked 1",
        doc=__doc__,
    ),
)
