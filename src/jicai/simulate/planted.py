"""Planted situations: the problems a bureau must find, put into the demand model on purpose.

Each plant picks institutions (disjoint, so that one situation does not mask another), changes the
model arrays of :class:`jicai.simulate.model.World`, and records a :class:`Planted` entry for the
manifest. Fund-supervision plants live in :mod:`jicai.simulate.fund`, listing plants in the catalogue.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from jicai.simulate.catalogue import (
    DRUG_BATCH,
    SEASONAL_VARIETY,
    SHORTAGE_VARIETY,
    SURGE_VARIETY,
    VARIETIES,
)
from jicai.simulate.geography import PREFECTURES
from jicai.simulate.manifest import Planted
from jicai.simulate.model import Kickback, Shortage, Surge, World, report_time

VID = {v.vid: j for j, v in enumerate(VARIETIES)}
PRECURSOR_DAYS = 56  # the planted shortage shows in the product's deliveries eight weeks before it is reported


def season_window(start: date) -> tuple[date, date]:
    """The flu season (1 Dec – 31 Mar) that the data begins in or runs into first."""
    if start.month <= 3:
        return date(start.year - 1, 12, 1), date(start.year, 3, 31)
    return date(start.year, 12, 1), date(start.year + 1, 3, 31)


class _Picker:
    def __init__(self, world: World, rng: np.random.Generator) -> None:
        inst, b = world.inst, world.buyers
        self.world = world
        self.pool = [int(i) for i in rng.permutation(len(b))
                     if inst.agreement[b[i]] and inst.kind[b[i]] in ("hospital", "primary") and not inst.sentinel[b[i]]]
        self.taken: set[int] = set()

    def pick(self, n: int, variety: int | None = None) -> list[int]:
        out = []
        for i in self.pool:
            if i in self.taken or (variety is not None and not self.world.uses[i, variety]):
                continue
            out.append(i)
            self.taken.add(i)
            if len(out) == n:
                break
        return out


def plant_all(world: World, rng: np.random.Generator) -> None:
    w = world
    inst, b = w.inst, w.buyers
    picker = _Picker(w, rng)
    codes = lambda idx: [str(inst.code[b[i]]) for i in idx]  # noqa: E731
    cat = w.cat
    ent = w.ent

    # --- verified shortage of one selected product, backup bought meanwhile (the sentinel reports it) ---
    v = VID[SHORTAGE_VARIETY]
    sentinels = [i for i in np.flatnonzero(inst.sentinel[b]) if w.uses[i, v] and inst.agreement[b[i]]]
    who = sentinels[:1] + picker.pick(4 - len(sentinels[:1]), v)
    picker.taken.update(who)
    ms = max(1, w.months // 3) if w.months >= 2 else 0
    s = w.month_start(ms) + timedelta(days=7)
    e = min(s + timedelta(days=55), w.end - timedelta(days=1))
    product = int(w.sel_prod[who[0], v])
    who = [i for i in who if w.sel_prod[i, v] == product]
    w.shortages.append(Shortage(np.array(who), v, product, cat.backup[v], s, e, PRECURSOR_DAYS))
    precursor = max(w.start, s - timedelta(days=PRECURSOR_DAYS))
    w.planted.append(Planted(
        "shortage", "中选产品供应短缺（已核实）",
        "A selected product could not be supplied to these institutions in [start, end]; they reported it "
        "(verified) and bought the backup product instead. Backup purchases inside the period count as "
        "selected; non-selected volume inside it is excluded; the supply measure should warn (≥2 "
        "institutions, a sentinel). From precursor_start the product is answered a day later and part of "
        "its lines ship after the delivery window, everywhere: the supply risk score should flag it a month "
        "before the reports.",
        institution_codes=codes(who), variety_ids=[SHORTAGE_VARIETY], product_codes=[cat.code[product]],
        enterprise_codes=[ent.code[cat.manufacturer[product]]], batch_id=DRUG_BATCH,
        start=s.isoformat(), end=e.isoformat(),
        expected={"backup_product_code": cat.code[cat.backup[v]], "verified": True,
                  "sentinel_codes": [str(inst.code[b[i]]) for i in who if inst.sentinel[b[i]]],
                  "supply_warning": True,
                  # from this day the product's deliveries degrade province-wide (answers a day later, part of
                  # the lines shipped after the window): the signal a supply risk score should catch before the
                  # reports; a bureau's data show it, the manifest only names it for the evaluation
                  "precursor_start": precursor.isoformat()},
    ))

    # --- lagging hospitals: buy selected products at 30% of their normal rate, all varieties ---
    lag = picker.pick(4)
    w.w_sel[lag, :] *= 0.3
    w.w_non[lag, :] *= 0.6  # they buy less of the variety altogether, not the non-selected instead
    w.drift[lag, :] = 0.0
    w.planted.append(Planted(
        "lagging", "低于序时进度",
        "These institutions buy selected products at 30% of their normal rate for every variety (and "
        "non-selected ones at 60%), so completion stays well below time progress.",
        institution_codes=codes(lag),
        expected={"status": "低于序时进度", "completion_vs_time_progress_max": 0.7},
    ))

    # --- zero purchase of the selected product of one variety ---
    zero_v = ["YP02", "YP06", "YP10"]
    for k, vid in enumerate(zero_v):
        j = VID[vid]
        who = picker.pick(1, j)
        if not who:
            continue
        w.w_sel[who, j] = 0.0
        w.w_bak[who, j] = 0.0
        w.drift[who, j] = 0.0
        if k == 2:
            w.w_non[who, j] = 0.0  # buys nothing at all
        w.planted.append(Planted(
            "zero_purchase", "零采购",
            "Agreement signed, but no order of a selected product of this variety"
            + (" (and no order of the variety at all)." if k == 2 else " (non-selected products instead)."),
            institution_codes=codes(who), variety_ids=[vid], batch_id=DRUG_BATCH,
            expected={"status": "零采购", "onboarding": "未进院", "selected_volume": 0,
                      "any_purchase": k != 2},
        ))

    # --- non-selected overuse: non-selected share ≈ 0.7 ---
    for vid in ("YP01", "YP03", "YP12"):
        j = VID[vid]
        who = picker.pick(1, j)
        if not who:
            continue
        w.w_sel[who, j], w.w_non[who, j], w.drift[who, j] = 0.3, 0.7, 0.0
        w.planted.append(Planted(
            "nonselected_overuse", "非中选超量",
            "Non-selected products take about 70% of this institution's volume of the variety.",
            institution_codes=codes(who), variety_ids=[vid], batch_id=DRUG_BATCH,
            expected={"nonselected_share_min": 0.5, "nonselected_share_approx": 0.7},
        ))

    # --- late payers ---
    late = picker.pick(3)
    w.late_payer[late] = True
    w.planted.append(Planted(
        "late_payer", "回款超期",
        "These institutions pay 20–120 days after the due date (end of the month after acceptance), "
        "half of the lines only partly.",
        institution_codes=codes(late),
        expected={"payment_rate_max": 0.2, "overdue": True},
    ))

    # --- offline purchasing ---
    off = picker.pick(1)
    w.offline_p[off] = 0.45
    w.planted.append(Planted(
        "offline_heavy", "线下采购占比高",
        "About 45% of this institution's order lines go through the offline channel (others ≈ 2%).",
        institution_codes=codes(off), expected={"offline_share_approx": 0.45},
    ))

    # --- demand surge in one prefecture and month ---
    if w.months >= 4:
        pi = next(i for i, p in enumerate(PREFECTURES) if p[0] == "350500")
        m = max(3, (2 * w.months) // 3)
        m = min(m, w.months - 1)
        w.surges.append(Surge(pi, VID[SURGE_VARIETY], m, 2.5))
        backups = [cat.code[cat.backup[VID[SURGE_VARIETY]]]]
        w.planted.append(Planted(
            "surge", "需求激增",
            "Ordered volume of the variety in the prefecture is 2.5× its usual level in one month.",
            variety_ids=[SURGE_VARIETY], region_codes=[PREFECTURES[pi][0]], batch_id=DRUG_BATCH,
            start=w.month_start(m).strftime("%Y-%m"), end=w.month_start(m).strftime("%Y-%m"),
            expected={"surge_factor": 2.5, "backup_product_codes": backups},
        ))
    else:
        w.notes.append("surge not planted: needs at least 4 months of data")

    # --- slow distributor ---
    pi = next(i for i, p in enumerate(PREFECTURES) if p[0] == "350200")
    w.slow_distributor = int(ent.distributors_by_prefecture[pi, 0])
    w.planted.append(Planted(
        "slow_distributor", "配送不及时",
        "This distributor (厦门) responds after ~40 h and ships after ~4 days; its 配送率 within 72 h is low.",
        enterprise_codes=[ent.code[w.slow_distributor]], region_codes=[PREFECTURES[pi][0]],
        expected={"median_response_hours_min": 24, "delivery_rate_max": 0.95},
    ))

    # --- seasonal variety (exempt inside its season) ---
    ss, se = season_window(w.start)
    w.planted.append(Planted(
        "seasonal", "季节性用药",
        "Oseltamivir demand peaks in winter (flu); the variety is marked special = seasonal for the flu season. "
        "Each flu season's rise (November to March) is a real demand surge: 002 四 wants an epidemic's short "
        "surge reported, so surge alerts for the variety in those months are expected.",
        variety_ids=[SEASONAL_VARIETY], batch_id=DRUG_BATCH, start=ss.isoformat(), end=se.isoformat(),
        expected={"special": "seasonal", "winter_to_summer_ratio_min": 3.0, "flu_months": [11, 12, 1, 2, 3]},
    ))

    # --- listings ---
    hi = _highest_win(w, cat.variety[cat.over_2x])
    w.planted.append(Planted(
        "listing_wrong_price", "未按中选价挂网",
        "A selected product is listed 15% above its winning price.",
        product_codes=[cat.code[cat.wrong_listing]], variety_ids=[VARIETIES[cat.variety[cat.wrong_listing]].vid],
        expected={"winning_price": cat.win_price[cat.wrong_listing], "listed_price": cat.listed_price[cat.wrong_listing]},
    ))
    w.planted.append(Planted(
        "listing_over_2x", "非中选产品挂网价高于中选价2倍",
        "A non-selected product is listed at 2.6× the highest winning price of its variety (the only one above 2×).",
        product_codes=[cat.code[cat.over_2x]], variety_ids=[VARIETIES[cat.variety[cat.over_2x]].vid],
        expected={"highest_winning_price": hi, "listed_price": cat.listed_price[cat.over_2x], "multiple": 2.6},
    ))

    # --- volume reports for the next cycle year ---
    t = report_time(w, DRUG_BATCH, 2)
    if t is None:
        w.notes.append("volume-report plants not made: no report for cycle year 2 falls inside the data")
        return
    for vid in ("YP01", "YP05", "YP06", "YP08"):
        j = VID[vid]
        who = picker.pick(1, j)
        if who:
            w.report_factor[(who[0], j)] = 0.5
            w.planted.append(Planted(
                "under_reported", "报量偏低",
                "Volume report for cycle year 2 is half of the institution's actual use in the past year.",
                institution_codes=codes(who), variety_ids=[vid], batch_id=DRUG_BATCH, start=t.isoformat(),
                expected={"cycle_year": 2, "reported_to_actual_max": 0.8},
            ))
    for kind, zh, factor, vid, desc in (
        ("not_reported", "用而不报", 0.0, "YP03", "The institution used the variety last year but filed no report."),
        ("over_reported", "报量偏高", 2.2, "YP02", "Volume report is 2.2× the expected annual use."),
    ):
        j = VID[vid]
        who = picker.pick(1, j)
        if who:
            w.report_factor[(who[0], j)] = factor
            w.planted.append(Planted(kind, zh, desc, institution_codes=codes(who), variety_ids=[vid],
                                     batch_id=DRUG_BATCH, start=t.isoformat(), expected={"cycle_year": 2}))


# --- clues (医保发〔2024〕31号: 带金销售, 选择性配送), planted by plant_clues after every other plant ---
KICKBACK_VARIETY = "YP08"  # 头孢呋辛酯片: no other plant uses it
KICKBACK_INSTITUTIONS = 2
KICKBACK_SHARE = 0.65  # share of the selected lines moved to the non-selected product by the last month
SELECTIVE_PREFECTURE = "350100"  # 福州: not the slow distributor's 厦门


def plant_clues(world: World) -> None:
    """Plant the clues a bureau should find with jicai.analytics.kickback_clues and selective_delivery.

    The kickback institutions are 二级 hospitals (the most numerous hospital level: a median of many peers) that
    no other plant names, the largest first; nothing here draws from a random generator, so every other plant and
    every other line of the data are what they were without these."""
    w = world
    inst, b, cat, ent = w.inst, w.buyers, w.cat, w.ent
    taken = {c for p in w.planted for c in p.institution_codes}
    j = VID[KICKBACK_VARIETY]
    order = np.argsort(-inst.size[b], kind="stable")
    who = [int(i) for i in order if w.uses[i, j] and inst.kind[b[i]] == "hospital" and inst.level[b[i]] == 2
           and inst.agreement[b[i]] and not inst.sentinel[b[i]] and str(inst.code[b[i]]) not in taken]
    who = who[:KICKBACK_INSTITUTIONS]
    if w.months >= 6 and who:
        product = int(cat.nonselected[j][-1])
        w.kickbacks.append(Kickback(np.array(who), j, product, KICKBACK_SHARE))
        w.planted.append(Planted(
            "kickback", "带金销售线索",
            "At these hospitals a growing share of the variety's selected volume moves to one enterprise's "
            "non-selected product: none in the first month, about 65% of the selected lines in the last. The "
            "kickback clues should name each institution with this product (share far above same-level peers and "
            "rising since the batch began); a clue, not a verdict.",
            institution_codes=[str(inst.code[b[i]]) for i in who], variety_ids=[KICKBACK_VARIETY],
            product_codes=[cat.code[product]], enterprise_codes=[ent.code[cat.manufacturer[product]]],
            batch_id=DRUG_BATCH, expected={"signal": "peer_overuse", "final_moved_share": KICKBACK_SHARE},
        ))
    else:
        w.notes.append("kickback clue not planted: needs at least 6 months of data (two 3-month windows)")

    pi = next(i for i, p in enumerate(PREFECTURES) if p[0] == SELECTIVE_PREFECTURE)
    d = int(ent.distributors_by_prefecture[pi, 1])
    if d == w.slow_distributor:
        d = int(ent.distributors_by_prefecture[pi, 0])
    w.selective_distributor = d
    w.planted.append(Planted(
        "selective_delivery", "选择性配送",
        "This distributor answers its small customers (level ≤ 1) 30 h later and ships them 70 h later than its "
        "other customers, for every product and month: their 72 h delivery rate is near 0 while its large "
        "customers' stays near 100%. The selective-delivery clues should name it; a clue, not a verdict.",
        enterprise_codes=[ent.code[d]], region_codes=[SELECTIVE_PREFECTURE],
        expected={"small_level_max": 1, "signals": ["rate_gap", "response_gap"]},
    ))


def _highest_win(w: World, j: int) -> float:
    return max(p for p, vv, c in zip(w.cat.win_price, w.cat.variety, w.cat.cls, strict=True)
               if vv == j and c in ("primary", "backup"))
