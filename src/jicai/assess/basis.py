"""The per-variety basis of an assessment: the monitoring rows of cycle year k, with the exemption flag.

The assessment does not count purchases itself: it takes :func:`jicai.measures.monitor.monitor` as of
the assessment date (one row per institution × variety with an agreement), which already applies
backup substitution inside verified supply-problem periods, and leaves non-selected volume in those
periods and in exempt special-variety periods out of the non-selected share.

``exempt`` (豁免) marks a special variety (``varieties.special`` in shortage / emergency / seasonal /
demand_change) whose special period [special_start, special_end] (blank = open) overlaps the assessed
period [cycle_start, as_of] — the whole cycle year at year end — when ``special_treatment = "exclude"``.
An exempt variety is not judged on completion and does not enter the completion score item (001:
特殊品种优化考核,不搞“一刀切”); its non-selected share is still judged, on the volume the monitoring
counts (outside the special period). ``baseline_unit_price`` (集采前加权平均价) comes along for the
retention budget.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from jicai.assess.period import AssessmentPeriod
from jicai.measures.classes import SPECIAL_KINDS
from jicai.measures.monitor import monitor
from jicai.policy import Policy
from jicai.store import Warehouse


def variety_rows(wh: Warehouse, period: AssessmentPeriod, policy: Policy,
                 monitoring: ir.Table | None = None) -> ir.Table:
    """Monitoring rows of the period (MONITOR_COLUMNS) + variety_label, baseline_unit_price, exempt.

    ``monitoring``: the monitoring of every batch as of ``period.as_of`` (``monitor(wh, period.as_of)``), when
    the caller has it already — a document reading it for several purposes computes it once; its rows of the
    batch are this batch's monitoring (a product belongs to one variety, a variety to one batch)."""
    if monitoring is None:
        m = monitor(wh, period.as_of, period.batch_id, policy)
    else:
        m = monitoring.filter(monitoring.batch_id == period.batch_id)
    m = m.filter(m.cycle_year == period.cycle_year)
    v = wh.table("varieties")
    v = v.filter(v.batch_id == period.batch_id).select(
        v_variety="variety_id", baseline_unit_price=v.baseline_unit_price.cast("float64"),
        special=v.special, special_start=v.special_start, special_end=v.special_end)
    j = m.left_join(v, m.variety_id == v.v_variety)
    if policy.value("special_treatment", on=period.as_of) == "exclude":
        lo, hi = ibis.literal(period.cycle_start), ibis.literal(period.as_of)
        exempt = (j.special.isin(SPECIAL_KINDS)
                  & (j.special_start.isnull() | (j.special_start <= hi))
                  & (j.special_end.isnull() | (j.special_end >= lo))).fill_null(False)
    else:
        exempt = ibis.literal(False)
    return j.mutate(exempt=exempt, variety_label=j.variety_name.fill_null(j.variety_id)).drop(
        "v_variety", "special", "special_start", "special_end")
