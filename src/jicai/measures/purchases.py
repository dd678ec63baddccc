"""Order lines on the policy's volume basis, with their payment status, summed per (institution, product, day).

``volume_basis = "accepted"`` (default): a line counts on the date of ``deliveries.accepted_at`` with
``accepted_quantity × units_per_pack`` minimum units and ``accepted_quantity × pack_price`` yuan; lines
not (yet) accepted, or accepted after the as-of date, do not count. ``"ordered"``: ``quantity`` on the
date of ``ordered_at``.

Payment always follows acceptance (see payment.py), so on the accepted basis one stream of lines serves
both volumes and payments: each accepted line carries its capped on-time payment and its outstanding
amount, and the payment sums (due by D, overdue at D) are conditional sums on the line itself (the due
date is a function of the acceptance day and D a constant).

:func:`summarize` aggregates the lines in one pass straight to (institution, product, variety, batch,
in_cycle, since_start, in_special, sp_day): the date tests against the batch calendar and the special
period are evaluated on the line (the scope travels with it), so the result has a handful of rows per
(institution, product) instead of one per day. Only lines of an (institution, variety) pair with a
verified supply-problem period keep their day (``sp_day``; null for everyone else), found by a small
equality join with the distinct pairs; the day is tested against the (few) periods afterwards.

Only the constant upper bound (the as-of date) filters lines here. The lower bounds (batch start,
cycle start) come from the scope table and are flags inside the select, never filters: as a filter,
DuckDB's optimizer may turn "accepted_at >= cycle_start" into a nested-loop join of the order lines
with the scope (10^7 × 35 rows), 30× slower than the whole monitoring should be.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.measures.classes import in_special_period
from jicai.measures.cycles import day_after, first_of_month
from jicai.measures.exact import fen, yuan

LINE_KEYS = ["institution_code", "product_code", "variety_id", "batch_id"]
FLAG_KEYS = [*LINE_KEYS, "in_cycle", "since_start", "in_special", "sp_day"]
SCOPE_COLUMNS = ["product_code", "variety_id", "batch_id", "units_per_pack", "batch_start", "cycle_start",
                 "special", "special_start", "special_end"]
DUE_MONTHS = {"end_of_month": 0, "end_of_next_month": 1}


def scope_products(varieties: ir.Table, products: ir.Table, calendar: ir.Table, batch_id: str | None) -> ir.Table:
    """Products of the VBP varieties in scope with their batch calendar and special period (small)."""
    v = varieties if batch_id is None else varieties.filter(varieties.batch_id == batch_id)
    v = v.select("variety_id", "batch_id", "special", "special_start", "special_end")
    v = v.join(calendar, "batch_id")
    p = products.filter(products.variety_id.notnull()).select("product_code", "variety_id", "units_per_pack")
    return p.join(v, "variety_id")


def due_next(day: ir.DateValue | ir.TimestampValue, payment_due: str) -> ir.DateValue:
    """The first day after the payment due date of a line accepted on ``day``.

    due ≤ D ⇔ due_next ≤ D + 1 day; due < D ⇔ due_next ≤ D.
    """
    return first_of_month(day.year(), day.month() - 1 + DUE_MONTHS[payment_due] + 1)


def outstanding_yuan(amount: ir.NumericValue, paid: ir.NumericValue) -> ir.FloatingValue:
    """What a line still owes, in yuan holding whole fen: max(0, due − paid), where due is the line amount
    (packs × a pack price of up to 4 decimals) rounded to the fen **once, half up** (四舍五入,
    :func:`jicai.measures.exact.fen`) and paid is the sum of its payments, also in fen.

    Why one rounding and why half up: payments are made in fen, so what a hospital owes for a line is a whole
    number of fen — the amount of the supplier's invoice, rounded 四舍五入 as Chinese accounts are and as jicai
    rounds every amount (measures/exact.py) — and a line paid that amount is settled: 3 packs × 12.3456 =
    37.0368 is due as 37.04; paid 37.04 it is settled, paid 37.03 one fen is overdue. Rounding each line,
    not the sum of lines, keeps sub-fen digits from adding up across lines to a debt nobody invoiced;
    comparing fen, not floats, makes the outstanding amount an exact number of fen on every engine. With
    payments in whole fen, a line is open exactly when line amount − paid ≥ half a fen
    (:func:`jicai.measures.exact.at_least_one_fen`), and what it owes is whole fen.
    """
    rest = fen(amount) - fen(paid)
    return yuan(ibis.greatest(rest, 0))


def accepted_lines(orders: ir.Table, deliveries: ir.Table, payments: ir.Table, scope: ir.Table, as_of: date,
                   payment_due: str) -> ir.Table:
    """Accepted order lines of products in scope through D, with ``on_time`` and ``outstanding`` (yuan).

    on_time = min(line amount, payments with paid_at before due_next); outstanding =
    :func:`outstanding_yuan` of the line amount and its payments through D. Payments are summed per line
    first (a line's overpayment never covers another).
    """
    d = deliveries.filter(
        deliveries.accepted_at.notnull()
        & deliveries.accepted_quantity.notnull()
        & (deliveries.accepted_at < day_after(as_of))
    ).select("order_line_id", "accepted_at", "accepted_quantity")
    p = payments.select("order_line_id", pay=payments.amount, paid_at=payments.paid_at)
    pj = p.join(d.select("order_line_id", "accepted_at"), "order_line_id")
    on_time_before = due_next(pj.accepted_at, payment_due).cast("timestamp")
    paid = pj.group_by("order_line_id").agg(
        paid_by_due=ibis.ifelse(pj.paid_at < on_time_before, pj.pay, 0.0).sum(),
        paid_to_date=ibis.ifelse(pj.paid_at < day_after(as_of), pj.pay, 0.0).sum(),
    )
    o = orders.select("order_line_id", "institution_code", "product_code", "pack_price")
    s = scope.select(*SCOPE_COLUMNS)
    j = o.join(d, "order_line_id").join(s, "product_code")
    j = j.left_join(paid, "order_line_id").drop("order_line_id_right")
    amount = j.accepted_quantity * j.pack_price
    outstanding = outstanding_yuan(amount, j.paid_to_date.fill_null(0.0))
    return j.select(
        *SCOPE_COLUMNS[1:], "institution_code", "product_code",
        at=j.accepted_at,
        volume=j.accepted_quantity * j.units_per_pack,
        amount=amount,
        on_time=ibis.least(amount, j.paid_by_due.fill_null(0.0)),
        outstanding=outstanding,
        open_line=ibis.ifelse(outstanding > 0, 1, 0),
    )


def ordered_lines(orders: ir.Table, scope: ir.Table, as_of: date) -> ir.Table:
    """Order lines of products in scope ordered through D (volume basis ``"ordered"``)."""
    o = orders.filter(orders.ordered_at < day_after(as_of))
    s = scope.select(*SCOPE_COLUMNS)
    j = o.join(s, "product_code")
    return j.select(*SCOPE_COLUMNS[1:], "institution_code", "product_code", at=j.ordered_at,
                    volume=j.quantity * j.units_per_pack, amount=j.quantity * j.pack_price)


def summarize(lines: ir.Table, sp_pairs: ir.Table, as_of: date, payment_due: str,
              extra_keys: Sequence[str] = ()) -> ir.Table:
    """Sum ``lines`` per FLAG_KEYS in one pass (see the module docstring).

    ``sp_pairs``: distinct (institution_code, variety_id) with a supply-problem period. Returns volume and
    amount; for accepted lines (with on_time) also due_amount, due_on_time, overdue_amount, overdue_lines:
    lines of the cycle year due on or before D, and those past due at D. ``extra_keys``: columns of
    ``lines`` kept as further grouping keys (the prepayment ledger's month), so a finer grain needs no
    second pass.
    """
    pairs = sp_pairs.select(sp_inst="institution_code", sp_variety="variety_id", sp_has=ibis.literal(1))
    j = lines.left_join(pairs, [lines.institution_code == pairs.sp_inst, lines.variety_id == pairs.sp_variety])
    day = j.at.date()
    in_cycle = day >= j.cycle_start
    flags = dict(
        in_cycle=in_cycle,
        since_start=day >= j.batch_start,
        in_special=in_special_period(j.special, j.special_start, j.special_end, day, "exclude"),
        sp_day=ibis.ifelse(j.sp_has.notnull(), day, ibis.null("date")),
    )
    sums = dict(volume=j.volume, amount=j.amount)
    if "on_time" in lines.columns:
        nxt = due_next(day, payment_due)
        counted = in_cycle & (nxt <= ibis.literal(as_of) + ibis.interval(days=1))
        overdue = counted & (nxt <= ibis.literal(as_of))
        sums.update(due_amount=ibis.ifelse(counted, j.amount, 0.0),
                    due_on_time=ibis.ifelse(counted, j.on_time, 0.0),
                    overdue_amount=ibis.ifelse(overdue, j.outstanding, 0.0),
                    overdue_lines=ibis.ifelse(overdue, j.open_line, 0))
    f = j.select(*LINE_KEYS, *extra_keys, **flags, **{f"s_{k}": v for k, v in sums.items()})
    return f.group_by([*FLAG_KEYS, *extra_keys]).agg(**{k: f[f"s_{k}"].sum() for k in sums})
