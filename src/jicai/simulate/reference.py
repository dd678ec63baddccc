"""The small tables: regions, institutions, enterprises, batches, varieties, products, selected products,
listings, agreements, volume reports, prepayments and supply problems."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import numpy as np
import pyarrow as pa

from jicai.contract.arrow import schema
from jicai.simulate.catalogue import BATCHES, DRUG_BATCH, SEASONAL_VARIETY
from jicai.simulate.geography import region_rows
from jicai.simulate.model import World, cycles_in_data, report_time
from jicai.simulate.planted import season_window

# the simulated province is Fujian: its batches run under the bundled Fujian policy (jicai/policy/fujian.toml)
DEMO_POLICY = "fujian"


def _table(name: str, cols: dict[str, list]) -> pa.Table:
    s = schema(name)
    return pa.Table.from_pydict({n: cols.get(n, [None] * len(next(iter(cols.values())))) for n in s.names}, schema=s)


def reference_tables(w: World) -> dict[str, pa.Table]:
    cat, ent, inst = w.cat, w.ent, w.inst
    out: dict[str, pa.Table] = {}
    rr = region_rows()
    out["regions"] = _table("regions", {k: [r[k] for r in rr] for k in rr[0]})
    out["institutions"] = _table("institutions", inst.rows())
    out["enterprises"] = _table("enterprises", ent.rows())
    out["batches"] = _table("batches", {
        "batch_id": list(BATCHES), "name": [b[0] for b in BATCHES.values()],
        "category": [b[1] for b in BATCHES.values()], "start_date": [w.batch_start[b] for b in BATCHES],
        "cycle_years": [b[2] for b in BATCHES.values()], "policy_id": [DEMO_POLICY] * len(BATCHES),
    })
    ss, se = season_window(w.start)
    vs = w.varieties
    out["varieties"] = _table("varieties", {
        "variety_id": [v.vid for v in vs], "batch_id": [v.batch for v in vs], "name": [f"{v.name}（{v.spec}）"
                                                                                     if v.category == "drug" else v.name for v in vs],
        "unit": [v.unit for v in vs], "baseline_unit_price": [v.baseline for v in vs],
        "special": ["seasonal" if v.vid == SEASONAL_VARIETY else None for v in vs],
        "special_start": [ss if v.vid == SEASONAL_VARIETY else None for v in vs],
        "special_end": [se if v.vid == SEASONAL_VARIETY else None for v in vs],
    })
    out["products"] = _table("products", {
        "product_code": cat.code, "name": cat.name, "variety_id": [vs[j].vid for j in cat.variety], "spec": cat.spec,
        "units_per_pack": cat.upp, "manufacturer_code": [ent.code[e] for e in cat.manufacturer],
        "category": [vs[j].category for j in cat.variety],
    })
    sel = [i for i, c in enumerate(cat.cls) if c != "nonselected"]
    out["selected_products"] = _table("selected_products", {
        "batch_id": [vs[cat.variety[i]].batch for i in sel], "variety_id": [vs[cat.variety[i]].vid for i in sel],
        "product_code": [cat.code[i] for i in sel], "enterprise_code": [ent.code[cat.manufacturer[i]] for i in sel],
        "unit_price": [cat.win_price[i] for i in sel], "role": [cat.cls[i] for i in sel],
        "regions": [cat.regions[i] for i in sel],
    })
    out["listings"] = _table("listings", {
        "product_code": cat.code, "listed_unit_price": cat.listed_price, "status": ["listed"] * len(cat.code),
        "effective_date": [w.batch_start[vs[j].batch] - timedelta(days=5) for j in cat.variety],
    })
    out.update(agreement_tables(w))
    out["supply_problems"] = supply_problems(w)
    out.update(announcement_tables(w, out["agreements"]))
    return out


def announcement_tables(w: World, agreements: pa.Table) -> dict[str, pa.Table]:
    """The national drug batch as announced: every bid (中选结果表) and first-year agreed volumes for the
    province (约定采购量表, the sum of the institutions' agreements)."""
    cat, ent, vs = w.cat, w.ent, w.varieties
    batch = DRUG_BATCH
    res: dict[str, list] = {k: [] for k in schema("vbp_results").names}
    for p in range(len(cat)):
        v = vs[cat.variety[p]]
        if v.batch != batch:
            continue
        won = cat.cls[p] != "nonselected"
        res["batch_id"].append(batch)
        res["variety_id"].append(v.vid)
        res["drug_name"].append(v.name)
        res["spec"].append(v.spec)
        res["pack"].append(f"{int(cat.upp[p])}{v.unit}/盒")
        res["enterprise_name"].append(ent.name[cat.manufacturer[p]])
        res["enterprise_short_name"].append(ent.name[cat.manufacturer[p]][:4])
        res["originator"].append(False)
        res["foreign"].append(False)
        res["won"].append(won)
        res["max_price"].append(round(v.baseline * 0.7, 4))
        res["baseline_unit_price"].append(v.baseline)
        # losing bids were above the winners' (and above what they are listed at now is not the bid)
        res["unit_price"].append(cat.win_price[p] if won else round(cat.listed_price[p] * 1.1, 4))
        res["supply_regions"].append("350000" if won else None)
        res["source_sheet"].append(None)
        res["source_row"].append(None)
    vol: dict[str, list] = {k: [] for k in schema("vbp_agreed_volumes").names}
    sums: dict[str, float] = {}
    for vid, b, k, agreed in zip(agreements["variety_id"].to_pylist(), agreements["batch_id"].to_pylist(),
                                 agreements["cycle_year"].to_pylist(), agreements["agreed_volume"].to_pylist(),
                                 strict=True):
        if b == batch and k == 1:
            sums[vid] = sums.get(vid, 0.0) + agreed
    for v in vs:
        if v.batch == batch and v.vid in sums:
            for key, val in (("batch_id", batch), ("variety_id", v.vid), ("spec", v.spec), ("region_code", "350000"),
                             ("volume", sums[v.vid]), ("unit", v.unit), ("source_sheet", None), ("source_row", None)):
                vol[key].append(val)
    return {"vbp_results": _table("vbp_results", res), "vbp_agreed_volumes": _table("vbp_agreed_volumes", vol)}


def _at(d: date, hour: float) -> datetime:
    return datetime.combine(d, time(int(hour), int((hour % 1) * 60)))


def agreement_tables(w: World) -> dict[str, pa.Table]:
    rng = np.random.default_rng([w.seed, 31])
    inst, vs = w.inst, w.varieties
    signers = np.flatnonzero(inst.agreement[w.buyers])
    price = np.array([w.cat.win_price[p] if w.cat.win_price[p] is not None else 0.0
                      for p in range(len(w.cat))])
    ag: dict[str, list] = {k: [] for k in schema("agreements").names}
    vr: dict[str, list] = {k: [] for k in schema("volume_reports").names}
    pp: dict[str, list] = {k: [] for k in schema("prepayments").names}
    for batch in BATCHES:
        vj = np.array([j for j, v in enumerate(vs) if v.batch == batch])
        bb, jj = np.repeat(signers, len(vj)), np.tile(vj, len(signers))
        ok = w.uses[bb, jj]
        bb, jj = bb[ok], jj[ok]
        reported: dict[int, np.ndarray] = {}
        for k in cycles_in_data(w, batch):
            s, e = w.cycle(batch, k)
            # 60–80 % of the use the institution reported before the batch (every product of the variety): its
            # normal use now, less the uplift the lower price brought
            expected = w.expected_units(bb, jj, s, e, selected_only=False, normal=True) / w.uplift[bb, jj]
            agreed = np.round(expected * w.agree_factor[bb, jj], 0)
            if k in reported:  # later years: the agreement follows the volume report
                agreed = np.where(reported[k] > 0, reported[k], agreed)
            signed = s - timedelta(days=int(rng.integers(8, 25)))
            ag["batch_id"] += [batch] * len(bb)
            ag["cycle_year"] += [k] * len(bb)
            ag["institution_code"] += inst.code[w.buyers[bb]].tolist()
            ag["variety_id"] += [vs[j].vid for j in jj]
            ag["agreed_volume"] += agreed.tolist()
            ag["signed_date"] += [signed] * len(bb)
            ag["product_code"] += [w.cat.code[p] for p in w.sel_prod[bb, jj]]
            # prepayment: 30% of the agreed amount, paid two weeks after signing
            paid = signed + timedelta(days=14)
            if w.start <= paid < w.end:
                amount = agreed * price[w.sel_prod[bb, jj]]
                for b in np.unique(bb):
                    pp["batch_id"].append(batch)
                    pp["cycle_year"].append(k)
                    pp["institution_code"].append(str(inst.code[w.buyers[b]]))
                    pp["amount"].append(round(float(0.30 * amount[bb == b].sum()), 2))
                    pp["paid_at"].append(paid)
            # the volume report for the next cycle year, filed from last year's actual use
            if k + 1 <= BATCHES[batch][2] and (t := report_time(w, batch, k + 1)) is not None:
                # honest institutions report about what they used in the year before filing (the audit's
                # "last-year actual"); planted ones report a multiple of it
                first = max(w.start, t - timedelta(days=365))
                used = w.expected_units(bb, jj, first, t, selected_only=False, normal=False)
                for sg in w.surges:  # a surge month's extra use is use too
                    m0 = w.month_start(sg.month)
                    hit = (inst.prefecture[w.buyers[bb]] == sg.prefecture) & (jj == sg.variety)
                    if first <= m0 < t and hit.any():
                        extra = w.expected_units(bb[hit], jj[hit], m0, w.month_start(sg.month + 1),
                                                 selected_only=False, normal=False)
                        used[hit] += extra * (sg.factor - 1.0)
                factor = np.array([w.report_factor.get((int(b), int(j)), 1.0) for b, j in zip(bb, jj, strict=True)])
                vol = np.round(used * np.where(factor != 1.0, factor, rng.uniform(0.97, 1.12, len(bb))), 0)
                reported[k + 1] = vol
                filed = factor != 0.0
                vr["batch_id"] += [batch] * int(filed.sum())
                vr["cycle_year"] += [k + 1] * int(filed.sum())
                vr["institution_code"] += inst.code[w.buyers[bb[filed]]].tolist()
                vr["variety_id"] += [vs[j].vid for j in jj[filed]]
                vr["reported_volume"] += vol[filed].tolist()
                vr["reported_at"] += [_at(t + timedelta(days=int(d)), h)
                                      for d, h in zip(rng.integers(0, 10, int(filed.sum())),
                                                      rng.uniform(9, 17, int(filed.sum())), strict=True)]
    return {"agreements": _table("agreements", ag), "volume_reports": _table("volume_reports", vr),
            "prepayments": _table("prepayments", pp)}


def supply_problems(w: World) -> pa.Table:
    rng = np.random.default_rng([w.seed, 41])
    inst, cat = w.inst, w.cat
    rows: dict[str, list] = {k: [] for k in schema("supply_problems").names}

    def add(b: int, product: int, problem: str, reported: datetime, verified: bool, s: date | None, e: date | None):
        rows["report_id"].append(f"GY{reported:%Y%m%d}{len(rows['report_id']) + 1:04d}")
        rows["institution_code"].append(str(inst.code[w.buyers[b]]))
        rows["product_code"].append(cat.code[product])
        rows["problem"].append(problem)
        rows["reported_at"].append(reported)
        rows["verified"].append(verified)
        rows["start_date"].append(s)
        rows["end_date"].append(e)

    for sh in w.shortages:
        for b in sh.buyers:
            add(int(b), sh.product, "shortage", _at(sh.start + timedelta(days=int(rng.integers(1, 4))), 10.5), True,
                sh.start, sh.end)
    # unverified complaints: late deliveries by the slow distributor's customers, one selective-delivery claim
    slow_pref = np.flatnonzero(w.ent.distributors_by_prefecture[:, 0] == w.slow_distributor)
    cands = [i for i in range(len(w.buyers)) if inst.prefecture[w.buyers[i]] in slow_pref and inst.level[w.buyers[i]] >= 1]
    mid = w.month_start(w.months // 2)
    slow = next(p for p in w.planted if p.kind == "slow_distributor")
    slow.expected["complaints"] = []
    for i, b in enumerate(cands[:2]):
        at = _at(mid + timedelta(days=3 + i), 15.0)
        add(b, int(w.sel_prod[b, 0]), "late", at, False, None, None)
        # the manifest names them: two institutions about one product in one month flag the product's rows
        slow.expected["complaints"].append({"institution_code": str(inst.code[w.buyers[b]]),
                                            "product_code": cat.code[int(w.sel_prod[b, 0])], "month": f"{at:%Y-%m}"})
    if len(w.buyers) > 2:
        b = len(w.buyers) // 2
        j = int(np.flatnonzero(w.uses[b])[0])
        add(b, int(w.sel_prod[b, j]), "selective", _at(mid + timedelta(days=9), 11.0), False, mid, None)
    return _table("supply_problems", rows)
