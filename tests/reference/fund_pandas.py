"""Independent references for the fund-supervision measures: exact rational arithmetic (fractions) and plain
Python/pandas loops — written from the rule text (docs/fund.md), not from the Ibis code.

Money is rounded to fen half up exactly (``Fraction``), ratios compared exactly; the Ibis measures compute
the same in integers on the engine, so the two must agree to the fen and on every tier and flag.
"""

from __future__ import annotations

from datetime import date, datetime
from fractions import Fraction

import pandas as pd

CENT = Fraction(1, 100)


def _f(x) -> Fraction:
    """A float as the decimal it was written as (97.4 → 974/10)."""
    return Fraction(repr(float(x)))


def _fen(x: Fraction) -> Fraction:
    """Round to fen, halves up (towards +∞ for a positive half, as floor(x + 0.5))."""
    n = x * 100
    return Fraction((n + Fraction(1, 2)).__floor__(), 100)


def capitation_reference(cap: pd.DataFrame, period: str, tiers: list[list[float]], beyond: float) -> pd.DataFrame:
    c = cap[cap.period == period]
    rows = []
    enrolled_total = int(c.enrolled.sum())
    actual = {r.institution_code: _fen(_f(r.actual_spending)) for r in c.itertuples()}
    actual_total = sum(actual.values(), Fraction(0))
    for r in c.itertuples():
        n = int(r.enrolled)
        P = _fen(n * _f(r.per_capita_standard))
        S = P - actual[r.institution_code]
        reasonable = Fraction(0) if n == 0 else _fen(n * actual_total / enrolled_total)
        R = P - reasonable
        base, gap = (abs(R), abs(S - R)) if R != 0 else (P, abs(S))
        if base > 0:
            d = gap / base
            tier = next((k + 1 for k, (edge, _) in enumerate(tiers) if d <= _f(edge)), len(tiers) + 1)
            rate = _f(tiers[tier - 1][1]) if tier <= len(tiers) else _f(beyond)
            returned = _fen(max(S, Fraction(0)) * rate)
            deviation, rate_out = float(d), float(rate)
        else:
            tier, deviation, rate_out, returned = None, None, None, Fraction(0)
        rows.append({"institution_code": r.institution_code, "package": float(P), "surplus": float(S),
                     "reasonable_surplus": float(R), "deviation": deviation, "tier": tier, "return_rate": rate_out,
                     "returned_amount": float(returned),
                     "overall_per_capita": float(actual_total / enrolled_total) if enrolled_total else None})
    return pd.DataFrame(rows).sort_values("institution_code").reset_index(drop=True)


def _month_rows(settlements: pd.DataFrame, month: str) -> pd.DataFrame:
    lo = datetime.strptime(month, "%Y-%m")
    hi = datetime(lo.year + lo.month // 12, lo.month % 12 + 1, 1)
    at = pd.to_datetime(settlements.settled_at)
    return settlements[(at >= lo) & (at < hi)]


def video_reference(settlements: pd.DataFrame, video: pd.DataFrame, month: str) -> dict[str, str]:
    """settlement_id → video_offline / video_missing for the month's settlements the link should have blocked."""
    by: dict[str, list[tuple]] = {}
    for v in video.itertuples():
        by.setdefault(v.pharmacy_code, []).append((pd.Timestamp(v.start_at), pd.Timestamp(v.end_at), v.status))
    out = {}
    for s in _month_rows(settlements, month).itertuples():
        t = pd.Timestamp(s.settled_at)
        covering = [st for a, b, st in by.get(s.pharmacy_code, []) if a <= t < b]
        if "offline" in covering:
            out[s.settlement_id] = "video_offline"
        elif "online" not in covering:
            out[s.settlement_id] = "video_missing"
    return out


def stock_reference(settlements: pd.DataFrame, stock: pd.DataFrame, month: str) -> pd.DataFrame:
    s = _month_rows(settlements, month)
    sold = s.groupby(["pharmacy_code", "product_code"], as_index=False).quantity.sum()
    st = stock[stock.period == month][["pharmacy_code", "product_code", "opening", "purchased", "closing"]]
    j = sold.merge(st, on=["pharmacy_code", "product_code"], how="outer", indicator=True)
    j["stock_recorded"] = j["_merge"] != "left_only"
    j = j.fillna({"quantity": 0.0, "opening": 0.0, "purchased": 0.0, "closing": 0.0})
    j["difference"] = j.opening + j.purchased - j.quantity - j.closing
    j = j[j.difference.abs() > 1e-6].copy()
    price = s.groupby("product_code").agg(q=("quantity", "sum"), a=("amount", "sum"))
    price = (price.a / price.q).where(price.q > 0)
    j["unit_price"] = j.product_code.map(price)
    j["amount"] = j.difference.abs() * j.unit_price
    j = j.rename(columns={"quantity": "settled_quantity"})
    cols = ["pharmacy_code", "product_code", "stock_recorded", "opening", "purchased", "settled_quantity", "closing",
            "difference", "unit_price", "amount"]
    return j[cols].sort_values(["pharmacy_code", "product_code"]).reset_index(drop=True)


def violations_reference(settlements: pd.DataFrame, video: pd.DataFrame, stock: pd.DataFrame, month: str,
                         large_amount: float) -> pd.DataFrame:
    """(pharmacy_code, kind, settlement_id or product_code, amount) for every violation of the month."""
    s = _month_rows(settlements, month)
    amount = dict(zip(s.settlement_id, s.amount, strict=True))
    pharmacy = dict(zip(s.settlement_id, s.pharmacy_code, strict=True))
    rows = [(pharmacy[i], kind, i, amount[i]) for i, kind in video_reference(settlements, video, month).items()]
    limit = _f(large_amount)
    for r in s.itertuples():
        if _fen(_f(r.amount)) > limit:
            rows.append((r.pharmacy_code, "large_amount", r.settlement_id, r.amount))
        registered = r.proxy_registered if isinstance(r.proxy_registered, bool) else False
        if bool(r.proxy) and not registered:
            rows.append((r.pharmacy_code, "proxy_unregistered", r.settlement_id, r.amount))
    for r in stock_reference(settlements, stock, month).itertuples():
        rows.append((r.pharmacy_code, "stock_mismatch", r.product_code, r.amount))
    df = pd.DataFrame(rows, columns=["pharmacy_code", "kind", "ref", "amount"])
    return df.sort_values(["pharmacy_code", "kind", "ref"]).reset_index(drop=True)


def risk_reference(settlements: pd.DataFrame, video: pd.DataFrame, stock: pd.DataFrame, cases: pd.DataFrame,
                   month: str, large_amount: float) -> pd.DataFrame:
    v = violations_reference(settlements, video, stock, month, large_amount)
    s = _month_rows(settlements, month)
    first = date(int(month[:4]), 1, 1)
    lo = datetime.strptime(month, "%Y-%m")
    last = (datetime(lo.year + lo.month // 12, lo.month % 12 + 1, 1) - pd.Timedelta(days=1)).date()
    found = pd.to_datetime(cases.found_at).dt.date
    c = cases[(found >= first) & (found <= last)]
    who = sorted(set(v.pharmacy_code) | set(c.pharmacy_code))
    rows = []
    for p in who:
        mine = v[v.pharmacy_code == p]
        flagged = mine[mine.kind != "stock_mismatch"].drop_duplicates("ref")
        cp = c[c.pharmacy_code == p]
        sp = s[s.pharmacy_code == p]
        rows.append({
            "pharmacy_code": p, "settlements": len(sp), "settled_amount": float(sp.amount.sum()),
            "violations": len(mine),
            "video_violations": int(mine.kind.isin(["video_offline", "video_missing"]).sum()),
            "stock_mismatches": int((mine.kind == "stock_mismatch").sum()),
            "stock_amount": float(mine[mine.kind == "stock_mismatch"].amount.fillna(0).sum()),
            "large_settlements": int((mine.kind == "large_amount").sum()),
            "proxy_unregistered": int((mine.kind == "proxy_unregistered").sum()),
            "flagged_settlements": len(flagged), "flagged_amount": float(flagged.amount.sum()),
            "cases_ytd": len(cp), "recovered_ytd": float(cp.recovered_amount.fillna(0).sum()),
            "suspensions_ytd": int((cp.action == "suspend").sum()), "notices_ytd": int((cp.action == "notice").sum()),
        })
    return pd.DataFrame(rows)


def budget_reference(budgets: pd.DataFrame, spending: pd.DataFrame, as_of: date, margin: float) -> pd.DataFrame:
    y = as_of.year
    days = (as_of - date(y, 1, 1)).days + 1
    ndays = (date(y + 1, 1, 1) - date(y, 1, 1)).days
    tp = Fraction(days, ndays)
    b = {r.institution_code: _fen(_f(r.total_budget)) for r in budgets[budgets.year == y].itertuples()}
    last = f"{y:04d}-{as_of.month:02d}"
    f = spending[(spending.month >= f"{y:04d}-01") & (spending.month <= last)]
    spent: dict[str, Fraction] = {}
    for r in f.itertuples():
        spent[r.institution_code] = spent.get(r.institution_code, Fraction(0)) + _fen(_f(r.amount))
    rows = []
    for code in sorted(set(b) | set(spent)):
        s = spent.get(code, Fraction(0))
        budget = b.get(code)
        if budget is None or budget == 0:
            rows.append({"institution_code": code, "spending": float(s), "spending_progress": None,
                         "over_budget": False, "status": "no_budget"})
            continue
        progress = s / budget
        rows.append({"institution_code": code, "spending": float(s), "spending_progress": float(progress),
                     "over_budget": s > budget,
                     "status": "ahead" if progress - tp > _f(margin) else "normal"})
    return pd.DataFrame(rows)
