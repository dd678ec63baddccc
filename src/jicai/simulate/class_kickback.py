"""Planted 带金销售 clue, non-VBP same-class variant: one maker's non-VBP product of a VBP variety's ATC class
taking a growing share of the class at a few hospitals (issue 16 item 8a; ``class_overuse`` of
:mod:`jicai.analytics.kickback_clues`).

The catalogue gets one non-VBP product, a proton-pump inhibitor of no variety (雷贝拉唑钠肠溶片 10 mg, class A02BC
of the VBP 奥美拉唑肠溶胶囊, YP06). Every hospital using YP06 buys it at ``BASE_SHARE`` of its class DDDs, on
``BASE_LINES`` order lines a month: an ordinary product with a small steady use everywhere, so the same-level
median is a real share and every hospital is a candidate of the clue (enough lines) that must *not* fire. At the
planted hospitals its share rises linearly from ``BASE_SHARE`` in the first month of the data (the drug batch
starts with the data) to ``PEAK_SHARE`` in the last, on ``PLANTED_LINES`` lines a month: far above the peers and
rising since the class's batch began, what a kickback leaves in the orders. The product comes on top of the
VBP purchases (the inducement adds prescriptions): the VBP lines stay as they are, so no completion,
non-selected share or other plant of the VBP varieties moves.

Shares are of the class's DDDs: the variety's minimum unit (奥美拉唑 20 mg) is one DDD (WHO: A02BC01 20 mg), the
product's (雷贝拉唑 10 mg) half of one (A02BC04 20 mg), so a DDD of the product is two of its units; the clue
measure reads the same DDDs from the bundled WHO table.

Planted only with at least ``MIN_MONTHS`` months (the clue's early and recent windows of three months must not
overlap). The hospitals are picked from the seed among those no other plant names (this runs after every other
drug plant), at most a third of the hospitals of a level, so that a level's median share stays an unplanted
peer's. Everything draws from its own random streams and writes its own product, listing and order lines
(numbered after all others), so the rest of the data is what it was without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pyarrow as pa

from jicai.contract.arrow import schema
from jicai.simulate.catalogue import DRUG_BATCH
from jicai.simulate.manifest import Planted
from jicai.simulate.model import World
from jicai.simulate.purchasing import Chunk, Generator
from jicai.simulate.substitution import ALTERNATIVES, extra_lines

NAME, SPEC, UNIT, UPP = "雷贝拉唑钠肠溶片", "10mg", "片", 14
GROUP = "A02BC"  # proton-pump inhibitors: the class of the VBP 奥美拉唑肠溶胶囊
VARIETY = "YP06"
PRICE = 1.85  # listed price per tablet, yuan: a non-VBP PPI at several times the winner's 0.32
DDD_PER_UNIT = 0.5  # 10 mg / the WHO DDD 20 mg (A02BC04)
VARIETY_DDD_PER_UNIT = 1.0  # 奥美拉唑 20 mg / the WHO DDD 20 mg (A02BC01)
BASE_SHARE = 0.05  # the product's share of a hospital's class DDDs, everywhere, every month
PEAK_SHARE = 0.5  # the same at a planted hospital in the last month, from BASE_SHARE in the first
BASE_LINES = 2  # order lines a month: 6 in the clue's 3-month recent window, clue_min_lines (6): a candidate
PLANTED_LINES = 3
PLANTED = 3  # planted hospitals, at most
MIN_MONTHS = 6  # 2 × clue_window_months: the early and recent windows apart
CODE_SUBSTANCE = 160  # the substance number of the code: above the varieties' (100+) and the substitution's (150+)


@dataclass
class ClassKickback:
    """The product (code, maker) and the planted hospitals (buyer indices)."""

    code: str = ""
    maker: int = -1  # enterprise index
    planted: list[int] = field(default_factory=list)

    def products(self, w: World) -> pa.Table:
        return pa.Table.from_pydict({
            "product_code": [self.code], "name": [f"{NAME}（{SPEC}）"], "variety_id": [None],
            "spec": [f"{SPEC}*{UPP}{UNIT}/盒"], "units_per_pack": [float(UPP)],
            "manufacturer_code": [w.ent.code[self.maker]], "category": ["drug"], "strength": [None],
        }, schema=schema("products"))

    def listings(self, w: World) -> pa.Table:
        return pa.Table.from_pydict({
            "product_code": [self.code], "listed_unit_price": [PRICE], "status": ["listed"],
            "effective_date": [w.batch_start[DRUG_BATCH] - timedelta(days=5)],
        }, schema=schema("listings"))

    def share(self, w: World, planted: np.ndarray, m: int) -> np.ndarray:
        """The product's share of the class's DDDs in data month m: base, or the planted ramp."""
        ramp = BASE_SHARE + (PEAK_SHARE - BASE_SHARE) * m / max(1, w.months - 1)
        return np.where(planted, ramp, BASE_SHARE)

    def chunk(self, w: World, line0: int) -> Chunk:
        """The product's order lines (BASE_LINES or PLANTED_LINES per hospital and month), with deliveries and
        payments."""
        gen = Generator(w)
        rng = np.random.default_rng([w.seed, 31])
        j = {v.vid: k for k, v in enumerate(w.varieties)}[VARIETY]
        users = np.flatnonzero((w.inst.kind[w.buyers] == "hospital") & w.uses[:, j])
        planted = np.isin(users, self.planted)
        n = np.where(planted, PLANTED_LINES, BASE_LINES)
        season = w.season()[j]
        wtot = (w.w_sel + w.w_bak + w.w_non)[users, j]
        lb, month, units = [], [], []
        for m in range(w.months):
            # the variety's DDDs of the month (its expected units, one DDD each); the product's DDDs are s / (1 − s)
            # of them, so that it holds s of the class's DDDs, then in its own units
            s = self.share(w, planted, m)
            v_ddd = w.demand[users, j] * season[m] * wtot * VARIETY_DDD_PER_UNIT
            per_line = v_ddd * s / (1.0 - s) / DDD_PER_UNIT / n
            lb.append(np.repeat(users, n))
            month.append(np.full(int(n.sum()), m))
            units.append(np.repeat(per_line, n))
        lb, month, units = np.concatenate(lb), np.concatenate(month), np.concatenate(units)
        L = len(lb)
        units = units * rng.lognormal(0.0, 0.1, L)
        qty = np.maximum(1.0, np.rint(units / UPP))
        pack_price = np.full(L, round(PRICE * UPP, 4))
        # its place after the catalogue's and the substitution's products
        return extra_lines(gen, rng, line0, lb, month, qty, pack_price, np.zeros(L, dtype=np.int64),
                           pa.array([self.code], pa.string()), len(w.cat) + len(ALTERNATIVES))


def plant_class_kickback(w: World, rng: np.random.Generator) -> ClassKickback:
    """Make the product, pick the planted hospitals (after every other drug plant: none of theirs), record them
    in the manifest, and return what to write (see the module doc)."""
    maker = int(rng.choice(w.ent.manufacturers))
    # the catalogue's code format (X + class + A + substance + A + form + spec + maker: 23 characters)
    k = ClassKickback(code=f"X{GROUP}A{CODE_SUBSTANCE:03d}A001{101:04d}{maker + 1:05d}", maker=maker)
    if w.months < MIN_MONTHS:
        w.notes.append(f"class kickback clue not planted: needs at least {MIN_MONTHS} months of data "
                       "(two 3-month windows)")
        return k
    inst, b = w.inst, w.buyers
    j = {v.vid: i for i, v in enumerate(w.varieties)}[VARIETY]
    taken = {c for p in w.planted for c in p.institution_codes}
    users = (inst.kind[b] == "hospital") & w.uses[:, j]
    room = {lv: int((users & (inst.level[b] == lv)).sum()) // 3 for lv in set(inst.level[b].tolist())}
    for i in rng.permutation(len(b)):
        i = int(i)
        if len(k.planted) == PLANTED:
            break
        lv = int(inst.level[b[i]])
        if (users[i] and lv >= 2 and inst.agreement[b[i]] and not inst.sentinel[b[i]]
                and str(inst.code[b[i]]) not in taken and room[lv] > 0):
            k.planted.append(i)
            room[lv] -= 1
    if not k.planted:
        w.notes.append("class kickback clue not planted: no hospital free of other plants")
        return k
    w.planted.append(Planted(
        "class_kickback", "带金销售线索(非集采同类产品)",
        f"At these hospitals one maker's non-VBP {NAME} ({GROUP}, the class of the VBP {VARIETY}) takes a growing "
        f"share of the class's DDDs: {BASE_SHARE:.0%} in the first month as at every hospital, {PEAK_SHARE:.0%} in "
        "the last. The kickback clues should name each hospital with this product (class_overuse: share far above "
        "same-level peers and rising since the class's batch began); a clue, not a verdict. The substitution "
        "flags may see the same rise (nonvbp_rise).",
        institution_codes=[str(inst.code[b[i]]) for i in k.planted], variety_ids=[VARIETY], product_codes=[k.code],
        enterprise_codes=[w.ent.code[maker]], batch_id=DRUG_BATCH, start=w.start.isoformat(),
        expected={"signal": "class_overuse", "atc4": GROUP, "base_share": BASE_SHARE, "final_share": PEAK_SHARE},
    ))
    return k
