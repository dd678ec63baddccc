"""Planted substitution (替代使用): non-VBP alternatives of a VBP variety's ATC class, bought at a few hospitals.

The catalogue gets one non-VBP product per alternative below (a product of no variety, coded in the class of the
VBP variety it replaces, so characters 2–6 of its code are that class). Every hospital using the VBP variety
buys a little of it (``BASE_SHARE`` of its monthly demand of the variety, in minimum units) in every month; at the
planted hospitals the alternative jumps to ``PLANTED_SHARE`` of that demand from the second month of the data
on — the drug batch starts with the data, so the first month is the baseline of the substitution measure. The
VBP purchases are left as they are (the alternative comes on top: a rise of the non-VBP share either way), so no
other plant or measure of the VBP varieties changes.

Everything here draws from its own random stream and writes its own products, listings and order lines (line
numbers after the generator's), so the rest of the simulated data is the same with or without it.
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
from jicai.simulate.purchasing import US_DAY, US_HOUR, US_MIN, Chunk, Generator, ids, ts, us

BASE_SHARE = 0.04  # an alternative's monthly units / the hospital's demand of the VBP variety, everywhere
PLANTED_SHARE = 0.6  # the same at a planted hospital from the second month on
PLANTED = {"YP01": 2, "YP03": 1}  # planted hospitals per replaced variety


@dataclass(frozen=True)
class Alternative:
    name: str
    spec: str  # strength per minimum unit
    group: str  # the ATC level-4 class (that of the variety it replaces)
    replaces: str  # the VBP variety id
    unit: str
    upp: int
    price: float  # listed price per minimum unit


ALTERNATIVES = (
    Alternative("辛伐他汀片", "20mg", "C10AA", "YP01", "片", 28, 0.95),  # a non-VBP statin
    Alternative("硝苯地平控释片", "30mg", "C08CA", "YP03", "片", 7, 2.60),  # a non-VBP dihydropyridine
)


@dataclass
class Substitution:
    """The alternatives' products and the planted hospitals (buyer indices per alternative)."""

    codes: list[str] = field(default_factory=list)
    makers: list[int] = field(default_factory=list)  # enterprise index
    planted: list[list[int]] = field(default_factory=list)

    def products(self, w: World) -> pa.Table:
        return pa.Table.from_pydict({
            "product_code": self.codes, "name": [f"{a.name}（{a.spec}）" for a in ALTERNATIVES],
            "variety_id": [None] * len(self.codes), "spec": [f"{a.spec}*{a.upp}{a.unit}/盒" for a in ALTERNATIVES],
            "units_per_pack": [float(a.upp) for a in ALTERNATIVES],
            "manufacturer_code": [w.ent.code[e] for e in self.makers], "category": ["drug"] * len(self.codes),
            "strength": [None] * len(self.codes),
        }, schema=schema("products"))

    def listings(self, w: World) -> pa.Table:
        return pa.Table.from_pydict({
            "product_code": self.codes, "listed_unit_price": [a.price for a in ALTERNATIVES],
            "status": ["listed"] * len(self.codes),
            "effective_date": [w.batch_start[DRUG_BATCH] - timedelta(days=5)] * len(self.codes),
        }, schema=schema("listings"))

    def chunk(self, w: World, line0: int) -> Chunk:
        """The alternatives' order lines (one per hospital, alternative and month), with deliveries and payments."""
        gen = Generator(w)
        rng = np.random.default_rng([w.seed, 23])
        vid = {v.vid: j for j, v in enumerate(w.varieties)}
        hospital = w.inst.kind[w.buyers] == "hospital"
        rows: list[tuple[int, int, int, float]] = []  # (buyer, alternative, month, units)
        for k, a in enumerate(ALTERNATIVES):
            j = vid[a.replaces]
            users = np.flatnonzero(hospital & w.uses[:, j])
            for m in range(w.months):
                share = np.full(len(users), BASE_SHARE)
                if m >= 1:
                    share[np.isin(users, self.planted[k])] = PLANTED_SHARE
                units = w.demand[users, j] * share * rng.lognormal(0.0, 0.1, len(users))
                rows += [(int(b), k, m, float(u)) for b, u in zip(users, units, strict=True)]
        lb = np.array([r[0] for r in rows], dtype=np.int64)
        alt = np.array([r[1] for r in rows], dtype=np.int64)
        month = np.array([r[2] for r in rows], dtype=np.int64)
        upp = np.array([ALTERNATIVES[k].upp for k in alt], dtype=float)
        qty = np.maximum(1.0, np.rint(np.array([r[3] for r in rows]) / upp))
        price = np.array([ALTERNATIVES[k].price for k in alt])
        pack_price = np.round(price * upp, 4)
        return extra_lines(gen, rng, line0, lb, month, qty, pack_price, alt, pa.array(self.codes, pa.string()),
                           len(w.cat))


def extra_lines(gen: Generator, rng: np.random.Generator, line0: int, lb: np.ndarray, month: np.ndarray,
                qty: np.ndarray, pack_price: np.ndarray, product: np.ndarray, codes: pa.Array,
                first_place: int) -> Chunk:
    """Order lines of products outside the catalogue (a plant's), with deliveries and payments, numbered after
    ``line0``: buyer ``lb`` buys ``qty`` packs at ``pack_price`` of ``codes[product]`` in ``month``. Order time,
    distributor and order number follow the generator's rules (purchasing.py), so a line joining an institution's
    order of that day and distributor shares its order time; ``first_place`` is the place of ``codes[0]`` after the
    catalogue's products (it picks the distributor)."""
    w = gen.w
    L = len(lb)
    gi = w.buyers[lb]
    starts = np.array([us(w.month_start(m)) for m in range(w.months)], dtype=np.int64)
    ndays = np.array([(w.month_start(m + 1) - w.month_start(m)).days for m in range(w.months)])
    day = (rng.random(L) * ndays[month]).astype(np.int64)
    hour = 8 + (gi * 7 + day * 3) % 10
    minute = (gi * 13 + day * 17) % 60
    ordered = starts[month] + day * US_DAY + hour * US_HOUR + minute * US_MIN
    dist = w.ent.distributors_by_prefecture[w.inst.prefecture[gi], (gi + first_place + product) % 2]
    order_num = (((starts[month] - us(w.start)) // US_DAY + day) * len(w.inst) + gi) * len(w.ent.code) + dist
    o = np.lexsort((product, order_num, ordered))
    lb, gi, product, qty, pack_price, dist, ordered, order_num = (
        x[o] for x in (lb, gi, product, qty, pack_price, dist, ordered, order_num))
    line_no = line0 + 1 + np.arange(L)
    line_ids = ids("OL", line_no, 11)
    orders = pa.Table.from_arrays([
        line_ids, ids("OD", order_num, 14), gen.inst_codes.take(pa.array(gi)), codes.take(pa.array(product)),
        gen.ent_codes.take(pa.array(dist)), pa.array(qty), pa.array(pack_price), ts(ordered),
        pa.array(["platform"] * L, pa.string()),
    ], schema=schema("orders"))
    none = np.zeros(L, dtype=bool)
    # no shortage precursor here; the planted selective distributor serves small customers late here too
    small = (dist == w.selective_distributor) & (w.inst.level[gi] <= 1)
    deliveries, accepted_q, acc_at, has_acc = gen._deliveries(rng, L, line_ids, dist, qty, ordered, none, none,
                                                              none, small)
    payments = gen._payments(rng, line_no, lb, accepted_q, pack_price, acc_at, has_acc)
    return Chunk(orders, deliveries, payments)


def _code(a: Alternative, k: int, maker: int) -> str:
    # the catalogue's format (X + class + A + substance + A + form + spec + maker: 23 characters), with
    # substance numbers 150+ that no VBP variety uses
    return f"X{a.group}A{150 + k:03d}A001{101 + k:04d}{maker + 1:05d}"


def plant_substitution(w: World, rng: np.random.Generator) -> Substitution:
    """Pick the planted hospitals (none already in another plant), record them in the manifest, and return the
    alternatives to write (see the module doc)."""
    s = Substitution()
    makers = rng.permutation(w.ent.manufacturers)[: len(ALTERNATIVES)]
    for k, a in enumerate(ALTERNATIVES):
        s.makers.append(int(makers[k]))
        s.codes.append(_code(a, k, int(makers[k])))
        s.planted.append([])
    if w.months < 2:
        w.notes.append("substitution not planted: needs a baseline month and at least one month after it")
        return s
    taken = {c for p in w.planted for c in p.institution_codes}
    inst, b = w.inst, w.buyers
    vid = {v.vid: j for j, v in enumerate(w.varieties)}
    for k, a in enumerate(ALTERNATIVES):
        j = vid[a.replaces]
        pool = [int(i) for i in rng.permutation(len(b))
                if inst.kind[b[i]] == "hospital" and inst.level[b[i]] >= 2 and inst.agreement[b[i]]
                and w.uses[i, j] and str(inst.code[b[i]]) not in taken and not inst.sentinel[b[i]]]
        for i in pool[: PLANTED.get(a.replaces, 0)]:
            s.planted[k].append(i)
            code = str(inst.code[b[i]])
            taken.add(code)
            w.planted.append(Planted(
                "substitution", "替代使用(非集采同类药品)",
                f"From the second month on this hospital buys the non-VBP {a.name} ({a.group}, the class of "
                f"{a.replaces}) at {PLANTED_SHARE:.0%} of its demand of the VBP variety instead of "
                f"{BASE_SHARE:.0%} as every other hospital: its non-VBP share of the class rises beyond its "
                "same-level peers'.",
                institution_codes=[code], variety_ids=[a.replaces], product_codes=[s.codes[k]], batch_id=DRUG_BATCH,
                start=w.month_start(1).isoformat(), expected={"atc4": a.group, "flags": "nonvbp_rise"},
            ))
    return s
