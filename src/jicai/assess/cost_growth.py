"""Cost growth (费用增长率, 000): an institution's purchases of the batch's varieties, year on year.

purchase_amount = Σ accepted_quantity × pack_price of every product of the batch's varieties (selected,
backup and non-selected alike) accepted by the institution in the assessed period [cycle_start, as_of];
prior_amount = the same in the period a year earlier (see :mod:`jicai.assess.period`: the twelve months
before the cycle year at year end, i.e. before the batch start for k = 1). cost_growth =
purchase_amount / prior_amount − 1, null (undefined) when nothing was bought the year before.
Each line's amount is snapped to the micro-yuan and the sums are rounded once, half up, to the fen
(:mod:`jicai.measures.exact`): integer sums, the same on every engine whatever its order of addition;
the growth is the ratio of the two fen sums.

Always on acceptance (验收), whatever ``volume_basis``: the amount is what was received and owed. One
pass over the accepted order lines; both windows are constants, so they filter the lines directly.
"""

from __future__ import annotations

from datetime import timedelta

import ibis
import ibis.expr.types as ir

from jicai.assess.period import AssessmentPeriod
from jicai.measures.exact import fen_of_micro, micro
from jicai.store import Warehouse


def purchase_amounts(wh: Warehouse, period: AssessmentPeriod) -> ir.Table:
    """institution_code, purchase_fen, prior_fen (integer fen) for institutions that bought in either window."""
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
    amount = micro(j.accepted_quantity * j.pack_price)
    current = j.accepted_at >= ibis.literal(period.cycle_start).cast("timestamp")
    prior = j.accepted_at < ibis.literal(period.prior_end + timedelta(days=1)).cast("timestamp")
    j = j.select("institution_code", cur=ibis.ifelse(current, amount, 0), pri=ibis.ifelse(prior, amount, 0))
    g = j.group_by("institution_code").agg(cur=j.cur.sum(), pri=j.pri.sum())
    return g.select("institution_code", purchase_fen=fen_of_micro(g.cur), prior_fen=fen_of_micro(g.pri))


def growth(current: ir.NumericValue, prior: ir.NumericValue) -> ir.FloatingValue:
    """current / prior − 1 (amounts in fen), null when prior is 0 or null."""
    return ibis.ifelse(prior.fill_null(0) > 0, current.cast("float64") / prior.cast("float64") - 1.0,
                       ibis.null("float64"))
