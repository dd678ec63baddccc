"""Compact facts kept at import: the order lines summed to the grain the measures need.

A province has 10^7–10^8 order lines a year; the measures need far fewer rows. Every import of orders,
deliveries or payments rewrites, in the same transaction as the raw rows, the fact tables below for the
**partitions it touches** — a partition is a month of ``orders.ordered_at`` (``part_month``): a line, its
delivery and its payments always belong to the month the line was ordered in, so a late payment file
recomputes the months of the lines it pays and nothing else.

Each fact comes at two grains. The **month** tables are the compact ones (about 5× fewer rows than order
lines on the simulated province, 20× on a provincial one). The **day** tables keep the day, for the few
months where a measure's date test falls inside the month (the as-of date, a cycle or batch start, a
special period or a supply-problem period that does not begin on the 1st): :mod:`jicai.measures.facts`
reads the day rows of just those (product, month) pairs and the month rows of every other one.

* ``_facts_accepted_*`` — accepted lines (volume basis ``accepted``, payments): per institution × product ×
  acceptance day (month): Σ accepted packs, Σ amount (accepted packs × pack price), and Σ on-time payment
  for each payment due rule: ``on_time_0`` (due at the end of the acceptance month), ``on_time_1`` (end of
  the next month) — each line's payments before the due date, capped at the line's amount.
* ``_facts_outstanding_*`` — what an accepted line still owes, as **changes**: on the acceptance day a line
  starts owing its amount less what was paid by then, and on each later payment day the amount owed
  changes. Summing the changes up to a day D gives, for every line at once, its outstanding amount at D
  (each line's amount due rounded to the fen once, half up, less its payments: an exact number of fen, the
  measures' rule, :func:`jicai.measures.purchases.outstanding_yuan`) and whether it is still open. Grain:
  institution × product × acceptance day (month) × event day (month).
* ``_facts_ordered_*`` — order lines (volume basis ``ordered``, the offline share): per institution ×
  product × order day (month): Σ packs, Σ amount, Σ offline amount.
* ``_facts_delivery_lines`` — each order line joined to its delivery, not summed: the supply measures take
  exact quantiles of per-line delivery times. Partitioned like the others, a window of months reads only its
  months and no join.

Only the raw order lines, deliveries and payments enter: products, varieties, batches and policy are
joined when a measure reads the facts, so a corrected product or a new policy needs no rebuild.
``_facts_state`` records that the facts are complete (built from every line, then kept at each import);
a warehouse whose raw tables are written any other way (``Warehouse.write_table`` drops the state) is read
from the raw lines until its facts are rebuilt (:func:`rebuild`, ``jicai db facts``). A folder import
defers the facts of its files to one recomputation at its end (``_facts_pending`` lists the months
meanwhile, see :func:`refresh`).
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from jicai import clock
from jicai.contract.money import MICRO, MICRO_PER_FEN
from jicai.ingest.sink import Sink
from jicai.ingest.sql import q
from jicai.ingest.stage import Staged
from jicai.store import FACT_SOURCES, FACTS_PENDING, FACTS_STATE, Warehouse

Get = Callable[[str], ir.Table]  # the raw table of a name (the warehouse's, or a transaction's view of it)

log = logging.getLogger("jicai.facts")  # each statement's time at DEBUG: where an import's facts time goes

KEYS = ("institution_code", "product_code")
STATE_SCHEMA = pa.schema([("complete", pa.bool_()), ("built_at", pa.timestamp("us"))])


def month_of(ts: ir.TimestampValue | ir.DateValue) -> ir.DateValue:
    """The first day of the month of ``ts``."""
    return ibis.date(ts.year(), ts.month(), 1)


def _double(x: float) -> ir.FloatingScalar:
    # a bare float literal is numeric on PostgreSQL and Spark; the sums must stay double everywhere
    return ibis.literal(repr(float(x))).cast("float64")


def _fen(x: ir.NumericValue) -> ir.IntegerValue:
    """Yuan as integer fen, halves away from zero via the micro-yuan snap: :func:`jicai.measures.exact.fen`,
    written again here because the importer sits below the measures (tests/test_facts.py compares them)."""
    def half_away(v: ir.FloatingValue) -> ir.IntegerValue:
        return ((v.abs() + _double(0.5)).floor() * v.sign()).cast("int64")
    m = half_away(x.cast("float64") * _double(MICRO))
    step = MICRO_PER_FEN
    return (((m.abs() + step // 2).cast("float64") / _double(step)).floor() * m.sign().cast("float64")).cast("int64")


def _int_sum(x: ir.IntegerValue) -> ir.IntegerScalar:
    """A bigint sum on every engine (DuckDB sums integers to HUGEINT, PostgreSQL to numeric; Ibis drops a
    cast to the type it already believes the sum has, so the cast goes through a double: exact below 2⁵³)."""
    return x.cast("float64").sum().cast("int64")


def _first_of(year: ir.IntegerValue, m0: ir.IntegerValue) -> ir.DateValue:
    """First day of month ``m0`` counted from 0 in ``year`` (``m0`` may exceed 11)."""
    return ibis.date(year + m0 // 12, m0 % 12 + 1, 1)


def due_next(day: ir.DateValue, months_after: int) -> ir.DateValue:
    """The day after the due date of a line accepted on ``day``: the 1st of the month ``months_after + 1``
    months later (0: due at the end of the acceptance month). A payment is on time when made before it."""
    return _first_of(day.year(), day.month() - 1 + months_after + 1)


def next_month(m: date) -> date:
    """The 1st of the month after month ``m`` (a 1st)."""
    return date(m.year + m.month // 12, m.month % 12 + 1, 1)


def _lines(get: Get, months: Sequence[date] | None) -> ir.Table:
    o = get("orders")
    if months is not None:
        # ranges of ordered_at rather than a test of its month: the engine skips the blocks outside them
        o = o.filter(ibis.or_(*(
            (o.ordered_at >= ibis.literal(m).cast("timestamp")) & (o.ordered_at < ibis.literal(next_month(m)).cast("timestamp"))
            for m in months)))
    return o.select("order_line_id", *KEYS, "distributor_code", "quantity", "pack_price", "ordered_at", "channel",
                    part_month=month_of(o.ordered_at))


class Shared:
    """The raw tables of a group of partitions (:data:`Get`), with the intermediates several facts read
    computed once (``shared``: name → table). On Spark each reference to an intermediate is computed again —
    the accepted lines (order lines joined with their deliveries) are read by every fact of payments, and the
    sums of their payments per line by two — so the importer writes them once per group
    (:meth:`Sink.materialize`) and every fact of the group reads them."""

    def __init__(self, get: Get, shared: dict[str, ir.Table] | None = None) -> None:
        self.get = get
        self.shared = {} if shared is None else shared  # the caller may add to it later

    def __call__(self, name: str) -> ir.Table:
        return self.get(name)


ACCEPTED = "accepted"  # the accepted lines of the group's partitions (:func:`_accepted`)
LINE = ("part_month", *KEYS, "day", "amount")  # the columns of an accepted line its payments carry


def _accepted(get: Get, months: Sequence[date] | None) -> ir.Table:
    """Accepted lines of the partitions: part_month, keys, order_line_id, day, accepted_at, packs, amount."""
    if isinstance(get, Shared) and ACCEPTED in get.shared:
        return get.shared[ACCEPTED]
    d = get("deliveries")
    d = d.filter(d.accepted_at.notnull() & d.accepted_quantity.notnull())
    d = d.select("order_line_id", "accepted_at", "accepted_quantity")
    o = _lines(get, months).select("order_line_id", "part_month", *KEYS, "pack_price")
    j = o.join(d, "order_line_id")
    return j.select("part_month", *KEYS, "order_line_id", day=j.accepted_at.date(), accepted_at=j.accepted_at,
                    packs=j.accepted_quantity, amount=j.accepted_quantity * j.pack_price)


def _paid(get: Get, months: Sequence[date] | None, only: ir.Table | None = None) -> ir.Table:
    """What was paid on each accepted line of the partitions (of the lines ``only`` lists, when given), per
    payment day: order_line_id, the line's columns (:data:`LINE`, carried in the one join, where joining the lines
    back for each column costs Spark a shuffle of both sides each time), pay_day, pay. Payments without a time
    never count."""
    a = _accepted(get, months)
    p = get("payments")
    p = p.filter(p.paid_at.notnull()).select("order_line_id", "paid_at", pay=p.amount)
    if only is not None:
        p = p.semi_join(only, "order_line_id")  # first: a few lines' payments, not every line's, meet the join
    p = p.join(a.select("order_line_id", *LINE), "order_line_id")
    return p.group_by(["order_line_id", *LINE, p.paid_at.date().name("pay_day")]).agg(pay=p.pay.sum())


PER_LINE = "per_line"  # each paid line's sums of its payments (:func:`_per_line`)


def _per_line(get: Get, months: Sequence[date] | None) -> ir.Table:
    """Each accepted line with payments, once: order_line_id, its columns (:data:`LINE`) and the sums of its
    payments the two facts of payments read — on time for each due rule (``paid_0``, ``paid_1``: made before the
    day after the due date), made by its acceptance day (``paid_before``), in all (``paid_total``), and the
    days with payments after its acceptance day (``days_after``, the first of them ``first_after``)."""
    if isinstance(get, Shared) and PER_LINE in get.shared:
        return get.shared[PER_LINE]
    paid = _paid(get, months)
    after = paid.pay_day > paid.day
    return paid.group_by(["order_line_id", *LINE]).agg(
        **{f"paid_{k}": ibis.ifelse(paid.pay_day < due_next(paid.day, k), paid.pay, 0.0).sum() for k in (0, 1)},
        paid_before=ibis.ifelse(after, 0.0, paid.pay).sum(), paid_total=paid.pay.sum(),
        days_after=_int_sum(ibis.ifelse(after, 1, 0)),
        first_after=ibis.ifelse(after, paid.pay_day, ibis.null("date")).min())


def accepted_day(get: Get, months: Sequence[date] | None = None) -> ir.Table:
    a = _accepted(get, months)
    # each line's payments made before the day after each due date, capped at the line's amount; a line
    # without payments has nothing on time
    per_line = _per_line(get, months)
    zero = _double(0.0)
    # the lines' volumes and their on-time sums as rows of one union, summed together: no join of the lines
    # with their payments' sums (on Spark a shuffle of every line again)
    rows = a.select("part_month", *KEYS, "day", "packs", "amount", on_time_0=zero, on_time_1=zero).union(
        per_line.select("part_month", *KEYS, "day", packs=ibis.literal(0).cast(a.packs.type()), amount=zero,
                        **{f"on_time_{k}": ibis.least(per_line.amount, per_line[f"paid_{k}"]) for k in (0, 1)}))
    return rows.group_by(["part_month", *KEYS, "day"]).agg(
        packs=rows.packs.sum(), amount=rows.amount.sum(), on_time_0=rows.on_time_0.sum(),
        on_time_1=rows.on_time_1.sum())


def _owed(amount: ir.FloatingValue, paid: ir.FloatingValue) -> ir.FloatingValue:
    """What a line owes: its amount due rounded to the fen once, half up, less what was paid in fen, never
    below zero (the rule of jicai.measures.purchases.outstanding_yuan; an exact number of fen)."""
    return ibis.greatest(_fen(amount) - _fen(paid), 0).cast("float64") / _double(100.0)


def _open(owed: ir.FloatingValue) -> ir.IntegerValue:
    return ibis.ifelse(owed > 0, 1, 0).cast("int64")


CHANGE = ("part_month", *KEYS, "day")  # a balance change's line columns, before its day and the two changes


def _change(t: ir.Table, event_day: ir.DateValue, d_owed: ir.FloatingValue, d_open: ir.IntegerValue) -> ir.Table:
    return t.select(*CHANGE, event_day=event_day, d_owed=d_owed.cast("float64"), d_open=d_open.cast("int64"))


def _changes_joined(paid: ir.Table, lines: ir.Table) -> ir.Table:
    """The balance changes of ``lines`` (order_line_id and :data:`LINE`) from their payments ``paid``, by joining
    every event of a line with every payment day of it: the general way, for lines paid on several days after
    their acceptance (few: most lines are paid at once)."""
    later = paid.filter(paid.pay_day > paid.day).select("order_line_id", *LINE, event_day=paid.pay_day)
    ev = lines.select("order_line_id", *LINE, event_day=lines.day).union(later)
    # on each event: what was paid by then, and the next event. Joins and sums, not windows: they spill to
    # disk, where a window over a province's month of lines would have to fit in the import's memory
    pr = paid.select(p_line=paid.order_line_id, pay_day=paid.pay_day, pay=paid.pay)
    j = ev.left_join(pr, ev.order_line_id == pr.p_line)
    ev = j.group_by(["order_line_id", *LINE, "event_day"]).agg(
        paid=ibis.ifelse(j.pay_day <= j.event_day, j.pay, 0.0).sum().fill_null(0.0),
        next_day=ibis.ifelse(j.pay_day > j.event_day, j.pay_day, ibis.null("date")).min())
    ev = ev.mutate(owed=_owed(ev.amount, ev.paid))
    # +owed on the event's day, −owed on the next event's day: each row makes both changes (a union of two
    # selections of it had Spark compute every step above twice, joins and sums included)
    ev = ev.mutate(sign=ibis.array([1, -1])).unnest("sign")
    ev = _change(ev, ibis.ifelse(ev.sign > 0, ev.event_day, ev.next_day), ev.sign.cast("float64") * ev.owed,
                 ev.sign.cast("int64") * _open(ev.owed))
    return ev.filter(ev.event_day.notnull())  # the last change of a line has no next one


def outstanding_day(get: Get, months: Sequence[date] | None = None) -> ir.Table:
    """A line's balance holds from one event (its acceptance day, each later payment day) to the next: +owed on
    the day, −owed on the next event's day, so the changes summed up to a day D give every line's balance at D.

    Written as a sum of parts that needs no join for a line paid on at most one day after its acceptance
    (:func:`_per_line` has all it needs): every accepted line starts owing its whole amount on its acceptance
    day (``base``); a paid line corrects that by what it owed then less the whole amount, and, paid once later,
    by what it owes after that payment less what it owed before. Only lines paid on several later days go
    through the join of their events with their payment days (:func:`_changes_joined`, less their ``base``)."""
    a = _accepted(get, months)
    pl = _per_line(get, months)
    nothing = _double(0.0)
    owed = _owed(a.amount, nothing)
    base = _change(a, a.day, owed, _open(owed))
    # paid on at most one day after the acceptance day: what it owed on that day instead of its whole amount
    t = pl.filter(pl.days_after <= 1)
    whole, then = _owed(t.amount, nothing), _owed(t.amount, t.paid_before)
    first = _change(t, t.day, then - whole, _open(then) - _open(whole))
    # paid once later: from that day, what it owes after the payment instead of what it owed before
    t = t.filter(t.days_after == 1)
    before, after = _owed(t.amount, t.paid_before), _owed(t.amount, t.paid_total)
    later = _change(t, t.first_after, after - before, _open(after) - _open(before))
    # paid on several later days: its base taken back, its changes from the join
    several = pl.filter(pl.days_after > 1)
    whole = _owed(several.amount, nothing)
    unbase = _change(several, several.day, -whole, -_open(whole))
    paid = _paid(get, months, only=several.select("order_line_id"))
    ev = ibis.union(base, first, later, unbase, _changes_joined(paid, several))
    # a line counts as overdue only from its due date on, never before the 1st of the month after its
    # acceptance: the changes until then merge on that 1st (most lines are paid within their acceptance
    # month, and their changes cancel out)
    next_month = _first_of(ev.day.year(), ev.day.month())
    ev = ev.select(*CHANGE, "d_owed", "d_open", event_day=ibis.greatest(ev.event_day, next_month))
    ev = ev.group_by([*CHANGE, "event_day"]).agg(outstanding=ev.d_owed.sum(), open_lines=_int_sum(ev.d_open))
    # changes that cancel out leave float noise (1e-13), in any order of addition: under half a micro-yuan, the
    # one allowance of jicai's money rule (measures/exact.py), a change is none
    return ev.filter((ev.outstanding.abs() >= _double(0.5 / MICRO)) | (ev.open_lines != 0))


def ordered_day(get: Get, months: Sequence[date] | None = None) -> ir.Table:
    o = _lines(get, months)
    amount = o.quantity * o.pack_price
    o = o.select("part_month", *KEYS, day=o.ordered_at.date(), packs=o.quantity, amount=amount,
                 offline=ibis.ifelse(o.channel == "offline", amount, 0.0))
    return o.group_by(["part_month", *KEYS, "day"]).agg(
        packs=o.packs.sum(), amount=o.amount.sum(), offline_amount=o.offline.sum())


def delivery_lines(get: Get, months: Sequence[date] | None = None) -> ir.Table:
    """Each order line with its delivery (none yet: nulls), kept in order-month partitions: the supply
    measures need per-line times for their exact quantiles, so this fact is not summed — it saves the join
    of the order lines with the deliveries and lets a window of months read only its own partitions."""
    o = _lines(get, months).drop("channel")
    d = get("deliveries").select("order_line_id", "responded_at", "shipped_at", "shipped_quantity",
                                 "accepted_quantity")
    j = o.left_join(d, "order_line_id")
    return j.select("part_month", "order_line_id", *KEYS, "distributor_code", "ordered_at", "quantity",
                    "pack_price", "responded_at", "shipped_at", "shipped_quantity", "accepted_quantity")


def to_months(t: ir.Table, days: tuple[str, ...], sums: tuple[str, ...]) -> ir.Table:
    """The month grain of day-fact rows ``t``: each day column becomes its month, the sums are summed."""
    t = t.select("part_month", *KEYS, *(month_of(t[c]).name(c) for c in days), *sums)
    return t.group_by(["part_month", *KEYS, *days]).agg(**{
        s: _int_sum(t[s]) if t[s].type().is_integer() else t[s].sum() for s in sums})


@dataclass(frozen=True)
class Fact:
    name: str
    sources: tuple[str, ...]  # the raw tables whose rows feed it: an import of another table leaves it alone
    day_build: Callable[[Get, Sequence[date] | None], ir.Table]  # its rows (at day grain) for some partitions
    # a month fact: the day columns it turns into months and the sums; its rows are the day fact's, rolled up
    days: tuple[str, ...] = ()
    sums: tuple[str, ...] = ()
    of: str | None = None  # the day fact it rolls up
    # The order its rows are written in. The measures read a day fact by (month, products) pairs — a few
    # products' days in a few months, the rest from the month fact (:mod:`jicai.measures.facts`): rows in
    # month, product and day order let every engine skip the blocks outside those pairs by their min/max —
    # DuckDB's row groups, the lake's Parquet row groups on Spark — where rows in the order an aggregation
    # leaves them span the whole year and every product in every block.
    layout: tuple[str, ...] = ("part_month", "product_code", "day")

    def ordered(self, rows: ir.Table) -> ir.Table:
        """``rows`` in the fact's :attr:`layout`."""
        return rows.order_by(*self.layout)

    def build(self, get: Get, months: Sequence[date] | None = None) -> ir.Table:
        """Its rows for some partitions (None: all) from the raw tables."""
        t = self.day_build(get, months)
        return to_months(t, self.days, self.sums) if self.of else t

    def rollup(self, get: Get, months: Sequence[date]) -> ir.Table:
        """A month fact's rows for ``months`` from its day fact as it stands (inside the import's transaction,
        already refreshed): far cheaper than going back to the raw lines."""
        d = get(self.of)
        return to_months(d.filter(d.part_month.isin(list(months))), self.days, self.sums)


_ACC_SUMS = ("packs", "amount", "on_time_0", "on_time_1")
_OUT_SUMS = ("outstanding", "open_lines")
_ORD_SUMS = ("packs", "amount", "offline_amount")
_PAID = ("orders", "deliveries", "payments")

FACTS: tuple[Fact, ...] = (
    Fact("_facts_accepted_day", _PAID, accepted_day),
    Fact("_facts_accepted_month", _PAID, accepted_day, ("day",), _ACC_SUMS, of="_facts_accepted_day"),
    Fact("_facts_outstanding_day", _PAID, outstanding_day),
    Fact("_facts_outstanding_month", _PAID, outstanding_day, ("day", "event_day"), _OUT_SUMS,
         of="_facts_outstanding_day"),
    Fact("_facts_ordered_day", ("orders",), ordered_day),
    Fact("_facts_ordered_month", ("orders",), ordered_day, ("day",), _ORD_SUMS, of="_facts_ordered_day"),
    Fact("_facts_delivery_lines", ("orders", "deliveries"), delivery_lines, layout=("part_month", "ordered_at")),
)
BY_NAME = {f.name: f for f in FACTS}
assert set(FACT_SOURCES) == {s for f in FACTS for s in f.sources}


# -- keeping them -------------------------------------------------------------------------------------------

def _month_sql(col: str) -> str:
    return f"CAST(date_trunc('month', {col}) AS DATE)"  # the same text on DuckDB and PostgreSQL


def touched_months(sink: Sink, table: str, keys: Staged) -> set[date]:
    """The partitions (order months) of the lines that rows of ``table`` with these keys belong to.

    Called before a file's rows replace older ones (the months they leave) and after (the months they
    enter): an order may move to another month, a payment to another line. Empty when the warehouse keeps no
    facts yet: :func:`refresh` then builds every month anyway, and each query joins the file's keys with the
    order lines — on Spark at 10^7 lines, 53 s of a 117 s import of orders, deliveries and payments."""
    if table not in FACT_SOURCES or _state(sink) == "absent":
        return set()
    if table == "payments":
        sql = (f"SELECT DISTINCT {_month_sql('o.ordered_at')} FROM {{src}} k JOIN {q('payments')} p "
               f"ON p.payment_id = k.payment_id JOIN {q('orders')} o ON o.order_line_id = p.order_line_id")
    else:
        sql = (f"SELECT DISTINCT {_month_sql('o.ordered_at')} FROM {{src}} k JOIN {q('orders')} o "
               f"ON o.order_line_id = k.order_line_id")
    return {r[0] for r in sink.query_with(keys, table, sql) if r[0] is not None}


def _exists(sink: Sink, name: str) -> bool:
    return sink.has_table(name)


GROUP_LINES = 5_000_000  # order lines one refresh statement covers at most: its memory stays bounded
# Memory per order line a refresh statement may need: a fact written in its layout is sorted whole before it is
# inserted, and DuckDB's sort under a tight cap does not always spill (460,000 lines into _facts_delivery_lines
# failed to pin a block under 48 MB in one statement, and passed in runs of 200,000: test_ingest_fast).
LINE_BYTES = 256
MIN_GROUP = 10_000


def group_lines(memory: int | None) -> int:
    """Order lines per refresh statement under a memory cap of ``memory`` bytes (None: no cap).

    >>> group_lines(None), group_lines(48 * 2**20), group_lines(2**30), group_lines(10**6)
    (5000000, 196608, 4194304, 10000)
    """
    return GROUP_LINES if memory is None else max(MIN_GROUP, min(GROUP_LINES, memory // LINE_BYTES))


def _groups(sink: Sink, months: set[date]) -> list[list[date]]:
    """``months`` in runs of consecutive partitions of at most :func:`group_lines` order lines (a single month
    may exceed it): one statement per run and fact — a province's month is ~10^7 lines. One run where the
    sink says so (``Sink.fact_runs``: Spark)."""
    if not sink.fact_runs:
        return [sorted(months)]
    limit = group_lines(sink.memory_bytes())
    lo, hi = min(months), next_month(max(months))
    counts = dict(sink.fetch(f"SELECT {_month_sql('ordered_at')}, count(*) FROM {q('orders')} "
                             f"WHERE ordered_at >= ? AND ordered_at < ? GROUP BY 1", (lo, hi)))
    groups: list[list[date]] = []
    size = 0
    for m in sorted(months):
        n = int(counts.get(m, 0))
        if not groups or size + n > limit:
            groups.append([])
            size = 0
        groups[-1].append(m)
        size += n
    return groups


def _state(sink: Sink) -> str:
    """``complete`` (kept), ``pending`` (kept but for the months listed in FACTS_PENDING, see :func:`refresh`)
    or ``absent`` (never built, or a source written around the importer: every fact is built anew)."""
    if not all(_exists(sink, f.name) for f in FACTS):
        return "absent"
    if _exists(sink, FACTS_STATE) and sink.fetch(f"SELECT count(*) FROM {q(FACTS_STATE)} WHERE complete")[0][0]:
        return "complete"
    return "pending" if _exists(sink, FACTS_PENDING) else "absent"


def _all_months(sink: Sink) -> set[date]:
    return {r[0] for r in sink.fetch(f"SELECT DISTINCT {_month_sql('ordered_at')} FROM {q('orders')}")
            if r[0] is not None}


def refresh(wh: Warehouse, sink: Sink, table: str, months: set[date], defer: bool = False) -> None:
    """Inside the import's transaction: recompute the facts fed by ``table`` for ``months``.

    ``defer`` (a folder import with more files of the fact sources to come): only mark the months stale, in
    this same transaction — ``_facts_state`` is dropped and the months are added to ``_facts_pending``, so the
    measures read the raw lines until :func:`finish` (or the next refresh) recomputes every fact of the pending
    months at once. An import of orders, deliveries and payments then computes its facts once, not three
    times. The facts are never wrong, only absent for a while (and a crash in between leaves them pending,
    for the next import to finish).

    A warehouse without facts (new, or imported by an older jicai, or a source written around the importer)
    gets every fact built from every line instead, and is complete from then on. Day facts are computed from the
    raw tables, month facts from their freshly written day rows; a run of months goes in one statement per
    fact, up to group_lines() order lines, so the memory a statement needs does not grow with the warehouse (and
    what it needs, joins and sums, spills to disk)."""
    if table not in FACT_SOURCES:
        return
    state = _state(sink)
    if defer:
        if state == "absent":
            return  # finish() builds everything anyway
        sink.execute(f"DROP TABLE IF EXISTS {q(FACTS_STATE)}")
        sink.execute(f"CREATE TABLE IF NOT EXISTS {q(FACTS_PENDING)} (part_month DATE)")
        for m in months:
            sink.execute(f"INSERT INTO {q(FACTS_PENDING)} VALUES (?)", (m,))
        return
    if state == "absent":
        for f in FACTS:
            sink.execute(f"DROP TABLE IF EXISTS {q(f.name)}")
            sink.create_as(f.name, wh.con.compile(f.build(sink.reader(wh)).limit(0)))
        facts, months = FACTS, _all_months(sink)
    elif state == "pending":
        facts = FACTS  # the pending months may be stale in any fact
        months = set(months) | {r[0] for r in sink.fetch(f"SELECT DISTINCT part_month FROM {q(FACTS_PENDING)}")}
    else:
        facts = tuple(f for f in FACTS if table in f.sources)
    _recompute(wh, sink, facts, months, every=state == "absent")
    if state != "complete":
        sink.execute(f"DROP TABLE IF EXISTS {q(FACTS_PENDING)}")
        sink.execute(f"DROP TABLE IF EXISTS {q(FACTS_STATE)}")
        sink.execute(f"CREATE TABLE {q(FACTS_STATE)} (complete BOOLEAN, built_at TIMESTAMP)")
        sink.execute(f"INSERT INTO {q(FACTS_STATE)} VALUES (TRUE, ?)", (clock.local_now().replace(tzinfo=None),))


def _spanned(wh: Warehouse, sink: Sink, group: list[date]) -> Get:
    """The raw tables for the facts of ``group``, deliveries and payments cut to the range of the group's
    order_line_id. Exact (a delivery or payment joins one of the group's lines, so its id lies in that range)
    and, where ids grow with time as platforms number them, the engine skips every block outside the range
    instead of probing a year of deliveries for each month."""
    ranges = " OR ".join("(ordered_at >= ? AND ordered_at < ?)" for _ in group)
    lo, hi = sink.fetch(f"SELECT min(order_line_id), max(order_line_id) FROM {q('orders')} WHERE {ranges}",
                        tuple(x for m in group for x in (m, next_month(m))))[0]

    table = sink.reader(wh)

    def get(name: str) -> ir.Table:
        t = table(name)
        return t.filter(t.order_line_id.between(lo, hi)) if name in ("deliveries", "payments") else t
    return get


def _chains(facts: Sequence[Fact]) -> list[list[Fact]]:
    """``facts`` as chains that may run side by side: a day fact, then the month facts rolled up from it."""
    chains: dict[str, list[Fact]] = {}
    for f in facts:
        chains.setdefault(f.of if f.of in chains else f.name, []).append(f)
    return list(chains.values())


def _recompute(wh: Warehouse, sink: Sink, facts: Sequence[Fact], months: set[date], every: bool = False) -> None:
    """Recompute ``facts`` for ``months``; ``every``: those are all the months of the order lines."""
    if not months:
        return
    sink.analyze(FACT_SOURCES)
    groups = _groups(sink, months)
    for group in groups:
        listed = ", ".join(f"DATE '{m.isoformat()}'" for m in group)
        # one run of every month reads every delivery and payment: no range to look up (a pass over the lines)
        shared: dict[str, ir.Table] = {}
        get = Shared(sink.reader(wh) if every and len(groups) == 1 else _spanned(wh, sink, group), shared)
        names: list[str] = []
        if any(f.day_build in (accepted_day, outstanding_day) for f in facts):
            # the payments' sums per line read the accepted lines, materialized first
            for key, build in ((ACCEPTED, _accepted), (PER_LINE, _per_line)):
                t0 = time.perf_counter()
                if (name := sink.materialize(wh.con.compile(build(get, group)))) is None:
                    break
                names.append(name)
                shared[key] = sink.reader(wh)(name)
                log.debug("%s lines %s..%s: %.2f s", key, group[0], group[-1], time.perf_counter() - t0)

        def run(chain: list[Fact], get: Get = get, group: list[date] = group, listed: str = listed) -> None:
            for f in chain:  # the day fact comes before the month facts rolled up from it
                t0 = time.perf_counter()
                if f.of:
                    sink.analyze([f.of])  # its day rows were just written
                rows = f.rollup(sink.reader(wh), group) if f.of else f.day_build(get, group)
                sink.replace_rows(f.name, f"part_month IN ({listed})", wh.con.compile(f.ordered(rows)))
                log.debug("%s %s..%s: %.2f s", f.name, group[0], group[-1], time.perf_counter() - t0)

        chains = _chains(facts)
        if sink.fact_chains > 1 and len(chains) > 1:
            # side by side (Spark): each statement's stages end with their last tasks on one executor while
            # the other idles, and the client's part of one (compiling, planning) overlaps the other's work
            with concurrent.futures.ThreadPoolExecutor(min(sink.fact_chains, len(chains)),
                                                       thread_name_prefix="jicai-facts") as pool:
                for done in [pool.submit(run, c) for c in chains]:
                    done.result()  # the first failure, after every chain has stopped
        else:
            for chain in chains:
                run(chain)
        for name in names:
            sink.release(name)


def unfinished(sink: Sink) -> bool:
    """Whether the facts wait for :func:`finish`: deferred months, or never built while there are order lines."""
    state = _state(sink)
    return state == "pending" or (state == "absent" and _exists(sink, "orders")
                                  and bool(sink.fetch(f"SELECT count(*) FROM {q('orders')}")[0][0]))


def finish(wh: Warehouse, sink: Sink) -> None:
    """Inside a transaction of its own, after a folder import: recompute what :func:`refresh` deferred."""
    if unfinished(sink):
        refresh(wh, sink, "orders", set())


def complete(wh: Warehouse) -> bool:
    """Whether the warehouse's facts were built from every line and kept since (see the module docstring).

    ``_facts_state`` exists only then (it is created complete and dropped when a source is written around
    the importer), so one listing of the tables answers — the measures ask on every run."""
    tables = set(wh.list_tables())
    return FACTS_STATE in tables and all(f.name in tables for f in FACTS)


def rebuild(wh: Warehouse) -> None:
    """Build every fact from every line (an engine without transactions, e.g. Spark, or an old warehouse)."""
    for f in FACTS:
        wh.write_table(f.name, f.ordered(f.build(wh.table)))
    wh.write_table(FACTS_STATE, pa.table({"complete": [True], "built_at": [clock.local_now().replace(tzinfo=None)]},
                                         schema=STATE_SCHEMA))
