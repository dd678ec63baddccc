"""Payment to suppliers (回款) and the offline share (线下采购占比).

Payment, per accepted order line of a product of a variety in scope, accepted in the cycle year through
the as-of date D (payment always follows acceptance, whatever the volume basis):

* line amount = accepted_quantity × pack_price;
* due date = last day of the month after the acceptance month (policy ``payment_due =
  "end_of_next_month"``; ``"end_of_month"`` = last day of the acceptance month);
* ``amount_due`` = Σ line amount of lines due on or before D;
* ``paid_by_due`` = Σ over those lines of min(line amount, payments with paid_at on or before the due
  date) — a payment on the due day is on time; overpayment of a line never covers another line;
* ``overdue_amount`` / ``overdue_lines`` = outstanding amount (line amount − payments through D, ≥ 0)
  and count of lines whose due date is before D and that are not fully paid by D;
* ``payment_rate`` = paid_by_due / amount_due, null when nothing is due yet.
All products of the variety count (selected, backup and non-selected): the institution owes every
supplier. Lines accepted in an earlier cycle year belong to that year's rows.

Offline share: ``order_amount`` = Σ quantity × pack_price of all order lines of products of the
variety ordered in the cycle year through D (order date, whatever the volume basis; orders need not be
accepted); ``offline_amount`` = the same for channel ``offline``; ``offline_share`` = offline_amount /
order_amount, null when there are no orders.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.measures.cycles import day_after
from jicai.measures.purchases import due_next

KEYS = ["institution_code", "variety_id", "batch_id"]


def payments(daily_paid: ir.Table, scope_varieties: ir.Table, as_of: date, payment_due: str) -> ir.Table:
    """amount_due, paid_by_due, overdue_amount, overdue_lines per (institution_code, variety_id, batch_id).

    ``daily_paid`` is the daily sum of :func:`jicai.measures.purchases.accepted_lines` (amount, on_time,
    outstanding, open_line per acceptance day); the due date is a function of the day.
    """
    d = daily_paid.join(scope_varieties.select("variety_id", "cycle_start"), "variety_id")
    nxt = due_next(d.day, payment_due)
    counted = (d.day >= d.cycle_start) & (nxt <= ibis.literal(as_of) + ibis.interval(days=1))
    overdue = counted & (nxt <= ibis.literal(as_of))
    d = d.select(
        *KEYS,
        amount=ibis.ifelse(counted, d.amount, 0.0),
        on_time=ibis.ifelse(counted, d.on_time, 0.0),
        overdue_amt=ibis.ifelse(overdue, d.outstanding, 0.0),
        overdue_n=ibis.ifelse(overdue, d.open_line, 0),
    )
    return d.group_by(KEYS).agg(
        amount_due=d.amount.sum(),
        paid_by_due=d.on_time.sum(),
        overdue_amount=d.overdue_amt.sum(),
        overdue_lines=d.overdue_n.sum().cast("int64"),
    )


def offline(orders: ir.Table, scope: ir.Table, as_of: date) -> ir.Table:
    """order_amount and offline_amount per (institution_code, variety_id, batch_id)."""
    o = orders.select("institution_code", "product_code", "quantity", "pack_price", "ordered_at", "channel")
    s = scope.select("product_code", "variety_id", "batch_id", "cycle_start")
    o = o.filter(o.ordered_at < day_after(as_of))
    j = o.join(s, "product_code")
    in_cycle = j.ordered_at >= j.cycle_start.cast("timestamp")  # inside the sums (see purchases.py)
    amt = ibis.ifelse(in_cycle, j.quantity * j.pack_price, 0.0)
    j = j.select(*KEYS, amt=amt, off=ibis.ifelse(j.channel == "offline", amt, 0.0))
    return j.group_by(KEYS).agg(order_amount=j.amt.sum(), offline_amount=j.off.sum())
