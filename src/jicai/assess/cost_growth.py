"""Cost growth (费用增长率, 000): an institution's purchases of the batch's varieties, year on year.

purchase_amount = Σ accepted_quantity × pack_price of every product of the batch's varieties (selected,
backup and non-selected alike) accepted by the institution in the assessed period [cycle_start, as_of];
prior_amount = the same in the period a year earlier (see :mod:`jicai.assess.period`: the twelve months
before the cycle year at year end, i.e. before the batch start for k = 1). cost_growth =
purchase_amount / prior_amount − 1, null (undefined) when nothing was bought the year before.

Always on acceptance (验收), whatever ``volume_basis``: the amount is what was received and owed. One
pass over the accepted order lines; both windows are constants, so they filter the lines directly.
"""

from __future__ import annotations

from datetime import timedelta

import ibis
import ibis.expr.types as ir

from jicai.assess.period import AssessmentPeriod
from jicai.store import Warehouse


def purchase_amounts(wh: Warehouse, period: AssessmentPeriod) -> ir.Table:
    """institution_code, purchase_amount, prior_amount (yuan) for institutions that bought in either window."""
    v = wh.table("varieties")
    v = v.filter(v.batch_id == period.batch_id).select("variety_id")
    p = wh.table("products")
    p = p.filter(p.variety_id.notnull()).select("product_code", "variety_id").join(v, "variety_id")
    d = wh.table("deliveries")
    lo = ibis.literal(period.prior_start).cast("timestamp")
    hi = ibis.literal(period.as_of + timedelta(days=1)).cast("timestamp")
    d = d.filter(d.accepted_at.notnull() & d.accepted_quantity.notnull()
                 & (d.accepted_at >= lo) & (d.accepted_at < hi))
    o = wh.table("orders").select("order_line_id", "institution_code", "product_code", "pack_price")
    j = o.join(d.select("order_line_id", "accepted_at", "accepted_quantity"), "order_line_id")
    j = j.join(p.select("product_code"), "product_code")
    amount = (j.accepted_quantity * j.pack_price).cast("float64")
    current = j.accepted_at >= ibis.literal(period.cycle_start).cast("timestamp")
    prior = j.accepted_at < ibis.literal(period.prior_end + timedelta(days=1)).cast("timestamp")
    j = j.select("institution_code", cur=ibis.ifelse(current, amount, 0.0), pri=ibis.ifelse(prior, amount, 0.0))
    return j.group_by("institution_code").agg(purchase_amount=j.cur.sum(), prior_amount=j.pri.sum())


def growth(current: ir.FloatingValue, prior: ir.FloatingValue) -> ir.FloatingValue:
    """current / prior − 1, null when prior is 0 or null."""
    return ibis.ifelse(prior.fill_null(0.0) > 0, current / prior - 1.0, ibis.null("float64"))
