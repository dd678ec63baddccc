"""Payment to suppliers (回款) and the offline share (线下采购占比).

Payment, per accepted order line of a product of a variety in scope, accepted in the cycle year through
the as-of date D (payment always follows acceptance, whatever the volume basis):

* line amount = accepted_quantity × pack_price;
* due date = last day of the month after the acceptance month (policy ``payment_due =
  "end_of_next_month"``; ``"end_of_month"`` = last day of the acceptance month);
* ``amount_due`` = Σ line amount of lines due on or before D;
* ``paid_by_due`` = Σ over those lines of min(line amount, payments with paid_at on or before the due
  date) — a payment on the due day is on time; overpayment of a line never covers another line;
* ``overdue_amount`` / ``overdue_lines`` = outstanding amount (the line amount rounded to the fen once,
  half up, − payments through D, ≥ 0: :func:`jicai.measures.purchases.outstanding_yuan`) and count of lines
  whose due date is before D and that are not fully paid by D;
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

KEYS = ["institution_code", "variety_id", "batch_id"]


def payments(summary: ir.Table) -> ir.Table:
    """amount_due, paid_by_due, overdue_amount, overdue_lines per (institution_code, variety_id, batch_id).

    ``summary`` is :func:`jicai.measures.purchases.summarize` of the accepted lines: the conditions
    (cycle year, due by D, past due at D) were applied on each line there.
    """
    return summary.group_by(KEYS).agg(
        amount_due=summary.due_amount.sum(),
        paid_by_due=summary.due_on_time.sum(),
        overdue_amount=summary.overdue_amount.sum(),
        overdue_lines=summary.overdue_lines.sum().cast("int64"),
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


def offline_of_lines(lines: ir.Table) -> ir.Table:
    """order_amount and offline_amount per (institution_code, variety_id, batch_id) from order lines through D
    that carry ``offline_amount`` (the compact facts' ordered lines, :func:`jicai.measures.facts.ordered_lines`)
    — the same sums as :func:`offline`."""
    in_cycle = lines.at >= lines.cycle_start.cast("timestamp")
    j = lines.select(*KEYS, amt=ibis.ifelse(in_cycle, lines.amount, 0.0),
                     off=ibis.ifelse(in_cycle, lines.offline_amount, 0.0))
    return j.group_by(KEYS).agg(order_amount=j.amt.sum(), offline_amount=j.off.sum())
