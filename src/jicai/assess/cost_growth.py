"""Cost growth (费用增长率, 000): an institution's purchases of the batch's varieties, year on year.

purchase_amount = Σ accepted_quantity × pack_price of every product of the batch's varieties (selected,
backup and non-selected alike) accepted by the institution in the assessed period [cycle_start, as_of];
prior_amount = the same in the period a year earlier (see :mod:`jicai.assess.period`: the twelve months
before the cycle year at year end, i.e. before the batch start for k = 1). cost_growth =
purchase_amount / prior_amount − 1, null (undefined) when nothing was bought the year before.
Each line's amount is snapped to the micro-yuan and the sums are rounded once, half up, to the fen
(:mod:`jicai.measures.exact`): integer sums, the same on every engine whatever its order of addition;
the growth is the ratio of the two fen sums.

On a warehouse with compact facts the amounts come from the accepted amounts kept at import
(:func:`jicai.measures.facts.accepted_between`), not from a join of a province's order lines and deliveries.

Always on acceptance (验收), whatever ``volume_basis``: the amount is what was received and owed. One
pass over the accepted order lines; both windows are constants, so they filter the lines directly.
"""

from __future__ import annotations

from datetime import timedelta

import ibis
import ibis.expr.types as ir

from jicai.assess.period import AssessmentPeriod
from jicai.measures.exact import fen_of_micro, micro
from jicai.measures.facts import accepted_between, open_facts
from jicai.store import Warehouse


def purchase_amounts(wh: Warehouse, period: AssessmentPeriod, source: str = "auto") -> ir.Table:
    """institution_code, purchase_fen, prior_fen (integer fen) for institutions that bought in either window.

    ``source`` as for the monitoring (:func:`jicai.measures.facts.open_facts`): the accepted amounts kept at
    import, by month where both windows cover the whole month and by day elsewhere; or the raw lines."""
    v = wh.table("varieties")
    v = v.filter(v.batch_id == period.batch_id).select("variety_id")
    p = wh.table("products")
    p = p.filter(p.variety_id.notnull()).select("product_code", "variety_id").join(v, "variety_id")
    current_from = ibis.literal(period.cycle_start)
    prior_to = ibis.literal(period.prior_end)
    f = open_facts(wh, source)
    if f is not None:
        # a fact row is a sum of lines of one day (or month): the amounts are sums of q × price, exact to
        # well below the micro-yuan the lines path snaps each line to, so both paths agree to the fen
        j = accepted_between(f, period.prior_start, period.as_of, [period.cycle_start, period.prior_end
                                                                   + timedelta(days=1)])
        j = j.join(p.select("product_code"), "product_code")
        amount, day = micro(j.amount), j.day
    else:
        d = wh.table("deliveries")
        lo = ibis.literal(period.prior_start).cast("timestamp")
        hi = ibis.literal(period.as_of + timedelta(days=1)).cast("timestamp")
        d = d.filter(d.accepted_at.notnull() & d.accepted_quantity.notnull()
                     & (d.accepted_at >= lo) & (d.accepted_at < hi))
        o = wh.table("orders").select("order_line_id", "institution_code", "product_code", "pack_price")
        j = o.join(d.select("order_line_id", "accepted_at", "accepted_quantity"), "order_line_id")
        j = j.join(p.select("product_code"), "product_code")
        amount, day = micro(j.accepted_quantity * j.pack_price), j.accepted_at.date()
    j = j.select("institution_code", cur=ibis.ifelse(day >= current_from, amount, 0),
                 pri=ibis.ifelse(day <= prior_to, amount, 0))
    g = j.group_by("institution_code").agg(cur=j.cur.sum(), pri=j.pri.sum())
    return g.select("institution_code", purchase_fen=fen_of_micro(g.cur), prior_fen=fen_of_micro(g.pri))


def growth(current: ir.NumericValue, prior: ir.NumericValue) -> ir.FloatingValue:
    """current / prior − 1 (amounts in fen), null when prior is 0 or null."""
    return ibis.ifelse(prior.fill_null(0) > 0, current.cast("float64") / prior.cast("float64") - 1.0,
                       ibis.null("float64"))
