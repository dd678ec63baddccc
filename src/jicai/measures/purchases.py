"""Purchases on the volume basis of the policy, aggregated to (institution, product, day).

``volume_basis = "accepted"`` (default): a line counts on the date of ``deliveries.accepted_at`` with
``accepted_quantity × units_per_pack`` minimum units and ``accepted_quantity × pack_price`` yuan; lines
not (yet) accepted, or accepted after the as-of date, do not count. ``"ordered"``: ``quantity`` on the
date of ``ordered_at``.

Only products of the varieties in scope count (products.variety_id of a batch in its cycle calendar),
through the as-of date inclusive (lines before the batch start form their own days, which callers
ignore) — the day grain lets callers cut the
cycle year, test supply-problem and special periods, and look back to the batch start for onboarding
with one pass over the order lines.
"""

from __future__ import annotations

from datetime import date

import ibis.expr.types as ir

from jicai.measures.cycles import day_after


def scope_products(varieties: ir.Table, products: ir.Table, calendar: ir.Table, batch_id: str | None) -> ir.Table:
    """Products of the VBP varieties in scope with their batch calendar and special period (small)."""
    v = varieties if batch_id is None else varieties.filter(varieties.batch_id == batch_id)
    v = v.select("variety_id", "batch_id", "special", "special_start", "special_end")
    v = v.join(calendar, "batch_id")
    p = products.filter(products.variety_id.notnull()).select("product_code", "variety_id", "units_per_pack")
    return p.join(v, "variety_id")


def daily_purchases(orders: ir.Table, deliveries: ir.Table, scope: ir.Table, as_of: date, basis: str) -> ir.Table:
    """Sum of volume and amount per institution_code, product_code, variety_id, batch_id, day."""
    o = orders.select("order_line_id", "institution_code", "product_code", "quantity", "pack_price", "ordered_at")
    if basis == "accepted":
        d = deliveries.select("order_line_id", "accepted_at", "accepted_quantity")
        lines = o.join(d, "order_line_id")
        lines = lines.filter(lines.accepted_at.notnull() & lines.accepted_quantity.notnull())
        lines = lines.select("institution_code", "product_code", "pack_price", at=lines.accepted_at,
                             packs=lines.accepted_quantity)
    elif basis == "ordered":
        lines = o.select("institution_code", "product_code", "pack_price", at=o.ordered_at, packs=o.quantity)
    else:  # the policy model validates this; kept for callers passing a raw string
        raise ValueError(f"unknown volume_basis {basis!r}")
    s = scope.select("product_code", "variety_id", "batch_id", "units_per_pack")
    # Only the constant upper bound filters here. The lower bounds (batch start, cycle start) come from
    # the scope table and are applied after aggregation, inside conditional sums: as a filter, DuckDB's
    # optimizer may turn "accepted_at >= batch_start" into a nested-loop join of the order lines with
    # the scope (10^7 × 35 rows), which was 30× slower than the whole monitoring should be.
    lines = lines.filter(lines.at < day_after(as_of))
    j = lines.join(s, "product_code")
    j = j.select(
        "institution_code", "product_code", "variety_id", "batch_id",
        day=j.at.date(),
        volume=j.packs * j.units_per_pack,
        amount=j.packs * j.pack_price,
    )
    return j.group_by(["institution_code", "product_code", "variety_id", "batch_id", "day"]).agg(
        volume=j.volume.sum(), amount=j.amount.sum()
    )
