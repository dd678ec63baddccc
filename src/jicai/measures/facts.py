"""The order lines as the measures read them: from the compact facts when the warehouse keeps them.

:mod:`jicai.ingest.facts` keeps, at import, the accepted lines, their outstanding balances and the order
lines summed per institution × product × day and × month. This module turns them back into the "lines"
the measures' one-pass summaries take (:func:`jicai.measures.purchases.summarize` and the offline share),
with the same columns as :func:`jicai.measures.purchases.accepted_lines` / ``ordered_lines``: a row is no
longer one order line but a sum of lines of one institution, product and day — or month — which the
summaries add up the same way.

**Which grain.** A month row stands for all its days, so it may only be used where every date test of the
measure gives the same answer for every day of that month: the as-of date D (``day ≤ D``), the batch and
cycle-year starts, a special variety's period and the institution's verified supply-problem periods of
the variety. :func:`day_months` lists, per product, the months in which such a date falls on another
day than the 1st (an inclusive end date counts from the day after it); those (product, month) pairs are
read from the day tables, every other one from the month tables with the month's 1st as its day. Overdue
balances have one more date: a balance change counts when it happens on or before D, so the changes of
D's own month come from the day table too.

:func:`open_facts` chooses: ``"facts"`` (the stored facts, or — when the warehouse has none, e.g. data
written table by table — the same facts computed from the raw lines), ``"lines"`` (the raw lines: the
reference the facts are tested against) or ``"auto"`` (stored facts when complete, else the raw lines).
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from jicai.ingest import facts as kept
from jicai.measures.purchases import DUE_MONTHS, SCOPE_COLUMNS
from jicai.store import Warehouse

SOURCES = ("auto", "facts", "lines")


def open_facts(wh: Warehouse, source: str = "auto") -> Facts | None:
    """The facts to read for ``source`` (see the module docstring), or None: read the raw lines."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}")
    if source == "lines":
        return None
    stored = kept.complete(wh)
    return Facts(wh, stored) if stored or source == "facts" else None


class Facts:
    """The fact tables of a warehouse: stored when complete, else computed from its raw lines."""

    def __init__(self, wh: Warehouse, stored: bool | None = None):
        stored = kept.complete(wh) if stored is None else stored
        self.wh = wh
        self._t = {f.name: wh.table(f.name) if stored else f.build(wh.table) for f in kept.FACTS}
        self._months: dict[object, dict[date, list[str]]] = {}

    def day_months(self, scope: ir.Table, periods: ir.Table, as_of: date) -> ir.Table:
        """:func:`day_months`, which a measure reads three times: computed once on Spark (``wh.reuse``)."""
        return self.wh.reuse(day_months(scope, periods, as_of))

    def months(self, need: ir.Table) -> dict[date, list[str]]:
        """The months of ``need`` with their products (a few rows, computed now, once per measure): as
        constant ranges of ``day`` and lists of ``product_code`` they let the engine skip, by its blocks'
        min/max, every part of a day table outside them (the day facts are written in month, product and day
        order: ``ingest.facts.Fact.layout``)."""
        key = need.op()  # an expression node: hashable and equal by structure
        if key not in self._months:
            pairs: dict[date, list[str]] = {}
            for row in need.select("month", "product_code").distinct().to_pyarrow().to_pylist():
                pairs.setdefault(row["month"], []).append(row["product_code"])
            self._months[key] = {m: sorted(p for p in pairs[m] if p is not None) for m in sorted(pairs)}
        return self._months[key]

    def __getitem__(self, name: str) -> ir.Table:
        return self._t[f"_facts_{name}"]


def day_months(scope: ir.Table, periods: ir.Table, as_of: date) -> ir.Table:
    """(product_code, month) pairs whose facts must be read by day (see the module docstring).

    ``scope``: the products in scope with their calendar (SCOPE_COLUMNS); ``periods``: verified supply-problem
    periods (institution_code, variety_id, sp_start, sp_end) — a period of any institution marks the month
    for every institution, which only costs reading a few more day rows.
    """
    one = ibis.interval(days=1)

    def pairs(t: ir.Table, day: ir.DateValue) -> ir.Table:
        t = t.filter(day.notnull() & (day.day() != 1))
        return t.select("product_code", month=kept.month_of(day))

    s = scope
    cut = as_of + timedelta(days=1)  # day ≤ D ⇔ day < D + 1
    parts = [pairs(s, s.batch_start), pairs(s, s.cycle_start), pairs(s, s.special_start),
             pairs(s, s.special_end + one)]
    if cut.day != 1:
        parts.append(s.select("product_code", month=ibis.literal(cut.replace(day=1))))
    p = periods.join(s.select("product_code", "variety_id").distinct(), "variety_id")
    parts += [pairs(p, p.sp_start), pairs(p, p.sp_end + one)]
    return ibis.union(*parts, distinct=True)


def _within(day: ir.DateValue, months: list[date]) -> ir.BooleanValue:
    if not months:
        return ibis.literal(False)
    return ibis.or_(*((day >= ibis.literal(m)) & (day < ibis.literal(kept.next_month(m))) for m in months))


def _pairs_within(d: ir.Table, months: dict[date, list[str]]) -> ir.BooleanValue:
    """Rows of ``d`` whose day falls in one of ``months`` and whose product is one of that month's."""
    tests = [(d.day >= ibis.literal(m)) & (d.day < ibis.literal(kept.next_month(m))) & d.product_code.isin(products)
             for m, products in months.items() if products]
    return ibis.or_(*tests) if tests else ibis.literal(False)


def _by_grain(f: Facts, name: str, need: ir.Table, months: dict[date, list[str]], as_of: date,
              cut_month: date | None = None) -> ir.Table:
    """The day rows of the (product, month) pairs in ``need`` and the month rows of every other pair, through D
    (``months``: the pairs of ``need``, by month). ``cut_month``: balance changes of that month (D's, when D is
    not its last day) come from the day table whatever their acceptance month."""
    D = ibis.literal(as_of)
    on = ["product_code", "month"]
    d = f[f"{name}_day"]
    d = d.filter(d.day <= D)
    # the constant tests skip blocks, the semi-join is the exact one. The months' day ranges come first, on
    # their own: DuckDB prunes its row groups by such a conjunct and tests the products only on the rows left
    # (with the pairs alone it tested them on every row: 4.9 s against 3.1 s for the monitoring at 10^7);
    # Spark pushes both into the Parquet reader and skips the row groups of other products as well
    day_rows = d.filter(_within(d.day, list(months)) & _pairs_within(d, months)).mutate(month=kept.month_of(d.day)).semi_join(need, on)
    m = f[f"{name}_month"]
    m = m.filter(m.day <= D).mutate(month=m.day)
    month_rows = m.anti_join(need, on)
    if cut_month is not None:
        changes = d.filter((d.event_day >= ibis.literal(cut_month)) & (d.event_day <= D))
        changes = changes.mutate(month=kept.month_of(changes.day)).anti_join(need, on)
        day_rows = day_rows.union(changes)
        month_rows = month_rows.filter(month_rows.event_day != ibis.literal(cut_month))
    return day_rows.drop("month").union(month_rows.drop("month"))


def accepted_lines(f: Facts, scope: ir.Table, periods: ir.Table, as_of: date, payment_due: str,
                   with_payments: bool = True) -> ir.Table:
    """The accepted lines of :func:`jicai.measures.purchases.accepted_lines`, summed per day or month.

    Amount rows carry volume, amount and on_time; balance rows (``with_payments``) carry the changes of the
    outstanding amount and of the open lines up to D, which the summary adds where the line is overdue."""
    need = f.day_months(scope, periods, as_of)
    s = scope.select(*SCOPE_COLUMNS)
    k = DUE_MONTHS[payment_due]
    months = f.months(need)
    a = _by_grain(f, "accepted", need, months, as_of)
    a = a.join(s, "product_code")
    rows = a.select(*SCOPE_COLUMNS[1:], "institution_code", "product_code", at=a.day.cast("timestamp"),
                    volume=a.packs * a.units_per_pack, amount=a.amount, on_time=a[f"on_time_{k}"],
                    outstanding=ibis.literal(0.0), open_line=ibis.literal(0).cast("int64"))
    if not with_payments:
        return rows
    cut = as_of + timedelta(days=1)
    D = ibis.literal(as_of)
    o = _by_grain(f, "outstanding", need, months, as_of, cut.replace(day=1) if cut.day != 1 else None)
    o = o.filter(o.event_day <= D).join(s, "product_code")
    zero = ibis.literal(0.0)
    balances = o.select(*SCOPE_COLUMNS[1:], "institution_code", "product_code", at=o.day.cast("timestamp"),
                        volume=zero, amount=zero, on_time=zero, outstanding=o.outstanding,
                        open_line=o.open_lines.cast("int64"))
    return rows.union(balances)


def ordered_lines(f: Facts, scope: ir.Table, periods: ir.Table, as_of: date) -> ir.Table:
    """The order lines of :func:`jicai.measures.purchases.ordered_lines` (plus ``offline_amount``), summed
    per day or month."""
    need = f.day_months(scope, periods, as_of)
    s = scope.select(*SCOPE_COLUMNS)
    o = _by_grain(f, "ordered", need, f.months(need), as_of).join(s, "product_code")
    return o.select(*SCOPE_COLUMNS[1:], "institution_code", "product_code", at=o.day.cast("timestamp"),
                    volume=o.packs * o.units_per_pack, amount=o.amount, offline_amount=o.offline_amount)


def accepted_between(f: Facts, first: date, last: date, cuts: list[date]) -> ir.Table:
    """The accepted-amount rows (institution_code, product_code, day, packs, amount) of acceptance days in
    [first, last], for a measure whose date tests are ``first``, ``last`` and ``cuts`` (days at which a test
    changes: a row's day is compared with them). Months in which any of them falls on another day than the 1st
    are read by day, all others by month (``day``: the month's 1st)."""
    edges = [first, last + timedelta(days=1), *cuts]
    months = sorted({e.replace(day=1) for e in edges if e.day != 1})
    lo, hi = ibis.literal(first), ibis.literal(last)
    cols = ("institution_code", "product_code", "day", "packs", "amount")
    d = f["accepted_day"]
    d = d.filter((d.day >= lo) & (d.day <= hi) & _within(d.day, months))
    m = f["accepted_month"]
    m = m.filter((m.day >= lo) & (m.day <= hi) & ~_within(m.day, months))
    return d.select(*cols).union(m.select(*cols))
