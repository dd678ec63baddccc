"""Independent pandas reference of the annual assessment and surplus retention, from the rule text.

Written from docs/rules.md "Annual assessment" and DESIGN.md "Default rules", sharing no code with
:mod:`jicai.assess`: the per-variety figures come from the (itself independent) monitoring reference
:func:`tests.reference.monitor_pandas.monitor_reference`; exemption, fail items, the score, cost growth,
ranking and retention are computed here with pandas and Python dates.

Decisions the reference shares with the measure because the rule text makes them: a special variety is
exempt from completion when its period overlaps [cycle_start, as_of]; undefined score figures earn the
full weight; the score is rounded half up to 6 decimals and a tier is reached when the score, read as
the decimal it prints as, is at least the minimum; a variety without a baseline price is left out of
budget and actual; cost growth compares accepted amounts of every product of the batch's varieties with
the same period a year earlier. Money is rounded half up to the fen at the steps docs/rules.md names
(each variety's budget and actual term, the purchase amounts, reward and overspend shared) — here with
Python's ``decimal`` on the shortest text of each double, not with the measure's integer micro-yuan.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
from tests.reference.monitor_pandas import monitor_reference

SPECIAL = {"shortage", "emergency", "seasonal", "demand_change"}
ITEMS = {  # item → (figure column, policy stem)
    "completion": ("completion", "completion"),
    "nonselected": ("nonselected_share", "nonselected"),
    "payment": ("payment_rate", "payment"),
    "offline": ("offline_share", "offline"),
    "cost_growth": ("cost_growth", "cost_growth"),
}


def _add_years(d: date, n: int) -> date:
    try:
        return d.replace(year=d.year + n)
    except ValueError:
        return d.replace(year=d.year + n, day=28)


def _day(v) -> date | None:
    if v is None or (not isinstance(v, date) and pd.isna(v)):
        return None
    return pd.Timestamp(v).date()


def _safe_div(a: float, b: float) -> float:
    return a / b if b else math.nan


def _fen(x) -> Decimal:
    """``x`` (a double or a Decimal) rounded half up to the fen, as a Decimal."""
    d = x if isinstance(x, Decimal) else Decimal(repr(float(x)))
    return d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def assess_reference(tables: dict[str, pd.DataFrame], batch_id: str, year: int, policy=None,
                     as_of: date | None = None) -> pd.DataFrame:
    from jicai.policy import load_policy

    policy = policy or load_policy()
    b = tables["batches"].set_index("batch_id").loc[batch_id]
    start = _day(b["start_date"])
    cycle_start = _add_years(start, year - 1)
    cycle_end = _add_years(start, year) - timedelta(days=1)
    D = as_of or cycle_end

    def pv(name):
        return policy.value(name, on=D)

    m = monitor_reference(tables, D, batch_id, policy)
    m = m[m["cycle_year"] == year].copy()
    var = tables["varieties"]
    var = var[var["batch_id"] == batch_id].set_index("variety_id")
    exempt = []
    for v in m["variety_id"]:
        row = var.loc[v]
        s, e = _day(row["special_start"]), _day(row["special_end"])
        exempt.append(pv("special_treatment") == "exclude" and row["special"] in SPECIAL
                      and (s is None or s <= D) and (e is None or e >= cycle_start))
    m["exempt"] = exempt
    m["price"] = [var.loc[v, "baseline_unit_price"] for v in m["variety_id"]]
    ratio = pv("fund_payment_ratio")
    priced = m["price"].notna()
    m["budget_term"] = [_fen(a * p * ratio) if ok else Decimal(0)
                        for a, p, ok in zip(m["agreed_volume"], m["price"], priced, strict=True)]
    m["actual_term"] = [_fen((_fen(s) + _fen(n)) * Decimal(repr(float(ratio)))) if ok else Decimal(0)
                        for s, n, ok in zip(m["selected_amount"], m["nonselected_amount"], priced, strict=True)]
    m["comp_fail"] = ~m["exempt"] & (m["agreed_volume"] > 0) & (m["completion"] < pv("min_completion")).fillna(False)
    m["share_fail"] = (m["nonselected_share"] > pv("nonselected_share_max")).fillna(False)
    m["capped"] = np.where(m["exempt"], 0.0, np.minimum(m["selected_volume"], m["agreed_volume"]))
    m["agreed_judged"] = np.where(m["exempt"], 0.0, m["agreed_volume"])

    # cost growth: accepted amounts of every product of the batch's varieties, this period vs a year earlier
    prior_start = _add_years(cycle_start, -1)
    prior_end = cycle_start - timedelta(days=1) if D == cycle_end else min(_add_years(D, -1),
                                                                            cycle_start - timedelta(days=1))
    prods = tables["products"]
    prods = prods[prods["variety_id"].isin(var.index)]["product_code"]
    lines = tables["orders"].merge(tables["deliveries"], on="order_line_id")
    lines = lines[lines["product_code"].isin(prods) & lines["accepted_at"].notna() & lines["accepted_quantity"].notna()]
    day = lines["accepted_at"].dt.date
    amount = (lines["accepted_quantity"] * lines["pack_price"]).map(lambda x: Decimal(repr(float(x))))
    cur = amount.where((day >= cycle_start) & (day <= D), Decimal(0))
    pri = amount.where((day >= prior_start) & (day <= prior_end), Decimal(0))
    cg = pd.DataFrame({"institution_code": lines["institution_code"], "purchase_amount": cur, "prior_amount": pri})
    cg = cg.groupby("institution_code").agg(lambda a: _fen(sum(a, Decimal(0))))

    bands = {code: (pv(f"score_weight_{stem}"), pv(f"score_{stem}_full"), pv(f"score_{stem}_zero"))
             for code, (_c, stem) in ITEMS.items()}
    tiers = pv("retention_tiers")
    share = pv("overspend_share")
    out = []
    for inst, g in m.groupby("institution_code"):
        r = {"institution_code": inst, "level": g["level"].iloc[0], "batch_id": batch_id, "cycle_year": year}
        r["passed"] = not (g["comp_fail"].any() or g["share_fail"].any())
        r["failed_items"] = ";".join(c for c, f in (("completion", g["comp_fail"].any()),
                                                    ("nonselected_share", g["share_fail"].any())) if f)
        r["completion"] = _safe_div(g["capped"].sum(), g["agreed_judged"].sum())
        counted, sel = g["nonselected_counted_volume"].sum(), g["selected_volume"].sum()
        r["nonselected_share"] = _safe_div(counted, sel + counted)
        r["payment_rate"] = _safe_div(g["paid_by_due"].sum(), g["amount_due"].sum())
        r["offline_share"] = _safe_div(g["offline_amount"].sum(), g["order_amount"].sum())
        cur_amt = float(cg["purchase_amount"].get(inst, 0))
        pri_amt = float(cg["prior_amount"].get(inst, 0))
        r["purchase_amount"], r["prior_amount"] = cur_amt, pri_amt
        r["cost_growth"] = cur_amt / pri_amt - 1.0 if pri_amt > 0 else math.nan
        total = 0.0
        for code, (col, _stem) in ITEMS.items():
            w, full, zero = bands[code]
            x = r[col]
            pts = w if math.isnan(x) else w * min(1.0, max(0.0, (x - zero) / (full - zero)))
            r[f"{code}_points"] = pts
            total += pts
        r["score"] = math.floor(total * 1e6 + 0.5) / 1e6
        budget, actual = sum(g["budget_term"], Decimal(0)), sum(g["actual_term"], Decimal(0))
        base, over = max(Decimal(0), budget - actual), max(Decimal(0), actual - budget)
        tier = next((ratio_ for s, ratio_ in tiers if Decimal(repr(r["score"])) >= Decimal(repr(float(s)))), 0.0)
        r["retention_ratio"] = tier if r["passed"] else 0.0
        reward = _fen(base * Decimal(repr(float(r["retention_ratio"]))))
        shared = _fen(over * Decimal(repr(float(share)))) if r["passed"] else Decimal(0)
        for col, v in (("budget", budget), ("actual", actual), ("retention_base", base), ("overspend", over),
                       ("reward", reward), ("overspend_shared", shared)):
            r[col] = float(v)
        out.append(r)
    df = pd.DataFrame(out)
    if len(df):
        df["rank_in_level"] = df.groupby("level", dropna=False)["score"].rank(method="min", ascending=False).astype("int64")
    return df
