"""Independent pandas reference of the monthly monitoring, written from DESIGN.md "Default rules".

It shares no code with :mod:`jicai.measures` (only the policy file, for its parameter values) and takes
another road on purpose: it works on order lines rather than daily aggregates, matches regions by
exploding prefixes rather than by string search, and does the calendar in Python ``datetime``.
Vectorized pandas: merges and group-bys, no loop over institutions or lines (only over the few batches).

Decisions it shares with the measures because DESIGN.md leaves them open (see their docstrings):
29 February + 1 year = 28 February; null ratios when a denominator is 0; status priority zero → behind
→ over (also when the agreement is 0) → normal; backups follow the region rule; a supply-problem report
counts when verified and about a selected primary product of the institution's region, its period
[start_date or report date, end_date or as-of]; payment covers every product of the variety, lines
accepted in the cycle year; offline share by order date; onboarding looks at primary-selected volume
since the batch start.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

SPECIAL = {"shortage", "emergency", "seasonal", "demand_change"}
KEYS = ["institution_code", "variety_id", "batch_id"]


def _fen(x: float) -> int:
    """Yuan as fen, half up, by decimal arithmetic: the float's value to 6 decimals (the float noise of a
    product of packs and a 4-decimal price is far below), then 四舍五入 to the fen."""
    return int((Decimal(repr(round(float(x), 6))) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _add_years(d: date, n: int) -> date:
    try:
        return d.replace(year=d.year + n)
    except ValueError:  # 29 February in a common year
        return d.replace(year=d.year + n, day=28)


def _add_months(d: date, n: int) -> date:
    m0 = d.month - 1 + n
    y, m = d.year + m0 // 12, m0 % 12 + 1
    last = (date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1)).day
    return date(y, m, min(d.day, last))


def _calendar(batches: pd.DataFrame, as_of: date, from_month: int) -> pd.DataFrame:
    rows = []
    for b in batches.itertuples():
        start = pd.Timestamp(b.start_date).date()
        k = 0
        while _add_years(start, k) <= as_of:
            k += 1
        if not 1 <= k <= int(b.cycle_years):
            continue
        s, nxt = _add_years(start, k - 1), _add_years(start, k)
        rows.append({"batch_id": b.batch_id, "cycle_year": k, "batch_start": pd.Timestamp(start),
                     "cycle_start": pd.Timestamp(s), "cycle_end": pd.Timestamp(nxt - timedelta(days=1)),
                     "time_progress": min(1.0, ((as_of - s).days + 1) / (nxt - s).days),
                     "onboarding_check": as_of >= _add_months(start, from_month - 1)})
    cols = ["batch_id", "cycle_year", "batch_start", "cycle_start", "cycle_end", "time_progress", "onboarding_check"]
    return pd.DataFrame(rows, columns=cols)


def _div(a: pd.Series, b: pd.Series) -> pd.Series:
    a, b = a.astype(float), b.astype(float)
    return (a / b.where(b != 0)).astype(float)


def _selected_pairs(sel: pd.DataFrame, inst: pd.DataFrame) -> pd.DataFrame:
    """(institution_code, product_code, variety_id, role) for every selected_products row matching the region."""
    s = sel[["batch_id", "variety_id", "product_code", "role", "regions"]].copy()
    s["prefix"] = s["regions"].fillna("").astype(str).str.replace(" ", "", regex=False).str.split(";")
    s = s.explode("prefix")
    blank = s.groupby(["batch_id", "variety_id", "product_code", "role"])["prefix"].transform(
        lambda p: (p == "").all())
    s = s[(s["prefix"] != "") | blank]
    i = inst[["institution_code", "region_code"]].copy()
    code = i["region_code"].fillna("").astype(str)
    i = pd.concat([i.assign(prefix=code.str[:n]) for n in range(0, 7)]).drop_duplicates()
    m = s.merge(i[["institution_code", "prefix"]], on="prefix")
    return m[["institution_code", "batch_id", "variety_id", "product_code", "role"]].drop_duplicates()


def monitor_reference(tables: dict[str, pd.DataFrame], as_of: date, batch_id: str | None = None,
                      policy=None) -> pd.DataFrame:
    from jicai.policy import load_policy

    policy = policy or load_policy()

    def pv(name):
        return policy.value(name, on=as_of)

    D = pd.Timestamp(as_of)
    D1 = D + pd.Timedelta(days=1)
    batches = tables["batches"]
    if batch_id is not None:
        batches = batches[batches["batch_id"] == batch_id]
    cal = _calendar(batches, as_of, pv("onboarding_from_month"))
    var = tables["varieties"].merge(cal[["batch_id", "batch_start", "cycle_start"]], on="batch_id")
    prod = tables["products"][["product_code", "variety_id", "units_per_pack"]].dropna(subset=["variety_id"])
    scope = prod.merge(var[["variety_id", "batch_id", "batch_start", "cycle_start", "special", "special_start",
                            "special_end"]], on="variety_id")
    inst = tables["institutions"]
    pairs = _selected_pairs(tables["selected_products"], inst)
    primary = pairs[pairs["role"] == "primary"][["institution_code", "product_code", "variety_id"]].drop_duplicates()
    backup = pairs[pairs["role"] == "backup"][["institution_code", "product_code"]].drop_duplicates()

    orders = tables["orders"]
    dl = tables["deliveries"]
    acc = orders.merge(dl[["order_line_id", "accepted_at", "accepted_quantity"]], on="order_line_id")
    acc = acc[acc["accepted_at"].notna() & acc["accepted_quantity"].notna()]

    # -- volume basis ----------------------------------------------------------------------------
    if pv("volume_basis") == "accepted":
        lines = acc.assign(t=acc["accepted_at"], packs=acc["accepted_quantity"])
    else:
        lines = orders.assign(t=orders["ordered_at"], packs=orders["quantity"])
    lines = lines[["institution_code", "product_code", "pack_price", "t", "packs"]].merge(scope, on="product_code")
    lines = lines[(lines["t"] >= lines["batch_start"]) & (lines["t"] < D1)].reset_index(drop=True)
    lines["day"] = lines["t"].dt.normalize()
    lines["vol"] = lines["packs"] * lines["units_per_pack"]
    lines["amt"] = lines["packs"] * lines["pack_price"]
    lines["is_primary"] = pd.MultiIndex.from_frame(lines[["institution_code", "product_code"]]).isin(
        pd.MultiIndex.from_frame(primary[["institution_code", "product_code"]]))
    lines["is_backup"] = pd.MultiIndex.from_frame(lines[["institution_code", "product_code"]]).isin(
        pd.MultiIndex.from_frame(backup)) & ~lines["is_primary"]

    # -- verified supply-problem periods of the institution's selected product -------------------
    sp = tables["supply_problems"]
    sp = sp[sp["verified"].fillna(False).astype(bool)].copy()
    sp["s"] = pd.to_datetime(sp["start_date"]).fillna(pd.to_datetime(sp["reported_at"]).dt.normalize())
    sp["e"] = pd.to_datetime(sp["end_date"]).fillna(D)
    sp = sp.merge(primary, on=["institution_code", "product_code"])[["institution_code", "variety_id", "s", "e"]]
    idx = lines[["institution_code", "variety_id", "day"]].reset_index().merge(sp, on=["institution_code", "variety_id"])
    inside = idx.loc[(idx["day"] >= idx["s"]) & (idx["day"] <= idx["e"]), "index"].unique()
    lines["in_sp"] = False
    lines.loc[inside, "in_sp"] = True

    special = np.zeros(len(lines), dtype=bool)
    if pv("special_treatment") == "exclude":
        ss = pd.to_datetime(lines["special_start"])
        se = pd.to_datetime(lines["special_end"])
        special = (lines["special"].isin(SPECIAL) & (ss.isna() | (lines["day"] >= ss))
                   & (se.isna() | (lines["day"] <= se))).to_numpy()
    sub = (lines["is_backup"] & lines["in_sp"]).to_numpy() if pv("backup_substitution") else np.zeros(len(lines), bool)
    sel = lines["is_primary"].to_numpy() | sub
    cyc = (lines["day"] >= lines["cycle_start"]).to_numpy()
    excl = special | (lines["in_sp"].to_numpy() if pv("supply_problem_exclusion") else False)
    v, a = lines["vol"].to_numpy(), lines["amt"].to_numpy()
    parts = pd.DataFrame({
        "selected_volume": np.where(cyc & sel, v, 0.0), "backup_volume": np.where(cyc & sub, v, 0.0),
        "nonselected_volume": np.where(cyc & ~sel, v, 0.0),
        "nonselected_counted_volume": np.where(cyc & ~sel & ~excl, v, 0.0),
        "selected_amount": np.where(cyc & sel, a, 0.0), "backup_amount": np.where(cyc & sub, a, 0.0),
        "nonselected_amount": np.where(cyc & ~sel, a, 0.0),
        "primary_to_date": np.where(lines["is_primary"].to_numpy(), v, 0.0),
    })
    vols = pd.concat([lines[KEYS], parts], axis=1).groupby(KEYS, as_index=False).sum()

    # -- payment ----------------------------------------------------------------------------------
    offset = {"end_of_month": 0, "end_of_next_month": 1}[pv("payment_due")]
    pl = acc[["order_line_id", "institution_code", "product_code", "pack_price", "accepted_at", "accepted_quantity"]]
    pl = pl.merge(scope[["product_code", "variety_id", "batch_id", "cycle_start"]], on="product_code")
    pl = pl[(pl["accepted_at"] >= pl["cycle_start"]) & (pl["accepted_at"] < D1)].copy()
    pl["due"] = (pl["accepted_at"].dt.to_period("M") + offset).dt.end_time.dt.normalize()
    pl = pl[pl["due"] <= D].copy()
    pl["amount"] = pl["accepted_quantity"] * pl["pack_price"]
    pay = tables["payments"][["order_line_id", "amount", "paid_at"]].rename(columns={"amount": "pay"})
    pay = pay.merge(pl[["order_line_id", "due"]], on="order_line_id")
    pday = pay["paid_at"].dt.normalize()
    pay["by_due"] = np.where(pday <= pay["due"], pay["pay"], 0.0)
    pay["to_date"] = np.where(pday <= D, pay["pay"], 0.0)
    per_line = pay.groupby("order_line_id", as_index=False)[["by_due", "to_date"]].sum()
    pl = pl.merge(per_line, on="order_line_id", how="left")
    pl[["by_due", "to_date"]] = pl[["by_due", "to_date"]].fillna(0.0)
    pl["paid_by_due"] = np.minimum(pl["amount"], pl["by_due"])
    # a line owes its amount rounded to the fen once, half up, less its payments (in fen), at least 0
    owed = [max(0, _fen(a) - _fen(p)) / 100 for a, p in zip(pl["amount"], pl["to_date"], strict=True)]
    outstanding = np.array(owed, dtype="float64")
    late = (pl["due"] < D) & (outstanding > 0)
    pl["overdue_amount"] = np.where(late, outstanding, 0.0)
    pl["overdue_lines"] = late.astype("int64")
    paid = pl.groupby(KEYS, as_index=False).agg(amount_due=("amount", "sum"), paid_by_due=("paid_by_due", "sum"),
                                               overdue_amount=("overdue_amount", "sum"),
                                               overdue_lines=("overdue_lines", "sum"))

    # -- offline share (order amounts by order date) ------------------------------------------------
    ol = orders[["institution_code", "product_code", "quantity", "pack_price", "ordered_at", "channel"]].merge(
        scope[["product_code", "variety_id", "batch_id", "cycle_start"]], on="product_code")
    ol = ol[(ol["ordered_at"] >= ol["cycle_start"]) & (ol["ordered_at"] < D1)]
    ol = ol.assign(order_amount=ol["quantity"] * ol["pack_price"])
    ol["offline_amount"] = np.where(ol["channel"] == "offline", ol["order_amount"], 0.0)
    off = ol.groupby(KEYS, as_index=False)[["order_amount", "offline_amount"]].sum()

    # -- one row per agreement of the current cycle year -------------------------------------------
    ag = tables["agreements"][["batch_id", "cycle_year", "institution_code", "variety_id", "agreed_volume"]]
    m = ag.merge(cal, on=["batch_id", "cycle_year"])
    m = m.merge(inst[["institution_code", "name", "region_code", "level"]].rename(columns={"name": "institution_name"}),
                on="institution_code", how="left")
    m = m.merge(tables["varieties"][["variety_id", "name"]].rename(columns={"name": "variety_name"}),
                on="variety_id", how="left")
    for part in (vols, paid, off):
        m = m.merge(part, on=KEYS, how="left")
    num = ["selected_volume", "backup_volume", "nonselected_volume", "nonselected_counted_volume", "selected_amount",
           "backup_amount", "nonselected_amount", "primary_to_date", "amount_due", "paid_by_due", "overdue_amount",
           "order_amount", "offline_amount", "agreed_volume"]
    m[num] = m[num].astype(float).fillna(0.0)
    m["overdue_lines"] = m["overdue_lines"].fillna(0).astype("int64")
    m["completion"] = _div(m["selected_volume"], m["agreed_volume"])
    m["shortfall_volume"] = np.maximum(0.0, m["agreed_volume"] * m["time_progress"] - m["selected_volume"])
    tp = m["time_progress"]
    c = m["completion"]
    m["status"] = np.select(
        [m["selected_volume"] == 0, (c < tp).fillna(False).astype(bool),
         ((c > 1).fillna(False) | (m["agreed_volume"] == 0)).astype(bool)],
        ["zero", "behind", "over"], "normal")
    m["nonselected_share"] = _div(m["nonselected_counted_volume"],
                                  m["selected_volume"] + m["nonselected_counted_volume"])
    m["nonselected_excess"] = (m["nonselected_share"] > pv("nonselected_share_max")).fillna(False).astype(bool)
    m["offline_share"] = _div(m["offline_amount"], m["order_amount"])
    m["payment_rate"] = _div(m["paid_by_due"], m["amount_due"])
    m["onboarded"] = m["primary_to_date"] > 0
    m["not_onboarded"] = m["onboarding_check"].astype(bool) & ~m["onboarded"]
    cols = ["institution_code", "institution_name", "region_code", "level", "batch_id", "variety_id", "variety_name",
            "cycle_year", "cycle_start", "cycle_end", "time_progress", "agreed_volume", "selected_volume",
            "backup_volume", "nonselected_volume", "nonselected_counted_volume", "selected_amount", "backup_amount",
            "nonselected_amount", "completion", "shortfall_volume", "status", "nonselected_share",
            "nonselected_excess", "order_amount", "offline_amount", "offline_share", "amount_due", "paid_by_due",
            "overdue_amount", "overdue_lines", "payment_rate", "onboarded", "not_onboarded"]
    return m[cols].reset_index(drop=True)
