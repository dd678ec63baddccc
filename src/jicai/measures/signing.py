"""Signing progress (签约进度): agreements not signed by the day execution starts (002 二、及时组织签订协议).

Seed 002 asks the bureau to have the winning enterprises, the distributors and the institutions sign their
purchase agreements 每批次集采落地执行前 … 严格按要求的时间节点, and the district bureaus (属地分局) to follow
up those that do not. One row per institution × batch × cycle year with agreements (``agreements`` rows, one
per variety), as of an inclusive date D, optionally for one batch:

* the **deadline** (``cycle_start``) of an agreement of cycle year k is the first day of that cycle year: the
  batch's ``start_date`` for k = 1, and start + (k − 1) years for the yearly renewals (003: 每年续签一次采购协议;
  29 February + 1 year = 28 February, as everywhere in jicai);
* an agreement is **signed** as of D when its ``signed_date`` is on or before D; one signed later is unsigned
  as of D (``unsigned``);
* **on time** when signed on or before its deadline — signing *on* the start date is on time: the agreement is
  in force on the first day of execution, so the selected product can enter the hospital from that day (the
  aim the seed gives: 确保中选产品顺利进院), and the data carry days, not hours; **late** (``signed_late``) when
  signed after it;
* days late of an agreement = signed_date − deadline when signed late, D − deadline when unsigned as of D
  after its deadline, else 0; ``late_agreements`` counts agreements with days late > 0 (signed late, or still
  unsigned after the deadline: an agreement unsigned before its deadline is not late yet, not even on the
  deadline itself), and ``max_days_late`` is their largest (0 when none is late).

Every agreement of the batches counts, whatever its cycle year, so the table shows the progress before
execution starts too. Reads no policy parameter.

>>> from jicai.store import connect
>>> from jicai.contract.arrow import empty
>>> from datetime import date
>>> wh = connect("duckdb://")
>>> for name in INPUT_TABLES: _ = wh.write_table(name, empty(name))
>>> signing(wh, date(2024, 6, 30)).to_pyarrow().num_rows
0
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from jicai.contract.columns import cols
from jicai.measures.cycles import add_years
from jicai.measures.registry import Dims, Measure
from jicai.store import Warehouse

INPUT_TABLES = ("agreements", "batches", "institutions")
KEYS = ["institution_code", "batch_id", "cycle_year", "cycle_start"]


def signing(wh: Warehouse, as_of: date, batch_id: str | None = None, policy: Any = None) -> ir.Table:
    """Signing progress as of ``as_of`` (inclusive), for ``batch_id`` or every batch; ``policy`` is not read."""
    day = ibis.literal(as_of)
    b = wh.table("batches")
    if batch_id is not None:
        b = b.filter(b.batch_id == batch_id)
    a = wh.table("agreements").join(b.select("batch_id", "start_date"), "batch_id")
    a = a.select("institution_code", "batch_id", "signed_date", cycle_year=a.cycle_year.cast("int64"),
                 cycle_start=add_years(a.start_date, a.cycle_year - 1))
    signed = a.signed_date.notnull() & (a.signed_date <= day)  # False, not null, for a blank signed_date
    days = ibis.ifelse(signed, a.signed_date.delta(a.cycle_start, unit="day"),
                       day.delta(a.cycle_start, unit="day"))
    f = a.select(*KEYS,
                 on_time=ibis.ifelse(signed & (a.signed_date <= a.cycle_start), 1, 0),
                 late=ibis.ifelse(signed & (a.signed_date > a.cycle_start), 1, 0),
                 open=ibis.ifelse(signed, 0, 1),
                 days=ibis.greatest(days, 0).cast("int64"))
    g = f.group_by(KEYS).agg(
        agreements=f.count().cast("int64"),
        signed_on_time=f.on_time.sum().cast("int64"),
        signed_late=f.late.sum().cast("int64"),
        unsigned=f.open.sum().cast("int64"),
        late_agreements=ibis.ifelse(f.days > 0, 1, 0).sum().cast("int64"),
        max_days_late=f.days.max().cast("int64"),
    )
    inst = wh.table("institutions")
    inst = inst.select("institution_code", institution_name=inst.name, region_code=inst.region_code)
    g = g.left_join(inst, "institution_code").drop("institution_code_right")
    return g.select(*[c.name for c in COLUMNS])


COLUMNS = cols(
    "institution_code", "institution_name", "region_code", "batch_id", "cycle_year", "cycle_start", "agreements",
    "signed_on_time", "signed_late", "unsigned", "late_agreements", "max_days_late",
    cycle_start=("应签约日", "deadline: the first day of cycle year k (the batch start_date for k = 1); "
                          "signed on that day is on time"),
    agreements=("约定品种数", "agreements of the institution in the batch and cycle year (one per variety)"),
)

MEASURES = (
    Measure(
        name="signing", title_zh="签约进度", title_en="Signing progress",
        compute=lambda wh, a: signing(wh, a.as_of, a.batch),
        params=("as_of", "batch"), optional=("batch",), inputs=INPUT_TABLES, columns=COLUMNS,
        dims=Dims(institution="institution_code", region="region_code"),
        roles=("admin", "bureau", "auditor", "institution"),
        sort=("batch_id", "cycle_year", "region_code", "institution_code"),
        totals=("agreements", "signed_on_time", "signed_late", "unsigned", "late_agreements"),
        note_zh="按医疗机构、批次、采购年度:执行日(续签为年度开始日)前未签订协议的品种数与逾期天数,执行日当天签订为按时",
        note_en="agreements not signed by the start of execution (of the cycle year for renewals), with days late; "
                "signed on the start date is on time",
        doc=__doc__,
    ),
)
