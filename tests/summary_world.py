"""The small province of the one-page summary tests (tests/test_summary.py): the web tests' world
(tests/web_fixtures.py) with its own purchases, so that each level-3 hospital is best at one measure and worst
at another.

Batch B1 starts 2024-01-01 (cycle year 1 = 2024, 366 days); each hospital agreed 1,000 tablets of V1
(selected P1 at 2.0 yuan a tablet, 20 yuan a pack of 10).

* HA (level 3): 60 packs of P1 accepted 2024-02-02 and 10 packs 2024-06-05 — completion 600/1,000 = 60.0% at
  the end of May, 700/1,000 = 70.0% on 2024-06-30; never pays (¥1,200 overdue on 2024-06-30; the June line
  is not due yet).
* HC (level 3): 20 packs of P1 and 30 packs of the non-selected P1N (30 yuan a pack) accepted 2024-02-02,
  paid in full the next day — completion 20.0%, non-selected share 300 / 500 = 60.0%, payment rate 100%.
* HB (level 2): nothing (alone in its level: no rank).
"""

from __future__ import annotations

from datetime import datetime as d

import pyarrow as pa
from tests.web_fixtures import EA, EB, HA, HC, P1, P1N, world_rows

from jicai.contract.arrow import from_pylist


def _line(n: int, inst: str, product: str, packs: float, price: float, accepted: d, dist: str = EA):
    order = {"order_line_id": f"S{n}", "order_id": f"SO{n}", "institution_code": inst, "product_code": product,
             "distributor_code": dist, "quantity": packs, "pack_price": price,
             "ordered_at": accepted.replace(hour=8), "channel": "platform"}
    delivery = {"order_line_id": f"S{n}", "responded_at": accepted.replace(hour=9),
                "shipped_at": accepted.replace(hour=10), "shipped_quantity": packs,
                "accepted_at": accepted.replace(hour=11), "accepted_quantity": packs}
    return order, delivery


def summary_rows() -> dict[str, list[dict]]:
    rows = world_rows()
    lines = [_line(1, HA, P1, 60, 20.0, d(2024, 2, 2)), _line(2, HA, P1, 10, 20.0, d(2024, 6, 5)),
             _line(3, HC, P1, 20, 20.0, d(2024, 2, 2)), _line(4, HC, P1N, 30, 30.0, d(2024, 2, 2), EB)]
    rows["orders"] = [o for o, _ in lines]
    rows["deliveries"] = [x for _, x in lines]
    rows["payments"] = [
        {"payment_id": "PAY3", "order_line_id": "S3", "amount": 400.0, "paid_at": d(2024, 2, 3, 9)},
        {"payment_id": "PAY4", "order_line_id": "S4", "amount": 900.0, "paid_at": d(2024, 2, 3, 9)},
    ]
    return rows


def summary_tables() -> dict[str, pa.Table]:
    return {name: from_pylist(name, r) for name, r in summary_rows().items()}
