"""Receivables (应收未收货款): what institutions owe each distributor, and how long it has been overdue (003).

Seed 003 makes the institution the first party responsible for paying the goods: 结清时间不得超过交货验收合格后
次月底. One row per distributor (``orders.distributor_code``, the enterprise that delivers and is paid) ×
manufacturer of the product (``products.manufacturer_code``, null when unknown) × institution, as of an
inclusive date D, over every order line accepted on or before D (every product: the institution owes the
distributor for each accepted line, whatever the product's class; the monitoring's 回款率 counts only the
VBP varieties of one cycle year):

* line amount = accepted_quantity × pack_price; ``accepted_amount`` = Σ line amounts;
* due date = last day of the month after the acceptance month (policy ``payment_due``, read on D, the same
  rule as the monitoring's 回款, :func:`jicai.measures.purchases.due_next`); a line accepted on 31 January
  is due on the last day of February;
* ``amount_due`` = Σ line amounts of lines due on or before D;
* a line's amount due = its amount rounded to the fen **once, half up** (四舍五入: 3 packs × 12.3456 =
  37.0368 is due as 37.04) and its outstanding amount = max(0, amount due − its payments with ``paid_at`` on
  or before D), in whole fen (:func:`jicai.measures.purchases.outstanding_yuan` says why: payments are made
  in fen, the supplier's invoice rounds half up, and sub-fen digits must not add up across lines); a line's
  overpayment never covers another line; ``outstanding_amount`` = Σ of them and
  ``paid_amount`` = accepted_amount − outstanding_amount, so the two add up to the accepted amount;
* a line is **overdue** when its due date is before D and it has an outstanding amount: a payment on the
  due day is on time, and a line due on D itself is not overdue yet. ``overdue_amount`` = Σ outstanding of
  overdue lines, ``overdue_lines`` their count, ``oldest_overdue_due`` their earliest due date and
  ``max_overdue_days`` = D − that date (1 the day after the due day; both null when nothing is overdue).

Amounts are sums of float yuan, as the monitoring's 回款 columns (purchases.py, payment.py).

An enterprise user sees the rows where it is the distributor or the manufacturer; an institution its own
rows; a district bureau the rows of its region's institutions.

>>> from jicai.store import connect
>>> from jicai.contract.arrow import empty
>>> from datetime import date
>>> wh = connect("duckdb://")
>>> for name in INPUT_TABLES: _ = wh.write_table(name, empty(name))
>>> receivables(wh, date(2024, 6, 30)).to_pyarrow().num_rows
0
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.contract.columns import cols
from jicai.measures.cycles import day_after
from jicai.measures.exact import fen, yuan
from jicai.measures.purchases import due_next
from jicai.measures.registry import Dims, Measure
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

INPUT_TABLES = ("orders", "deliveries", "payments", "products", "institutions", "enterprises")
KEYS = ["distributor_code", "manufacturer_code", "institution_code"]


def _lines(wh: Warehouse, day: date, payment_due: str) -> ir.Table:
    """Accepted lines through ``day`` with their amount, outstanding amount, due date and overdue flag."""
    end = day_after(day)
    d = wh.table("deliveries")
    d = d.filter(d.accepted_at.notnull() & d.accepted_quantity.notnull() & (d.accepted_at < end))
    p = wh.table("payments")
    p = p.filter(p.paid_at < end)
    paid = p.group_by("order_line_id").agg(paid=p.amount.sum())  # per line: an overpayment stays on its line
    o = wh.table("orders").select("order_line_id", "institution_code", "product_code", "distributor_code",
                                  "pack_price")
    j = o.join(d.select("order_line_id", "accepted_at", "accepted_quantity"), "order_line_id")
    j = j.left_join(paid, "order_line_id").drop("order_line_id_right")
    # each line's amount and what is paid on it in whole fen, rounded once, half up (purchases.outstanding_yuan):
    # the sums below add up to the fen and a line paid its rounded amount is settled
    amount = fen(j.accepted_quantity * j.pack_price)
    rest = amount - fen(j.paid.fill_null(0.0))
    outstanding = ibis.ifelse(rest >= 1, rest, 0)
    nxt = due_next(j.accepted_at, payment_due)  # the day after the due date: due < D ⇔ nxt ≤ D
    D = ibis.literal(day)
    return j.select(
        "distributor_code", "institution_code", "product_code",
        amount=amount,
        outstanding=outstanding,
        due=nxt - ibis.interval(days=1),
        is_due=nxt <= D + ibis.interval(days=1),
        overdue=(nxt <= D) & (outstanding > 0),
    )


def receivables(wh: Warehouse, as_of: date, policy: Policy | None = None) -> ir.Table:
    """The receivables as of ``as_of`` (inclusive); see the module docstring and COLUMNS."""
    policy = policy or load_policy()
    lines = _lines(wh, as_of, policy.value("payment_due", as_of))
    prod = wh.table("products")
    lines = lines.left_join(prod.select("product_code", "manufacturer_code"), "product_code")
    g = lines.group_by(KEYS).agg(
        accepted_amount=yuan(lines.amount.sum()),
        amount_due=yuan(ibis.ifelse(lines.is_due, lines.amount, 0).sum()),
        outstanding_amount=yuan(lines.outstanding.sum()),
        overdue_amount=yuan(ibis.ifelse(lines.overdue, lines.outstanding, 0).sum()),
        overdue_lines=ibis.ifelse(lines.overdue, 1, 0).sum().cast("int64"),
        oldest_overdue_due=lines.due.min(where=lines.overdue),
    )
    g = g.mutate(paid_amount=yuan(fen(g.accepted_amount) - fen(g.outstanding_amount)),
                 max_overdue_days=ibis.literal(as_of).delta(g.oldest_overdue_due, unit="day").cast("int64"))

    ent = wh.table("enterprises")
    dist = ent.select(distributor_code=ent.enterprise_code, distributor_name=ent.name)
    mk = ent.view()  # the same table joined a second time
    maker = mk.select(manufacturer_code=mk.enterprise_code, manufacturer_name=mk.name)
    inst = wh.table("institutions")
    inst = inst.select("institution_code", institution_name=inst.name, region_code=inst.region_code)
    for names, key in ((dist, "distributor_code"), (maker, "manufacturer_code"), (inst, "institution_code")):
        g = g.left_join(names, key).drop(f"{key}_right")
    return g.select(*[c.name for c in COLUMNS])


COLUMNS = cols(
    "distributor_code", "distributor_name", "manufacturer_code", "manufacturer_name", "institution_code",
    "institution_name", "region_code", "accepted_amount", "amount_due", "paid_amount", "outstanding_amount",
    "overdue_amount", "overdue_lines", "oldest_overdue_due", "max_overdue_days",
    distributor_code=("配送企业代码", "distributor of the order lines: the enterprise the institution pays"),
    accepted_amount=("验收金额", "Σ accepted_quantity × pack_price of the lines accepted on or before the as-of date"),
)

MEASURES = (
    Measure(
        name="receivables", title_zh="应收未收货款", title_en="Receivables owed to distributors",
        compute=lambda wh, a: receivables(wh, a.as_of, a.policy),
        params=("as_of",), inputs=INPUT_TABLES, columns=COLUMNS,
        dims=Dims(institution="institution_code", region="region_code",
                  enterprise=("distributor_code", "manufacturer_code")),
        roles=("admin", "bureau", "auditor", "enterprise", "institution"),
        sort=("distributor_code", "institution_code", "manufacturer_code"),
        policy=("payment_due",),
        totals=("accepted_amount", "amount_due", "paid_amount", "outstanding_amount", "overdue_amount",
                "overdue_lines"),
        note_zh="按配送企业、生产企业、医疗机构:验收货款、到期应付、已付、未付、逾期金额与最长逾期天数(验收合格后次月底结清)",
        note_en="what institutions owe each distributor, overdue amounts and days (due at the end of the month "
                "after acceptance)",
        doc=__doc__,
    ),
)
