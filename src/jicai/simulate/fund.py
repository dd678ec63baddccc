"""Fund-supervision tables: capitation, pharmacy settlements / video status / stock, violations,
budgets and monthly fund spending — small, valid, with their own planted situations."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from jicai.calendar import shift_month
from jicai.contract.arrow import schema
from jicai.simulate.manifest import Planted
from jicai.simulate.model import World


def _table(name: str, df: pd.DataFrame | dict) -> pa.Table:
    s = schema(name)
    if isinstance(df, dict):
        df = pd.DataFrame(df)
    return pa.Table.from_pandas(df[s.names] if len(df) else pd.DataFrame({n: [] for n in s.names}),
                                schema=s, preserve_index=False)


def _years(w: World) -> list[int]:
    return list(range(w.start.year, (w.end - timedelta(days=1)).year + 1))


def fund_tables(w: World) -> dict[str, pa.Table]:
    rng = np.random.default_rng([w.seed, 53])
    out = {}
    out.update(_capitation(w, rng))
    out.update(_budgets(w, rng))
    out.update(_pharmacies(w, rng))
    return out


def _capitation(w: World, rng: np.random.Generator) -> dict[str, pa.Table]:
    inst = w.inst
    prim = np.flatnonzero(inst.kind == "primary")
    rows = []
    for y in _years(w):
        for i in prim:
            enrolled = int(inst.size[i] * 8000 * rng.uniform(0.8, 1.2))
            std = 120.0
            actual = enrolled * std * rng.uniform(0.78, 0.9)
            rows.append((str(y), str(inst.code[i]), enrolled, std, round(actual, 2)))
    df = pd.DataFrame(rows, columns=["period", "institution_code", "enrolled", "per_capita_standard", "actual_spending"])
    if len(prim) >= 2:
        under, over = str(inst.code[prim[0]]), str(inst.code[prim[1]])
        m = df.institution_code == under
        df.loc[m, "actual_spending"] = (df.loc[m, "enrolled"] * 120.0 * 0.45).round(2)
        m = df.institution_code == over
        df.loc[m, "actual_spending"] = (df.loc[m, "enrolled"] * 120.0 * 1.10).round(2)
        w.planted.append(Planted(
            "capitation_deviation", "包干结余偏离合理结余",
            "The first institution spends only 45% of its package (surplus far above the reasonable surplus, "
            "return rate 0.40); the second overspends (no surplus to return).",
            institution_codes=[under, over], start=str(_years(w)[0]),
            expected={under: {"return_rate": 0.40}, over: {"returned": 0.0}},
        ))
    return {"capitation": _table("capitation", df)}


def _budgets(w: World, rng: np.random.Generator) -> dict[str, pa.Table]:
    inst = w.inst
    who = np.flatnonzero(np.isin(inst.kind, ["hospital", "primary"]))
    bud, spend = [], []
    ahead = str(inst.code[who[-1]]) if len(who) else None
    for y in _years(w):
        for i in who:
            total = round(float(inst.size[i] * 2_400_000 * rng.uniform(0.9, 1.1)), 2)
            bud.append((y, str(inst.code[i]), total))
            for m in range(w.months):
                d = w.month_start(m)
                if d.year != y:
                    continue
                f = 1.4 if str(inst.code[i]) == ahead else rng.uniform(0.88, 1.0)
                spend.append((d.strftime("%Y-%m"), str(inst.code[i]), round(total / 12 * f, 2)))
    if ahead:
        w.planted.append(Planted(
            "budget_ahead", "预算执行超序时进度",
            "Monthly fund spending runs at 140% of budget / 12, i.e. ahead of the year's time progress by > 10 points.",
            institution_codes=[ahead], expected={"spending_to_time_progress_min": 1.3},
        ))
    return {
        "budgets": _table("budgets", pd.DataFrame(bud, columns=["year", "institution_code", "total_budget"])),
        "fund_spending": _table("fund_spending", pd.DataFrame(spend, columns=["month", "institution_code", "amount"])),
    }


def _pharmacies(w: World, rng: np.random.Generator) -> dict[str, pa.Table]:
    inst, cat = w.inst, w.cat
    ph = np.flatnonzero(inst.kind == "pharmacy")
    drugs = np.array([p for p in range(len(cat)) if w.varieties[cat.variety[p]].category == "drug"])
    weight = np.array([3.0 if cat.cls[p] == "primary" else 1.0 for p in drugs])
    weight /= weight.sum()
    start_dt = datetime.combine(w.start, datetime.min.time())
    end_dt = datetime.combine(w.end, datetime.min.time())

    # video status: online all the time; two pharmacies have an offline interval (3 days) in the middle month,
    # a sixth has a day with no video record at all (a gap between two online intervals)
    video = []
    mid = datetime.combine(w.month_start(w.months // 2), datetime.min.time()) + timedelta(days=10, hours=9)
    off_ph = ph[:2]
    gap_ph = ph[5] if len(ph) >= 6 else None
    gap = (mid + timedelta(days=1, hours=-1), mid + timedelta(days=2, hours=-1))
    for k, i in enumerate(ph):
        code = str(inst.code[i])
        if i in off_ph:
            t1 = mid + timedelta(days=5 * k)
            t2 = t1 + timedelta(days=3)
            video += [(code, start_dt, t1, "online"), (code, t1, t2, "offline"), (code, t2, end_dt, "online")]
        elif i == gap_ph:
            video += [(code, start_dt, gap[0], "online"), (code, gap[1], end_dt, "online")]
        else:
            video.append((code, start_dt, end_dt, "online"))
    vdf = pd.DataFrame(video, columns=["pharmacy_code", "start_at", "end_at", "status"])

    # settlements: ~25 a month per pharmacy, 1–3 packs of a VBP drug, retail ≈ listed price × 1.1
    upp = np.asarray(cat.upp)
    listed = np.asarray(cat.listed_price)
    parts = []
    for m in range(w.months):
        d0 = np.datetime64(w.month_start(m), "us")
        ndays = (shift_month(w.month_start(m), 1) - w.month_start(m)).days
        n = rng.poisson(25, len(ph))
        who = np.repeat(ph, n)
        k = len(who)
        prods = rng.choice(drugs, k, p=weight)
        secs = rng.integers(0, ndays, k) * 86400 + (rng.uniform(8, 21, k) * 3600).astype(np.int64)
        parts.append((who, prods, d0 + secs.astype("timedelta64[s]"), upp[prods] * rng.integers(1, 4, k)))
    who, prods, at, qty = (np.concatenate(x) for x in zip(*parts, strict=True))
    proxy = rng.random(len(who)) < 0.03
    sdf = pd.DataFrame({
        "pharmacy_code": inst.code[who].astype(str), "settled_at": at, "product_code": np.asarray(cat.code)[prods],
        "quantity": qty.astype(float), "amount": np.round(qty * listed[prods] * 1.1, 2), "proxy": proxy,
        "proxy_registered": pd.array(np.where(proxy, True, pd.NA), dtype="boolean"),
    })
    # a working video link blocks settlements while offline: drop those, then plant the violations
    for _, r in vdf[vdf.status == "offline"].iterrows():
        sdf = sdf[~((sdf.pharmacy_code == r.pharmacy_code) & (sdf.settled_at >= r.start_at) & (sdf.settled_at < r.end_at))]
    if gap_ph is not None:
        gap_code = str(inst.code[gap_ph])
        sdf = sdf[~((sdf.pharmacy_code == gap_code) & (sdf.settled_at >= gap[0]) & (sdf.settled_at < gap[1]))]
    planted = []
    if len(ph) >= 4:
        p0 = int(drugs[0])
        v_off = vdf[(vdf.status == "offline")].iloc[0]
        t = v_off.start_at + timedelta(hours=26)
        extra = [
            [v_off.pharmacy_code, t, cat.code[p0], float(cat.upp[p0]), round(cat.upp[p0] * cat.listed_price[p0] * 1.1, 2), False, None],
            [str(inst.code[ph[2]]), mid + timedelta(days=2, hours=5), cat.code[p0], 3000.0, 2860.0, False, None],
            [str(inst.code[ph[3]]), mid + timedelta(days=4, hours=2), cat.code[p0], float(cat.upp[p0] * 2),
             round(cat.upp[p0] * 2 * cat.listed_price[p0] * 1.1, 2), True, False],
        ]
        if gap_ph is not None:
            t_gap = gap[0] + timedelta(hours=3)
            extra.append([gap_code, t_gap, cat.code[p0], float(cat.upp[p0]),
                          round(cat.upp[p0] * cat.listed_price[p0] * 1.1, 2), False, None])
        sdf = pd.concat([sdf, pd.DataFrame(extra, columns=sdf.columns)], ignore_index=True)
        planted += [
            Planted("pharmacy_video_offline", "视频联动异常结算",
                    "A settlement happened while the pharmacy's video link was offline (it should have been blocked).",
                    institution_codes=[v_off.pharmacy_code], start=v_off.start_at.isoformat(), end=v_off.end_at.isoformat(),
                    expected={"settled_at": t.isoformat()}),
            Planted("pharmacy_large", "大额结算", "One settlement of 2,860 yuan (> 2,000).",
                    institution_codes=[str(inst.code[ph[2]])], expected={"amount": 2860.0}),
            Planted("pharmacy_proxy_unregistered", "代购未登记", "A proxy purchase without registration.",
                    institution_codes=[str(inst.code[ph[3]])], expected={"proxy": True, "proxy_registered": False}),
        ]
        if gap_ph is not None:
            planted.append(Planted(
                "pharmacy_video_missing", "无在线视频时结算",
                "A settlement inside a day with no video record (between two online intervals): no online "
                "interval covers it, so it should have been blocked.",
                institution_codes=[gap_code], start=gap[0].isoformat(), end=gap[1].isoformat(),
                expected={"settled_at": t_gap.isoformat()}))
    sdf = sdf.sort_values(["settled_at", "pharmacy_code"], kind="stable").reset_index(drop=True)
    sdf.insert(0, "settlement_id", [f"JS{n + 1:09d}" for n in range(len(sdf))])

    # stock: opening + purchased − settled = closing, except one planted mismatch
    sdf["period"] = sdf.settled_at.dt.strftime("%Y-%m")
    sold = sdf.groupby(["pharmacy_code", "product_code", "period"], as_index=False).quantity.sum()
    periods = [w.month_start(m).strftime("%Y-%m") for m in range(w.months)]
    pairs = sold[["pharmacy_code", "product_code"]].drop_duplicates().sort_values(["pharmacy_code", "product_code"])
    pairs = pairs.reset_index(drop=True)
    pair_id = sold.merge(pairs.reset_index(), on=["pharmacy_code", "product_code"])["index"].to_numpy()
    mat = np.zeros((len(pairs), len(periods)))
    mat[pair_id, sold.period.map({p: i for i, p in enumerate(periods)}).to_numpy()] = sold.quantity.to_numpy()
    opening = rng.integers(2, 10, len(pairs)) * 30.0
    cols = {"opening": [], "purchased": [], "closing": []}
    for m in range(len(periods)):
        target = rng.integers(1, 8, len(pairs)) * 30.0
        purchased = np.maximum(0.0, mat[:, m] + target - opening)
        closing = opening + purchased - mat[:, m]
        cols["opening"].append(opening)
        cols["purchased"].append(purchased)
        cols["closing"].append(closing)
        opening = closing
    stdf = pd.DataFrame({
        "pharmacy_code": np.repeat(pairs.pharmacy_code.to_numpy(), len(periods)),
        "product_code": np.repeat(pairs.product_code.to_numpy(), len(periods)),
        "period": np.tile(periods, len(pairs)),
        **{k: np.stack(v, axis=1).ravel() for k, v in cols.items()},
    })
    if len(ph) >= 5 and len(stdf):
        # in the middle month, with the video and settlement violations, when the pharmacy has rows there
        target = str(inst.code[ph[4]])
        mid_period = periods[w.months // 2]
        cand = stdf.index[(stdf.pharmacy_code == target) & (stdf.period == mid_period)]
        if len(cand) == 0:
            cand = stdf.index[stdf.pharmacy_code == target]
        if len(cand) == 0:
            cand = stdf.index[:1]
        k = cand[len(cand) // 2]
        stdf.loc[k, "closing"] = stdf.loc[k, "closing"] + 120.0
        planted.append(Planted("pharmacy_stock_mismatch", "进销存不一致",
                               "Closing stock is 120 units above opening + purchased − settled for one product-month.",
                               institution_codes=[str(stdf.loc[k, "pharmacy_code"])],
                               product_codes=[str(stdf.loc[k, "product_code"])], start=str(stdf.loc[k, "period"]),
                               expected={"difference": -120.0}))
    w.planted.extend(planted)

    # violations: cases opened on the planted pharmacies near the end of the data
    vrows = []
    found = w.end - timedelta(days=10)
    actions = {"pharmacy_video_offline": ("视频联动异常结算", "recover", 1200.0),
               "pharmacy_proxy_unregistered": ("代购未登记", "notice", None),
               "pharmacy_stock_mismatch": ("进销存不一致", "suspend", None),
               "pharmacy_video_missing": ("无在线视频时结算", "recover", 365.5)}
    for p in planted:
        if p.kind in actions:
            kind, action, rec = actions[p.kind]
            vrows.append((f"WG{found:%Y%m}{len(vrows) + 1:03d}", p.institution_codes[0], found, kind, action, rec))
    vio = pd.DataFrame(vrows, columns=["case_id", "pharmacy_code", "found_at", "kind", "action", "recovered_amount"])
    sdf = sdf.drop(columns=["period"])
    return {
        "pharmacy_settlements": _table("pharmacy_settlements", sdf),
        "video_status": _table("video_status", vdf),
        "pharmacy_stock": _table("pharmacy_stock", stdf),
        "violations": _table("violations", vio),
    }
