"""Hand-computed scenarios of the monthly monitoring: input rows in, expected rows out.

The world (``BASE``): batch B1 starts 2024-01-01 (a leap year: 366 days), two cycle years; variety V1
with products P1 (primary, regions "61"), P1R (primary, regions "62"), P1B (backup, all regions), P1N
(non-selected); variety V2 (special = shortage in March 2024) with P2 (primary) and P2N; batch B3 starts
2024-02-29 with variety V3 / product P3. Every product has 10 units per pack at 20 yuan per pack, so
``packs`` × 10 = volume and × 20 = amount. H1 (610102) and H3 (610103) are in Shaanxi, H2 (620102) in
Gansu. 2024-07-01 is day 183 of 366: time progress exactly 0.5.

A scenario lists agreements, purchases (``buys``: order line, its delivery and payments), supply-problem
reports, optional policy overrides, and the expected values of the rows it names; ``rows`` (when given)
is the exact set of (institution, variety, cycle_year) rows.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time

import pandas as pd
import pytest

from jicai.contract.arrow import from_pylist
from jicai.measures.monitor import monitor
from jicai.policy import load_policy

BASE: dict[str, list[dict]] = {
    "institutions": [
        {"institution_code": "H1", "name": "医院一", "region_code": "610102", "level": 3, "kind": "hospital", "public": True},
        {"institution_code": "H2", "name": "医院二", "region_code": "620102", "level": 2, "kind": "hospital", "public": True},
        {"institution_code": "H3", "name": "医院三", "region_code": "610103", "level": 1, "kind": "primary", "public": True},
    ],
    "batches": [
        {"batch_id": "B1", "name": "第一批", "category": "drug", "start_date": date(2024, 1, 1), "cycle_years": 2},
        {"batch_id": "B3", "name": "闰日批", "category": "drug", "start_date": date(2024, 2, 29), "cycle_years": 2},
    ],
    "varieties": [
        {"variety_id": "V1", "batch_id": "B1", "name": "品种一", "unit": "片"},
        {"variety_id": "V2", "batch_id": "B1", "name": "品种二", "unit": "片", "special": "shortage",
         "special_start": date(2024, 3, 1), "special_end": date(2024, 3, 31)},
        {"variety_id": "V3", "batch_id": "B3", "name": "品种三", "unit": "支"},
    ],
    "products": [
        {"product_code": p, "name": p, "variety_id": v, "units_per_pack": 10.0, "category": "drug"}
        for p, v in [("P1", "V1"), ("P1R", "V1"), ("P1B", "V1"), ("P1N", "V1"), ("P2", "V2"), ("P2N", "V2"),
                     ("P3", "V3"), ("PX", None)]
    ],
    "selected_products": [
        {"batch_id": "B1", "variety_id": "V1", "product_code": "P1", "enterprise_code": "E1", "unit_price": 2.0,
         "role": "primary", "regions": "61"},
        {"batch_id": "B1", "variety_id": "V1", "product_code": "P1R", "enterprise_code": "E2", "unit_price": 2.0,
         "role": "primary", "regions": " 6201; 63 "},
        {"batch_id": "B1", "variety_id": "V1", "product_code": "P1B", "enterprise_code": "E3", "unit_price": 2.0,
         "role": "backup", "regions": ""},
        {"batch_id": "B1", "variety_id": "V2", "product_code": "P2", "enterprise_code": "E1", "unit_price": 2.0,
         "role": "primary", "regions": None},
        {"batch_id": "B3", "variety_id": "V3", "product_code": "P3", "enterprise_code": "E1", "unit_price": 2.0,
         "role": "primary", "regions": None},
    ],
}


def _ts(v: str | None, default_time: time = time(10, 0)) -> datetime | None:
    if v is None:
        return None
    return datetime.fromisoformat(v) if "T" in v else datetime.combine(date.fromisoformat(v), default_time)


def build(scenario: dict) -> dict[str, list[dict]]:
    """Rows of every input table for a scenario (the BASE world plus the scenario's own rows)."""
    rows = {k: list(v) for k, v in BASE.items()}
    rows["agreements"] = [
        {"batch_id": a.get("batch", "B1"), "cycle_year": a.get("k", 1), "institution_code": a["inst"],
         "variety_id": a.get("variety", "V1"), "agreed_volume": float(a["agreed"])}
        for a in scenario.get("agreements", [])
    ]
    rows["orders"], rows["deliveries"], rows["payments"] = [], [], []
    for i, b in enumerate(scenario.get("buys", [])):
        line = f"L{i}"
        ordered = b.get("ordered") or b.get("accepted") or "2024-01-02"
        rows["orders"].append({
            "order_line_id": line, "order_id": f"O{i}", "institution_code": b.get("inst", "H1"),
            "product_code": b.get("product", "P1"), "distributor_code": "D1", "quantity": float(b["packs"]),
            "pack_price": float(b.get("price", 20.0)), "ordered_at": _ts(ordered, time(8, 0)),
            "channel": b.get("channel", "platform"),
        })
        if b.get("accepted"):
            rows["deliveries"].append({
                "order_line_id": line, "accepted_at": _ts(b["accepted"]),
                "accepted_quantity": float(b.get("acc_packs", b["packs"])),
            })
        for j, (amount, paid_at) in enumerate(b.get("paid", [])):
            rows["payments"].append({"payment_id": f"{line}-{j}", "order_line_id": line, "amount": float(amount),
                                     "paid_at": _ts(paid_at, time(15, 0))})
    rows["supply_problems"] = [
        {"report_id": f"R{i}", "institution_code": s.get("inst", "H1"), "product_code": s.get("product", "P1"),
         "problem": "shortage", "reported_at": _ts(s.get("reported", s.get("start") or "2024-01-02")),
         "verified": s.get("verified", True),
         "start_date": date.fromisoformat(s["start"]) if s.get("start") else None,
         "end_date": date.fromisoformat(s["end"]) if s.get("end") else None}
        for i, s in enumerate(scenario.get("sp", []))
    ]
    return rows


def arrow_tables(scenario: dict):
    return {name: from_pylist(name, r) for name, r in build(scenario).items()}


def policy_of(scenario: dict):
    p = load_policy()
    return p.with_values(**scenario["policy"]) if scenario.get("policy") else p


MARCH_SP = {"inst": "H1", "product": "P1", "start": "2024-03-01", "end": "2024-03-31"}
A1 = [{"inst": "H1", "agreed": 1000}]
JUL1 = date(2024, 7, 1)  # time progress exactly 0.5

SCENARIOS: list[dict] = [
    dict(name="zero purchase: agreement without purchases still has a row", as_of=JUL1, agreements=A1,
         rows={("H1", "V1", 1)},
         expect={("H1", "V1"): dict(status="zero", completion=0.0, selected_volume=0.0, time_progress=0.5,
                                    nonselected_share=None, nonselected_excess=False, payment_rate=None,
                                    offline_share=None, onboarded=False, not_onboarded=True, shortfall_volume=500.0,
                                    region_code="610102", level=3, cycle_start=date(2024, 1, 1),
                                    cycle_end=date(2024, 12, 31))}),
    dict(name="behind time progress", as_of=JUL1, agreements=A1,
         buys=[{"packs": 40, "accepted": "2024-05-01"}],
         expect={("H1", "V1"): dict(status="behind", completion=0.4, selected_volume=400.0, selected_amount=800.0,
                                    shortfall_volume=100.0, onboarded=True, not_onboarded=False)}),
    dict(name="completion exactly equal to time progress is not behind", as_of=JUL1, agreements=A1,
         buys=[{"packs": 50, "accepted": "2024-05-01"}],
         expect={("H1", "V1"): dict(status="normal", completion=0.5, shortfall_volume=0.0)}),
    dict(name="completion exactly 1.0 is normal, not over", as_of=JUL1, agreements=A1,
         buys=[{"packs": 100, "accepted": "2024-05-01"}],
         expect={("H1", "V1"): dict(status="normal", completion=1.0)}),
    dict(name="over agreed volume", as_of=JUL1, agreements=A1,
         buys=[{"packs": 101, "accepted": "2024-05-01"}],
         expect={("H1", "V1"): dict(status="over", completion=1.01)}),
    dict(name="zero beats behind: only non-selected purchases", as_of=JUL1, agreements=A1,
         buys=[{"product": "P1N", "packs": 10, "accepted": "2024-05-01"}],
         expect={("H1", "V1"): dict(status="zero", nonselected_volume=100.0, nonselected_share=1.0,
                                    nonselected_excess=True, onboarded=False, not_onboarded=True)}),
    dict(name="backup inside a verified supply-problem period counts as selected", as_of=JUL1, agreements=A1,
         sp=[MARCH_SP],
         buys=[{"product": "P1B", "packs": 30, "accepted": "2024-03-15"},
               {"product": "P1", "packs": 20, "accepted": "2024-05-01"}],
         expect={("H1", "V1"): dict(selected_volume=500.0, backup_volume=300.0, nonselected_volume=0.0,
                                    backup_amount=600.0, selected_amount=1000.0, completion=0.5, status="normal",
                                    nonselected_share=0.0)}),
    dict(name="backup outside the period is non-selected; share exactly 0.5 is not excess", as_of=JUL1,
         agreements=A1, sp=[MARCH_SP],
         buys=[{"product": "P1B", "packs": 30, "accepted": "2024-04-01T00:00"},
               {"product": "P1", "packs": 30, "accepted": "2024-05-01"}],
         expect={("H1", "V1"): dict(selected_volume=300.0, backup_volume=0.0, nonselected_volume=300.0,
                                    nonselected_counted_volume=300.0, nonselected_amount=600.0,
                                    nonselected_share=0.5, nonselected_excess=False, status="behind")}),
    dict(name="period boundaries are inclusive days", as_of=JUL1, agreements=A1, sp=[MARCH_SP],
         buys=[{"product": "P1B", "packs": 1, "accepted": "2024-03-01T00:00"},
               {"product": "P1B", "packs": 2, "accepted": "2024-03-31T23:59:59"},
               {"product": "P1B", "packs": 4, "accepted": "2024-02-29T23:59:59"}],
         expect={("H1", "V1"): dict(backup_volume=30.0, selected_volume=30.0, nonselected_volume=40.0)}),
    dict(name="an unverified report has no effect", as_of=JUL1, agreements=A1,
         sp=[dict(MARCH_SP, verified=False)],
         buys=[{"product": "P1B", "packs": 30, "accepted": "2024-03-15"},
               {"product": "P1N", "packs": 10, "accepted": "2024-03-15"},
               {"product": "P1", "packs": 20, "accepted": "2024-05-01"}],
         expect={("H1", "V1"): dict(selected_volume=200.0, backup_volume=0.0, nonselected_volume=400.0,
                                    nonselected_counted_volume=400.0, nonselected_share=400 / 600,
                                    nonselected_excess=True)}),
    dict(name="a report on another institution or a non-selected product has no effect", as_of=JUL1,
         agreements=A1, sp=[dict(MARCH_SP, inst="H3"), dict(MARCH_SP, product="P1N"), dict(MARCH_SP, product="P1R")],
         buys=[{"product": "P1B", "packs": 30, "accepted": "2024-03-15"}],
         expect={("H1", "V1"): dict(selected_volume=0.0, nonselected_volume=300.0, status="zero")}),
    dict(name="non-selected inside the period is left out of the share", as_of=JUL1, agreements=A1, sp=[MARCH_SP],
         buys=[{"product": "P1N", "packs": 50, "accepted": "2024-03-10"},
               {"product": "P1N", "packs": 10, "accepted": "2024-04-10"},
               {"product": "P1", "packs": 20, "accepted": "2024-05-01"}],
         expect={("H1", "V1"): dict(nonselected_volume=600.0, nonselected_counted_volume=100.0,
                                    nonselected_share=100 / 300, nonselected_excess=False)}),
    dict(name="open-ended period (no end date) runs through the as-of date; start defaults to the report date",
         as_of=JUL1, agreements=A1, sp=[{"inst": "H1", "product": "P1", "reported": "2024-06-01"}],
         buys=[{"product": "P1B", "packs": 5, "accepted": "2024-05-31"},
               {"product": "P1B", "packs": 7, "accepted": "2024-06-01"}],
         expect={("H1", "V1"): dict(backup_volume=70.0, nonselected_volume=50.0)}),
    dict(name="overlapping periods never double count", as_of=JUL1, agreements=A1,
         sp=[MARCH_SP, dict(MARCH_SP, start="2024-03-10", end="2024-04-10")],
         buys=[{"product": "P1B", "packs": 3, "accepted": "2024-03-15"},
               {"product": "P1B", "packs": 5, "accepted": "2024-04-05"}],
         expect={("H1", "V1"): dict(backup_volume=80.0, selected_volume=80.0, nonselected_volume=0.0)}),
    dict(name="non-selected share above 0.5 is excess", as_of=JUL1, agreements=A1,
         buys=[{"product": "P1", "packs": 20, "accepted": "2024-05-01"},
               {"product": "P1N", "packs": 21, "accepted": "2024-05-01"}],
         expect={("H1", "V1"): dict(nonselected_share=210 / 410, nonselected_excess=True)}),
    dict(name="a special variety inside its period is exempt from the share", as_of=JUL1,
         agreements=[{"inst": "H1", "variety": "V2", "agreed": 100}],
         buys=[{"product": "P2N", "packs": 50, "accepted": "2024-03-31"},
               {"product": "P2N", "packs": 1, "accepted": "2024-04-01"},
               {"product": "P2", "packs": 4, "accepted": "2024-04-02"}],
         expect={("H1", "V2"): dict(nonselected_volume=510.0, nonselected_counted_volume=10.0,
                                    nonselected_share=0.2, completion=0.4)}),
    dict(name="special_treatment = none removes the exemption", as_of=JUL1, policy={"special_treatment": "none"},
         agreements=[{"inst": "H1", "variety": "V2", "agreed": 100}],
         buys=[{"product": "P2N", "packs": 50, "accepted": "2024-03-31"},
               {"product": "P2", "packs": 50, "accepted": "2024-04-02"}],
         expect={("H1", "V2"): dict(nonselected_counted_volume=500.0, nonselected_share=0.5)}),
    dict(name="regional selected products: prefixes decide which primary is selected", as_of=JUL1,
         agreements=[{"inst": "H1", "agreed": 1000}, {"inst": "H2", "agreed": 1000}],
         buys=[{"inst": "H2", "product": "P1R", "packs": 50, "accepted": "2024-05-01"},
               {"inst": "H2", "product": "P1", "packs": 10, "accepted": "2024-05-01"},
               {"inst": "H1", "product": "P1R", "packs": 10, "accepted": "2024-05-01"},
               {"inst": "H1", "product": "P1", "packs": 60, "accepted": "2024-05-01"}],
         expect={("H2", "V1"): dict(selected_volume=500.0, nonselected_volume=100.0, region_code="620102", level=2),
                 ("H1", "V1"): dict(selected_volume=600.0, nonselected_volume=100.0, status="normal")}),
    dict(name="accepted basis: unaccepted, accepted after D and partial acceptance", as_of=JUL1, agreements=A1,
         buys=[{"packs": 10, "ordered": "2024-05-01"},  # ordered, never accepted
               {"packs": 10, "ordered": "2024-06-30", "accepted": "2024-07-02"},  # accepted after D
               {"packs": 10, "ordered": "2024-05-01", "accepted": "2024-05-03", "acc_packs": 8}],
         expect={("H1", "V1"): dict(selected_volume=80.0, selected_amount=160.0, order_amount=600.0)}),
    dict(name="ordered basis (policy) counts ordered quantity on the order date", as_of=JUL1, agreements=A1,
         policy={"volume_basis": "ordered"},
         buys=[{"packs": 10, "ordered": "2024-05-01"},
               {"packs": 10, "ordered": "2024-06-30", "accepted": "2024-07-02"},
               {"packs": 10, "ordered": "2024-05-01", "accepted": "2024-05-03", "acc_packs": 8},
               {"packs": 10, "ordered": "2024-07-02"}],
         expect={("H1", "V1"): dict(selected_volume=300.0, selected_amount=600.0)}),
    dict(name="the as-of cut: accepted on D counts, the next midnight does not", as_of=JUL1, agreements=A1,
         buys=[{"packs": 1, "accepted": "2024-07-01T23:59:59"}, {"packs": 2, "accepted": "2024-07-02T00:00"},
               {"packs": 4, "accepted": "2023-12-31T23:59"}],
         expect={("H1", "V1"): dict(selected_volume=10.0)}),
    dict(name="time progress on day 1 of the cycle year", as_of=date(2024, 1, 1), agreements=A1,
         expect={("H1", "V1"): dict(time_progress=1 / 366, status="zero", not_onboarded=False)}),
    dict(name="time progress on the last day of the cycle year (leap year: 366 days)", as_of=date(2024, 12, 31),
         agreements=A1, buys=[{"packs": 99, "accepted": "2024-12-31T12:00"}],
         expect={("H1", "V1"): dict(time_progress=1.0, completion=0.99, status="behind", cycle_year=1)}),
    dict(name="cycle year 2: only its own agreement and purchases", as_of=date(2025, 3, 1),
         agreements=[{"inst": "H1", "agreed": 1000, "k": 1}, {"inst": "H1", "agreed": 365, "k": 2}],
         buys=[{"packs": 100, "accepted": "2024-12-31"}, {"packs": 3, "accepted": "2025-01-01T00:00"}],
         rows={("H1", "V1", 2)},
         expect={("H1", "V1"): dict(cycle_year=2, time_progress=60 / 365, selected_volume=30.0,
                                    completion=30 / 365, status="behind", cycle_start=date(2025, 1, 1),
                                    cycle_end=date(2025, 12, 31), onboarded=True, not_onboarded=False)}),
    dict(name="leap-day start: cycle year 1 ends 2025-02-27 (365 days)", as_of=date(2025, 2, 27),
         agreements=[{"inst": "H1", "variety": "V3", "batch": "B3", "agreed": 10}],
         rows={("H1", "V3", 1)},
         expect={("H1", "V3"): dict(time_progress=1.0, cycle_end=date(2025, 2, 27))}),
    dict(name="leap-day start: cycle year 2 starts 2025-02-28", as_of=date(2025, 2, 28),
         agreements=[{"inst": "H1", "variety": "V3", "batch": "B3", "agreed": 10, "k": 2}],
         rows={("H1", "V3", 2)},
         expect={("H1", "V3"): dict(time_progress=1 / 365, cycle_start=date(2025, 2, 28),
                                    cycle_end=date(2026, 2, 27))}),
    dict(name="before the start and after the last cycle year there are no rows", as_of=date(2026, 1, 1),
         agreements=[{"inst": "H1", "agreed": 10, "k": 2}, {"inst": "H1", "agreed": 10, "k": 3}], rows=set()),
    dict(name="payment due at the end of the next month; the due day is on time", as_of=date(2024, 4, 30),
         agreements=A1,
         buys=[{"packs": 10, "accepted": "2024-03-15", "paid": [(200, "2024-04-30T23:59")]},
               {"packs": 10, "accepted": "2024-03-31T23:00", "paid": [(150, "2024-04-10"), (100, "2024-05-01")]},
               {"packs": 5, "accepted": "2024-04-01", "paid": []}],  # due 2024-05-31: not due yet
         expect={("H1", "V1"): dict(amount_due=400.0, paid_by_due=350.0, payment_rate=0.875,
                                    overdue_amount=0.0, overdue_lines=0)}),
    dict(name="overdue after the due day; late payments reduce the outstanding amount", as_of=date(2024, 5, 1),
         agreements=A1,
         buys=[{"packs": 10, "accepted": "2024-03-15", "paid": [(200, "2024-04-30T23:59")]},
               {"packs": 10, "accepted": "2024-03-31T23:00", "paid": [(150, "2024-04-10"), (30, "2024-05-01")]},
               {"packs": 10, "accepted": "2024-03-20", "paid": [(500, "2024-04-01")]},  # overpaid: capped
               {"packs": 5, "accepted": "2024-04-01", "paid": []}],
         expect={("H1", "V1"): dict(amount_due=600.0, paid_by_due=550.0, payment_rate=550 / 600,
                                    overdue_amount=20.0, overdue_lines=1)}),
    dict(name="nothing due yet: payment rate is null", as_of=date(2024, 4, 29), agreements=A1,
         buys=[{"packs": 10, "accepted": "2024-03-15"}],
         expect={("H1", "V1"): dict(amount_due=0.0, paid_by_due=0.0, payment_rate=None, overdue_amount=0.0)}),
    dict(name="payment_due = end_of_month (policy)", as_of=date(2024, 4, 1), agreements=A1,
         policy={"payment_due": "end_of_month"},
         buys=[{"packs": 10, "accepted": "2024-03-15", "paid": [(200, "2024-04-01")]}],
         expect={("H1", "V1"): dict(amount_due=200.0, paid_by_due=0.0, payment_rate=0.0, overdue_amount=0.0,
                                    overdue_lines=0)}),
    dict(name="onboarding is not checked before month 3", as_of=date(2024, 2, 29), agreements=A1,
         expect={("H1", "V1"): dict(onboarded=False, not_onboarded=False)}),
    dict(name="from month 3 an agreement without selected purchases is not onboarded", as_of=date(2024, 3, 1),
         agreements=A1 + [{"inst": "H3", "agreed": 10}],
         buys=[{"inst": "H3", "packs": 1, "accepted": "2024-01-05"}, {"product": "P1B", "packs": 1, "accepted": "2024-01-05"}],
         expect={("H1", "V1"): dict(onboarded=False, not_onboarded=True),
                 ("H3", "V1"): dict(onboarded=True, not_onboarded=False)}),
    dict(name="offline share of order amounts", as_of=JUL1, agreements=A1,
         buys=[{"packs": 5, "ordered": "2024-02-01", "channel": "offline"},
               {"product": "P1N", "packs": 15, "ordered": "2024-02-01"},
               {"product": "PX", "packs": 15, "ordered": "2024-02-01", "channel": "offline"}],  # no variety
         expect={("H1", "V1"): dict(order_amount=400.0, offline_amount=100.0, offline_share=0.25)}),
    dict(name="onboarding_from_month and nonselected_share_max come from the policy", as_of=date(2024, 2, 1),
         agreements=A1, policy={"onboarding_from_month": 2, "nonselected_share_max": 0.4},
         buys=[{"product": "P1", "packs": 5, "accepted": "2024-01-05"},
               {"product": "P1N", "packs": 5, "accepted": "2024-01-05"}],
         expect={("H1", "V1"): dict(nonselected_share=0.5, nonselected_excess=True, onboarded=True)}),
    dict(name="batch filter", as_of=date(2024, 6, 1), batch="B3",
         agreements=[{"inst": "H1", "agreed": 10}, {"inst": "H1", "variety": "V3", "batch": "B3", "agreed": 10}],
         rows={("H1", "V3", 1)}),
]

IDS = [s["name"] for s in SCENARIOS]


def _same(a, b) -> bool:
    if b is None:
        return a is None or (isinstance(a, float) and math.isnan(a)) or a is pd.NaT
    if isinstance(b, float):
        return a is not None and not pd.isna(a) and math.isclose(float(a), b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(b, date) and not isinstance(b, datetime):
        return pd.Timestamp(a).date() == b
    return a == b


def check(df: pd.DataFrame, scenario: dict) -> None:
    """Assert the expected rows and values of a scenario on a materialized monitoring table."""
    got = {(r.institution_code, r.variety_id, int(r.cycle_year)) for r in df.itertuples()}
    if "rows" in scenario:
        assert got == scenario["rows"]
    for (inst, variety), exp in scenario.get("expect", {}).items():
        sel = df[(df.institution_code == inst) & (df.variety_id == variety)]
        assert len(sel) == 1, f"{inst} {variety}: {len(sel)} rows"
        row = sel.iloc[0].to_dict()
        bad = {c: (row[c], v) for c, v in exp.items() if not _same(row[c], v)}
        assert not bad, f"(got, expected): {bad}"


def run_ibis(wh, scenario: dict) -> pd.DataFrame:
    return monitor(wh, scenario["as_of"], scenario.get("batch"), policy_of(scenario)).to_pandas()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_scenario_duckdb(scenario, engine_warehouse):
    wh = engine_warehouse("duckdb", arrow_tables(scenario))
    check(run_ibis(wh, scenario), scenario)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_scenario_pandas_reference(scenario):
    """The independent pandas reference agrees with the hand-computed expectations too."""
    from tests.reference.monitor_pandas import monitor_reference

    frames = {name: t.to_pandas() for name, t in arrow_tables(scenario).items()}
    check(monitor_reference(frames, scenario["as_of"], scenario.get("batch"), policy_of(scenario)), scenario)


def test_cli_monitor_stores_and_writes(tmp_path):
    """`jicai monitor` stores monitor_results (replacing the same as-of/batch) and writes xlsx/csv/json."""
    import json

    import openpyxl
    from typer.testing import CliRunner

    from jicai.cli import app
    from jicai.store import connect

    data = tmp_path / "data"
    scenario = SCENARIOS[1]
    wh = connect(f"duckdb:///{data / 'jicai.duckdb'}")
    for name, t in arrow_tables(scenario).items():
        wh.write_table(name, t)
    wh.close()
    run = CliRunner().invoke
    base = ["--data-dir", str(data), "monitor", "--as-of", "2024-07-01"]
    r = run(app, base + ["--format", "xlsx", "--out", str(tmp_path / "m.xlsx")])
    assert r.exit_code == 0, r.output
    assert "低于序时进度 1" in r.output
    wb = openpyxl.load_workbook(tmp_path / "m.xlsx")
    assert wb.sheetnames == ["说明", "监测明细", "按机构汇总", "按地市汇总", "按批次汇总"]
    ws = wb["监测明细"]
    header = [c.value for c in ws[1]]
    assert header[0] == "医疗机构编码" and "完成率" in header
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref
    assert ws.cell(2, header.index("完成率") + 1).number_format == "0.0%"
    assert ws.cell(2, header.index("进度状态") + 1).value == "低于序时进度"

    r = run(app, base + ["--format", "json", "--out", str(tmp_path / "m.json")])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert doc["rows"][0]["status"] == "behind" and doc["rows"][0]["nonselected_excess"] == "false"
    assert doc["policy_version"] == load_policy().version
    r = run(app, base + ["--batch", "B1", "--format", "csv", "--out", str(tmp_path / "m.csv")])
    assert r.exit_code == 0, r.output
    assert pd.read_csv(tmp_path / "m.csv").status.tolist() == ["behind"]

    wh = connect(f"duckdb:///{data / 'jicai.duckdb'}")
    stored = wh.table("monitor_results").to_pandas()
    wh.close()
    assert len(stored) == 1 and stored.policy_version.iloc[0] == load_policy().version
    assert {"as_of", "computed_at"} <= set(stored.columns)

    r = run(app, base[:-1] + ["2024-13-01"])
    assert r.exit_code == 2 and "YYYY-MM-DD" in r.output
