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
    """amount_due, paid_by_due, overdue_amount, overdue_lines per (institution_code, variety_id, batch_id).

    Three joins of big tables, each once: payments with their line's acceptance (to know the due date,
    then summed per line), order lines with their acceptance, and the two; the lines are then summed per
    (institution, variety, due date) before the due-date rules run on that small table.
    """
    offset = DUE_MONTHS[payment_due]

    def due_next_of(acc: ir.TimestampValue) -> ir.DateValue:
        # first day after the due date: due ≤ D ⇔ due_next ≤ D + 1 day; due < D ⇔ due_next ≤ D
        return first_of_month(acc.year(), acc.month() - 1 + offset + 1)

    d = deliveries.filter(
        deliveries.accepted_at.notnull()
        & deliveries.accepted_quantity.notnull()
        & (deliveries.accepted_at < day_after(as_of))
    ).select("order_line_id", "accepted_at", "accepted_quantity")
    p = payments_.select("order_line_id", pay=payments_.amount, paid_at=payments_.paid_at)
    pj = p.join(d.select("order_line_id", "accepted_at"), "order_line_id")
    pj = pj.mutate(due_next=due_next_of(pj.accepted_at))
    paid = pj.group_by("order_line_id").agg(
        paid_by_due=ibis.ifelse(pj.paid_at < pj.due_next.cast("timestamp"), pj.pay, 0.0).sum(),
        paid_to_date=ibis.ifelse(pj.paid_at < day_after(as_of), pj.pay, 0.0).sum(),
    )
    o = orders.select("order_line_id", "institution_code", "product_code", "pack_price")
    s = scope.select("product_code", "variety_id", "batch_id", "cycle_start")
    lines = o.join(d, "order_line_id").join(s, "product_code")
    lines = lines.left_join(paid, "order_line_id").drop("order_line_id_right")
    # the cycle-start bound is a condition inside the sums, not a filter (see purchases.py)
    in_cycle = lines.accepted_at >= lines.cycle_start.cast("timestamp")
    amount = lines.accepted_quantity * lines.pack_price
    outstanding = ibis.greatest(0.0, amount - lines.paid_to_date.fill_null(0.0))
    lines = lines.select(
        *KEYS,
        due_next=due_next_of(lines.accepted_at),
        amount=ibis.ifelse(in_cycle, amount, 0.0),
        on_time=ibis.ifelse(in_cycle, ibis.least(amount, lines.paid_by_due.fill_null(0.0)), 0.0),
        outstanding=ibis.ifelse(in_cycle, outstanding, 0.0),
        open_line=ibis.ifelse(in_cycle & (outstanding > 0), 1, 0),
    )
    by_due = lines.group_by([*KEYS, "due_next"]).agg(
        amount=lines.amount.sum(), on_time=lines.on_time.sum(), outstanding=lines.outstanding.sum(),
        open_lines=lines.open_line.sum(),
    )
    by_due = by_due.filter(by_due.due_next <= ibis.literal(as_of) + ibis.interval(days=1))
    overdue = by_due.due_next <= ibis.literal(as_of)
    return by_due.group_by(KEYS).agg(
        amount_due=by_due.amount.sum(),
        paid_by_due=by_due.on_time.sum(),
        overdue_amount=ibis.ifelse(overdue, by_due.outstanding, 0.0).sum(),
        overdue_lines=ibis.ifelse(overdue, by_due.open_lines, 0).sum().cast("int64"),
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
