"""Independent pandas reference of the prepayment ledger (预付台账), written from docs/rules.md "Prepayment".

It shares no code with :mod:`jicai.assess` or :mod:`jicai.measures` (only the policy file, for its values):
it classifies each order line by merging exploded region prefixes, tests supply-problem days line by
line, and builds the months with pandas periods. Vectorized: merges and group-bys, no loop over
institutions or lines (only over the ≤ 13 months of the ledger).

Decisions it shares with the measure because the rule leaves them open (see jicai.assess.prepayment):
a variety without a primary selected product for the institution's region adds nothing to the agreed
amount; only the agreed varieties' selected purchases offset; the prepayment counts from its date
(earliest signed_date, else the cycle start; imported rows from their paid_at); progress is null and
offsets nothing when the agreed amount is 0. Money is rounded half up to the fen at the steps
docs/rules.md names (each variety's agreed amount, each imported row, the computed prepayment, the
cumulative selected amount and the cumulative offset) — here with Python's ``decimal`` on the shortest
text of each double, not with the measure's integer micro-yuan.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

LEDGER_MONEY = ["agreed_amount", "prepayment", "cumulative_selected_amount", "progress", "offset_this_month",
                "cumulative_offset", "balance"]


def _add_years(d: date, n: int) -> date:
    try:
        return d.replace(year=d.year + n)
    except ValueError:  # 29 February in a common year
        return d.replace(year=d.year + n, day=28)


def _fen(x) -> Decimal:
    """``x`` (a double or a Decimal) rounded half up to the fen, as a Decimal."""
    d = x if isinstance(x, Decimal) else Decimal(repr(float(x)))
    return d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _dec_sum(values) -> Decimal:
    return sum((Decimal(repr(float(v))) for v in values), Decimal(0))


def _matching(selected: pd.DataFrame, inst: pd.DataFrame) -> pd.DataFrame:
    """selected_products rows × institutions whose region one of the row's prefixes starts (blank = all)."""
    s = selected.reset_index(drop=True).reset_index().rename(columns={"index": "row"})
    s["prefix"] = s["regions"].fillna("").astype(str).str.replace(" ", "", regex=False).str.split(";")
    s = s.explode("prefix")
    s = s[(s["prefix"] != "") | (s.groupby("row")["prefix"].transform(lambda p: (p == "").all()))]
    i = inst[["institution_code", "region_code"]].copy()
    code = i["region_code"].fillna("").astype(str)
    i = pd.concat([i.assign(prefix=code.str[:n]) for n in range(0, 7)]).drop_duplicates()
    m = s.merge(i[["institution_code", "prefix"]], on="prefix")
    return m.drop(columns=["prefix"]).drop_duplicates(subset=["row", "institution_code"])


def prepayment_reference(tables: dict[str, pd.DataFrame], batch_id: str, year: int, policy=None,
                         as_of: date | None = None) -> pd.DataFrame:
    from jicai.policy import load_policy

    policy = policy or load_policy()

    b = tables["batches"].set_index("batch_id").loc[batch_id]
    start = pd.Timestamp(b["start_date"]).date()
    c_start = _add_years(start, year - 1)
    c_end = _add_years(start, year) - timedelta(days=1)
    last = c_end if as_of is None else min(as_of, c_end)

    def pv(name):  # in force on the ledger's last day
        return policy.value(name, on=last)
    inst = tables["institutions"]

    # -- agreed amount: Σ agreed volume × mean price of the region's primaries ---------------------
    ag = tables["agreements"]
    ag = ag[(ag["batch_id"] == batch_id) & (ag["cycle_year"] == year)]
    vol = ag.groupby(["institution_code", "variety_id"], as_index=False)["agreed_volume"].sum()
    sel = tables["selected_products"]
    sel = sel[sel["batch_id"] == batch_id]
    prim = _matching(sel[sel["role"] == "primary"], inst)
    price = prim.groupby(["institution_code", "variety_id"], as_index=False)["unit_price"].mean()
    vol = vol.merge(price, on=["institution_code", "variety_id"], how="left")
    vol["amount"] = [Decimal(0) if pd.isna(x) else _fen(x) for x in vol["agreed_volume"] * vol["unit_price"]]
    amounts = vol.groupby("institution_code")["amount"].agg(lambda a: sum(a, Decimal(0)))
    signed = pd.to_datetime(ag.groupby("institution_code")["signed_date"].min())

    # -- imported prepayments --------------------------------------------------------------------
    pre = tables.get("prepayments", pd.DataFrame(columns=["batch_id", "cycle_year", "institution_code", "amount",
                                                          "paid_at"]))
    pre = pre[(pre["batch_id"] == batch_id) & (pre["cycle_year"] == year)].copy()
    pre["paid_at"] = pd.to_datetime(pre["paid_at"])

    # -- selected purchases of the agreed varieties, line by line ---------------------------------
    prod = tables["products"][["product_code", "variety_id", "units_per_pack"]].dropna(subset=["variety_id"])
    var = tables["varieties"]
    prod = prod[prod["variety_id"].isin(var.loc[var["batch_id"] == batch_id, "variety_id"])]
    orders = tables["orders"]
    if pv("volume_basis") == "accepted":
        dl = tables["deliveries"]
        lines = orders.merge(dl[["order_line_id", "accepted_at", "accepted_quantity"]], on="order_line_id")
        lines = lines.dropna(subset=["accepted_at", "accepted_quantity"])
        lines = lines.assign(t=lines["accepted_at"], packs=lines["accepted_quantity"])
    else:
        lines = orders.assign(t=orders["ordered_at"], packs=orders["quantity"])
    lines = lines.merge(prod, on="product_code")
    lines = lines[(lines["t"] >= pd.Timestamp(c_start)) & (lines["t"] < pd.Timestamp(last + timedelta(days=1)))]
    lines = lines.merge(vol[["institution_code", "variety_id"]], on=["institution_code", "variety_id"])
    lines = lines.reset_index(drop=True)
    lines["day"] = lines["t"].dt.normalize()
    lines["amount"] = lines["packs"] * lines["pack_price"]
    key = ["institution_code", "product_code"]
    prim_pairs = prim[key + ["variety_id"]].drop_duplicates()
    back_pairs = _matching(sel[sel["role"] == "backup"], inst)[key].drop_duplicates()
    idx = pd.MultiIndex.from_frame(lines[key])
    is_primary = idx.isin(pd.MultiIndex.from_frame(prim_pairs[key]))
    is_backup = idx.isin(pd.MultiIndex.from_frame(back_pairs)) & ~is_primary
    sp = tables["supply_problems"]
    sp = sp[sp["verified"].fillna(False).astype(bool)].copy()
    sp["s"] = pd.to_datetime(sp["start_date"]).fillna(pd.to_datetime(sp["reported_at"]).dt.normalize())
    sp["e"] = pd.to_datetime(sp["end_date"]).fillna(pd.Timestamp(last))
    sp = sp.merge(prim_pairs, on=key)[["institution_code", "variety_id", "s", "e"]]
    hits = lines[["institution_code", "variety_id", "day"]].reset_index().merge(sp, on=["institution_code",
                                                                                       "variety_id"])
    inside = np.zeros(len(lines), dtype=bool)
    inside[hits.loc[(hits["day"] >= hits["s"]) & (hits["day"] <= hits["e"]), "index"].unique()] = True
    selected = is_primary | (is_backup & inside if pv("backup_substitution") else False)
    lines = lines[selected]

    # -- the ledger ------------------------------------------------------------------------------
    people = sorted(set(vol["institution_code"]) | set(pre["institution_code"]))
    months = pd.period_range(pd.Timestamp(c_start), pd.Timestamp(last), freq="M")
    rows = []
    ratio_ = Decimal(repr(float(pv("prepay_ratio"))))
    pre = pre.assign(fen=pre["amount"].map(_fen))
    imported = set(pre["institution_code"])
    for m in months:
        end = min(m.end_time.normalize(), pd.Timestamp(last))
        got = lines[lines["day"] <= end].groupby("institution_code")["amount"].agg(lambda a: _fen(_dec_sum(a)))
        paid = pre[pre["paid_at"] <= end].groupby("institution_code")["fen"].agg(lambda a: sum(a, Decimal(0)))
        out = []
        for inst in people:
            agreed = amounts.get(inst, Decimal(0))
            if inst in imported:
                prepay = paid.get(inst, Decimal(0))
            else:
                when = signed.get(inst, pd.NaT)
                when = pd.Timestamp(c_start) if pd.isna(when) else when
                prepay = _fen(agreed * ratio_) if when <= end else Decimal(0)
            cum = got.get(inst, Decimal(0))
            if agreed == 0:
                progress, offset = math.nan, Decimal(0)
            else:
                progress = min(1.0, float(cum) / float(agreed))
                offset = prepay if cum >= agreed else _fen(prepay * cum / agreed)
            out.append({"institution_code": inst, "month": str(m), "month_end": end, "agreed_amount": float(agreed),
                        "prepayment": float(prepay), "cumulative_selected_amount": float(cum), "progress": progress,
                        "cumulative_offset": float(offset), "balance": float(prepay - offset)})
        rows.append(pd.DataFrame(out, columns=["institution_code", "month", "month_end", *LEDGER_MONEY[:4],
                                               "cumulative_offset", "balance"]))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["institution_code", "month"])
    out = out.sort_values(["institution_code", "month"]).reset_index(drop=True)
    # differences of fen / 100 doubles: back to the fen, as the measure subtracts integer fen
    previous = out.groupby("institution_code")["cumulative_offset"].shift(fill_value=0.0)
    out["offset_this_month"] = [float(_fen(Decimal(repr(a)) - Decimal(repr(b))))
                                for a, b in zip(out["cumulative_offset"], previous, strict=True)]
    return out
