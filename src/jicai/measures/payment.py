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

from jicai.measures.cycles import day_after, first_of_month

KEYS = ["institution_code", "variety_id", "batch_id"]
DUE_MONTHS = {"end_of_month": 0, "end_of_next_month": 1}


def payments(orders: ir.Table, deliveries: ir.Table, payments_: ir.Table, scope: ir.Table, as_of: date,
             payment_due: str) -> ir.Table:
    """amount_due, paid_by_due, overdue_amount, overdue_lines per (institution_code, variety_id, batch_id)."""
    offset = DUE_MONTHS[payment_due]
    o = orders.select("order_line_id", "institution_code", "product_code", "pack_price")
    d = deliveries.select("order_line_id", "accepted_at", "accepted_quantity")
    s = scope.select("product_code", "variety_id", "batch_id", "cycle_start")
    lines = o.join(d, "order_line_id").join(s, "product_code")
    lines = lines.filter(
        lines.accepted_at.notnull()
        & lines.accepted_quantity.notnull()
        & (lines.accepted_at >= lines.cycle_start.cast("timestamp"))
        & (lines.accepted_at < day_after(as_of))
    )
    acc = lines.accepted_at
    # first day after the due date: due ≤ D ⇔ due_next ≤ D + 1 day; due < D ⇔ due_next ≤ D
    due_next = first_of_month(acc.year(), acc.month() - 1 + offset + 1)
    lines = lines.select(
        "order_line_id", *KEYS, amount=lines.accepted_quantity * lines.pack_price, due_next=due_next
    )
    lines = lines.filter(lines.due_next <= ibis.literal(as_of) + ibis.interval(days=1))
    p = payments_.select("order_line_id", pay=payments_.amount, paid_at=payments_.paid_at)
    pj = p.join(lines.select("order_line_id", "due_next"), "order_line_id")
    paid = pj.group_by("order_line_id").agg(
        paid_by_due=ibis.ifelse(pj.paid_at < pj.due_next.cast("timestamp"), pj.pay, 0.0).sum(),
        paid_to_date=ibis.ifelse(pj.paid_at < day_after(as_of), pj.pay, 0.0).sum(),
    )
    j = lines.left_join(paid, "order_line_id").drop("order_line_id_right")
    outstanding = ibis.greatest(0.0, j.amount - j.paid_to_date.fill_null(0.0))
    overdue = (j.due_next <= ibis.literal(as_of)) & (outstanding > 0)
    j = j.select(
        *KEYS,
        amount=j.amount,
        on_time=ibis.least(j.amount, j.paid_by_due.fill_null(0.0)),
        overdue_amt=ibis.ifelse(overdue, outstanding, 0.0),
        overdue_n=ibis.ifelse(overdue, 1, 0),
    )
    return j.group_by(KEYS).agg(
        amount_due=j.amount.sum(),
        paid_by_due=j.on_time.sum(),
        overdue_amount=j.overdue_amt.sum(),
        overdue_lines=j.overdue_n.sum().cast("int64"),
    )


def offline(orders: ir.Table, scope: ir.Table, as_of: date) -> ir.Table:
    """order_amount and offline_amount per (institution_code, variety_id, batch_id)."""
    o = orders.select("institution_code", "product_code", "quantity", "pack_price", "ordered_at", "channel")
    s = scope.select("product_code", "variety_id", "batch_id", "cycle_start")
    j = o.join(s, "product_code")
    j = j.filter((j.ordered_at >= j.cycle_start.cast("timestamp")) & (j.ordered_at < day_after(as_of)))
    amt = j.quantity * j.pack_price
    j = j.select(*KEYS, amt=amt, off=ibis.ifelse(j.channel == "offline", amt, 0.0))
    return j.group_by(KEYS).agg(order_amount=j.amt.sum(), offline_amount=j.off.sum())
