"""An independent pandas computation of the supply scorecard's figures (tests/test_supply.py compares it
with the Ibis measure): plain loops over groups, numpy's linear quantile, a merge_asof for the
distributor of a report. The sentinel and surge flags are left out (their rules have scenario files)."""

from __future__ import annotations

import numpy as np
import pandas as pd

KEYS = ["month", "product_code", "enterprise_code", "distributor_code"]


def _lines(t: dict[str, pd.DataFrame], month_first: str, month_last: str, within_hours: float) -> pd.DataFrame:
    o = t["orders"].copy()
    end = o.ordered_at.max()  # the data's end: the latest order of all
    o["month"] = o.ordered_at.dt.strftime("%Y-%m")
    o = o[(o.month >= month_first) & (o.month <= month_last)]
    sel = t["selected_products"].groupby(["product_code", "enterprise_code"]).role.apply(
        lambda r: "primary" if (r == "primary").any() else "backup").reset_index()
    o = o.merge(sel, on="product_code").merge(t["products"][["product_code", "units_per_pack"]], on="product_code")
    o = o.merge(t["deliveries"], on="order_line_id", how="left")
    o["resp"] = (o.responded_at - o.ordered_at).dt.total_seconds()
    o["ship"] = (o.shipped_at - o.ordered_at).dt.total_seconds()
    o["shipped"] = o.shipped_quantity.fillna(0.0)
    o["accepted"] = o.accepted_quantity.fillna(0.0)
    o["on_time"] = np.where(o.shipped_at.notna() & (o.ship <= within_hours * 3600), o.shipped, 0.0)
    # a line not shipped whose window is still open at the data's end is not yet due
    not_due = o.shipped_at.isna() & ((end - o.ordered_at).dt.total_seconds() < within_hours * 3600)
    o["due"] = np.where(not_due, 0.0, o.quantity)
    return o


def _complaints(t: dict[str, pd.DataFrame], month_first: str, month_last: str) -> pd.DataFrame:
    s = t["supply_problems"].copy()
    s["month"] = s.reported_at.dt.strftime("%Y-%m")
    s = s[(s.month >= month_first) & (s.month <= month_last)]
    s = s.merge(t["selected_products"][["product_code", "enterprise_code"]].drop_duplicates(), on="product_code")
    dist = []
    o = t["orders"]
    for _, r in s.iterrows():
        mine = o[(o.institution_code == r.institution_code) & (o.product_code == r.product_code)
                 & (o.ordered_at <= r.reported_at)]
        mine = mine.sort_values(["ordered_at", "order_line_id"])
        dist.append(mine.distributor_code.iloc[-1] if len(mine) else None)
    s["distributor_code"] = dist
    sent = t["institutions"].set_index("institution_code").sentinel.fillna(False)
    s["sentinel"] = s.institution_code.map(sent).fillna(False).astype(bool)
    return s


def _q(values: pd.Series, p: float) -> float:
    v = values.dropna()
    return float(np.quantile(v.to_numpy(), p)) / 3600 if len(v) else np.nan


def scorecard_reference(t: dict[str, pd.DataFrame], month_first: str, month_last: str, policy, keys=KEYS) -> pd.DataFrame:
    """Figures and the slow/low/complaint flags per ``keys``, sorted by them."""
    def pv(n):
        return policy.value(n)

    lines = _lines(t, month_first, month_last, pv("deliver_within_hours"))
    comp = _complaints(t, month_first, month_last)
    rows = {}
    for key, g in lines.groupby(keys, dropna=False):
        rows[key] = {
            "order_lines": len(g), "ordered_packs": g.quantity.sum(),
            "ordered_units": (g.quantity * g.units_per_pack).sum(), "ordered_amount": (g.quantity * g.pack_price).sum(),
            "shipped_packs": g.shipped.sum(), "shipped_amount": (g.shipped * g.pack_price).sum(),
            "accepted_packs": g.accepted.sum(), "accepted_amount": (g.accepted * g.pack_price).sum(),
            "on_time_packs": g.on_time.sum(), "due_packs": g.due.sum(), "responded_lines": int(g.resp.notna().sum()),
            "response_hours_median": _q(g.resp, 0.5), "response_hours_p90": _q(g.resp, 0.9),
            "ship_hours_median": _q(g.ship, 0.5), "complaints": 0,
        }
    for key, g in comp.groupby(keys, dropna=False):
        key = tuple(None if isinstance(k, float) and np.isnan(k) else k for k in key)
        r = rows.setdefault(key, {"order_lines": 0, "responded_lines": 0, "response_hours_median": np.nan,
                                  "response_hours_p90": np.nan, "ship_hours_median": np.nan,
                                  **dict.fromkeys(("ordered_packs", "ordered_units", "ordered_amount", "shipped_packs",
                                                   "shipped_amount", "accepted_packs", "accepted_amount",
                                                   "on_time_packs", "due_packs"), 0.0)})
        r["complaints"] = len(g)
    out = pd.DataFrame([{**dict(zip(keys, k, strict=True)), **v} for k, v in rows.items()])
    out["delivery_rate"] = np.where(out.due_packs > 0, out.on_time_packs / out.due_packs.where(out.due_packs > 0), np.nan)
    by_product = comp.groupby(["month", "product_code"]).institution_code.nunique()
    flags = []
    for _, r in out.iterrows():
        f = []
        if r.response_hours_median > pv("response_hours_max"):
            f.append("slow_response")
        if r.delivery_rate < pv("delivery_rate_min"):
            f.append("low_delivery_rate")
        if "product_code" in keys and by_product.get((r.month, r.product_code), 0) >= pv("complaint_institutions_min"):
            f.append("multi_institution_complaints")
        flags.append(";".join(f))
    out["flags"] = flags
    return out.sort_values(keys, na_position="last").reset_index(drop=True)
