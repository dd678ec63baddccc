"""Seeded random input tables for the monitoring, with every edge type the rules distinguish.

Two batches (one in its first, one in its second cycle year for as-of dates in 2024; one starts on a
29 February), regional primaries, backups, non-selected products and a product of no variety; orders
never accepted, accepted after the as-of date, partially accepted, accepted at midnight; payments
before, on and after the due day, partial and overpaid; supply-problem reports verified or not, with
and without dates, on selected, backup and non-selected products; a special variety; agreements of 0.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from jicai.contract.arrow import from_pylist

AS_OFS = (date(2024, 3, 1), date(2024, 7, 31), date(2024, 12, 31), date(2025, 2, 28))
REGIONS = ("610102", "610103", "610202", "620102", "620201", "630101")


def random_rows(seed: int = 1, order_lines: int = 600) -> dict[str, list[dict]]:
    r = random.Random(seed)
    insts = [{"institution_code": f"H{i:02d}", "name": f"医院{i}", "region_code": r.choice(REGIONS),
              "level": r.choice([0, 1, 2, 3]), "kind": "hospital", "public": True} for i in range(14)]
    batches = [
        {"batch_id": "B1", "name": "一", "category": "drug", "start_date": date(2024, 1, 1), "cycle_years": 2},
        {"batch_id": "B2", "name": "二", "category": "drug", "start_date": date(2023, 7, 15), "cycle_years": 3},
        {"batch_id": "B3", "name": "三", "category": "consumable", "start_date": date(2024, 2, 29), "cycle_years": 2},
    ]
    varieties, products, selected = [], [], []
    for vi in range(7):
        b = batches[vi % 3]["batch_id"]
        v = f"V{vi}"
        special = {}
        if vi == 1:
            special = {"special": "seasonal", "special_start": date(2024, 5, 1), "special_end": date(2024, 8, 31)}
        if vi == 4:
            special = {"special": "shortage", "special_start": None, "special_end": date(2024, 6, 30)}
        varieties.append({"variety_id": v, "batch_id": b, "name": f"品种{vi}", "unit": "片", **special})
        codes = [f"{v}P{j}" for j in range(5)]
        for c in codes:
            products.append({"product_code": c, "name": c, "variety_id": v,
                             "units_per_pack": float(r.choice([1, 7, 10, 24, 28])), "category": "drug"})
        regions = r.choice([("", None), ("61", "62;63"), ("6101;62", None), ("61", "6102;62; 63")])
        selected.append({"batch_id": b, "variety_id": v, "product_code": codes[0], "enterprise_code": "E0",
                         "unit_price": 1.0, "role": "primary", "regions": regions[0] or None})
        if regions[1] is not None:
            selected.append({"batch_id": b, "variety_id": v, "product_code": codes[1], "enterprise_code": "E1",
                             "unit_price": 1.0, "role": "primary", "regions": regions[1]})
        selected.append({"batch_id": b, "variety_id": v, "product_code": codes[2], "enterprise_code": "E2",
                         "unit_price": 1.0, "role": "backup", "regions": r.choice(["", None, "61", "62;61"])})
    products.append({"product_code": "NOVAR", "name": "无品种", "variety_id": None, "units_per_pack": 1.0,
                     "category": "drug"})
    pcodes = [p["product_code"] for p in products]

    agreements = []
    for i in insts:
        for v in varieties:
            if r.random() < 0.8:
                for k in (1, 2):
                    agreements.append({"batch_id": v["batch_id"], "cycle_year": k,
                                       "institution_code": i["institution_code"], "variety_id": v["variety_id"],
                                       "agreed_volume": float(r.choice([0, 100, 500, 1000, 2400, 5000]))})

    sps = []
    for n in range(16):
        v = r.choice(varieties)["variety_id"]
        start = date(2024, 1, 1) + timedelta(days=r.randint(-60, 300))
        sps.append({"report_id": f"R{n}", "institution_code": r.choice(insts)["institution_code"],
                    "product_code": f"{v}P{r.choice([0, 0, 0, 1, 2, 3])}", "problem": "shortage",
                    "reported_at": datetime.combine(start, time(9)), "verified": n % 4 != 3,
                    "start_date": start if r.random() < 0.8 else None,
                    "end_date": start + timedelta(days=r.randint(0, 90)) if r.random() < 0.8 else None})
    orders, deliveries, payments = [], [], []
    t0 = datetime(2023, 6, 1)
    # planted: backup and non-selected purchases inside (and around) the reported periods
    planted = []
    for sp in sps:
        v = sp["product_code"].split("P")[0]
        day = sp["start_date"] or sp["reported_at"].date()
        for _ in range(4):
            when = datetime.combine(day + timedelta(days=r.randint(-3, 20)), time(r.randint(0, 23)))
            planted.append((sp["institution_code"], f"{v}P{r.choice([2, 2, 3, 4])}", when - timedelta(days=2)))
    for n in range(order_lines + len(planted)):
        line = f"L{n:05d}"
        if n < order_lines:
            inst, product = r.choice(insts)["institution_code"], r.choice(pcodes)
            ordered = t0 + timedelta(days=r.randint(0, 640), hours=r.randint(0, 23), minutes=r.choice([0, 30]))
        else:
            inst, product, ordered = planted[n - order_lines]
        packs = float(r.randint(1, 40))
        price = round(r.uniform(1, 90), 2)
        orders.append({"order_line_id": line, "order_id": f"O{n // 3}", "institution_code": inst,
                       "product_code": product, "distributor_code": "D1", "quantity": packs,
                       "pack_price": price, "ordered_at": ordered, "channel": r.choice(["platform"] * 4 + ["offline"])})
        u = r.random()
        if u < 0.08:
            continue  # no delivery row
        accepted = ordered + timedelta(days=r.randint(0, 12), hours=r.randint(0, 12))
        if r.random() < 0.1:
            accepted = datetime.combine(accepted.date(), time(0, 0))
        acc_packs = packs if r.random() < 0.8 else float(r.randint(0, int(packs)))
        if u < 0.14:
            deliveries.append({"order_line_id": line, "shipped_at": accepted, "accepted_at": None,
                               "accepted_quantity": None})
            continue
        deliveries.append({"order_line_id": line, "accepted_at": accepted, "accepted_quantity": acc_packs})
        amount = acc_packs * price
        m0 = accepted.month  # due: last day of the next month
        due = date(accepted.year + m0 // 12, m0 % 12 + 1, 1)
        due = date(due.year + due.month // 12, due.month % 12 + 1, 1) - timedelta(days=1)
        for j in range(r.choice([0, 1, 1, 1, 2])):
            kind = r.random()
            if kind < 0.25:
                paid = datetime.combine(due, time(23, 59))
            elif kind < 0.4:
                paid = datetime.combine(due + timedelta(days=1), time(0, 0))
            else:
                paid = accepted + timedelta(days=r.randint(0, 90))
            share = r.choice([1.0, 1.0, 0.5, 0.3, 1.2]) / (j + 1)
            payments.append({"payment_id": f"{line}-{j}", "order_line_id": line, "amount": round(amount * share, 2),
                             "paid_at": paid})

    return {"institutions": insts, "batches": batches, "varieties": varieties, "products": products,
            "selected_products": selected, "agreements": agreements, "orders": orders, "deliveries": deliveries,
            "payments": payments, "supply_problems": sps}


def random_tables(seed: int = 1, order_lines: int = 600):
    return {name: from_pylist(name, rows) for name, rows in random_rows(seed, order_lines).items()}
