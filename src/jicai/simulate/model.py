"""The demand model of the simulated province.

Every buyer ``b`` (an institution that is not a pharmacy) has, for each variety ``v`` it uses, a monthly
demand ``D[b, v]`` in minimum units (size × per-size demand × seasonality) split over product classes by
volume weights ``w_sel`` (its selected primary product), ``w_bak`` (backup product) and ``w_non``
(non-selected products), and an expected number of order lines per month ``lam[b, v]``. Planted
situations (see :mod:`jicai.simulate.planted`) change these arrays; the purchasing generator draws order
lines from them chunk by chunk. Agreements and volume reports are computed from the same model, so
completion and audit ratios come out as designed at any scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from jicai.calendar import add_years, shift_month
from jicai.simulate.actors import Enterprises, Institutions
from jicai.simulate.catalogue import BATCHES, DRUG_BATCH, REAGENT_BATCH, Catalogue, VarietySpec
from jicai.simulate.manifest import Planted

BASE_LINES = 1.8  # order lines per variety-month of a size-1 buyer, before scaling


@dataclass
class Shortage:
    buyers: np.ndarray  # buyer indices
    variety: int
    product: int  # the selected product that could not be supplied
    backup: int
    start: date
    end: date  # inclusive
    # the weeks before start in which the product's deliveries already degrade everywhere (a real shortage shows
    # in slower answers and late shipments before anyone reports it): see jicai.simulate.purchasing
    precursor_days: int = 0


@dataclass
class Kickback:
    """A planted 带金销售 clue (jicai.simulate.planted.plant_clues): at these buyers a growing share of the selected
    lines of the variety moves to one non-selected product, from none in the first month to ``share`` in the last."""

    buyers: np.ndarray  # buyer indices
    variety: int
    product: int  # the non-selected product
    share: float


@dataclass
class Surge:
    prefecture: int
    variety: int
    month: int  # month index into the data
    factor: float


@dataclass
class World:
    seed: int
    inst: Institutions
    ent: Enterprises
    cat: Catalogue
    start: date  # first day of the data (first of a month)
    months: int
    batch_start: dict[str, date]
    buyers: np.ndarray  # institution indices of buyers
    uses: np.ndarray  # (B, V) bool
    demand: np.ndarray  # (B, V) minimum units per month at season factor 1
    w_sel: np.ndarray
    w_bak: np.ndarray
    w_non: np.ndarray
    lam: np.ndarray  # (B, V) order lines per month at season factor 1 and scale 1
    sel_prod: np.ndarray  # (B, V) product index of the buyer's selected primary
    agree_factor: np.ndarray  # (B, V) agreed volume / the institution's reported use of the variety (all products)
    offline_p: np.ndarray  # (B,) share of offline order lines
    late_payer: np.ndarray  # (B,) bool
    # (B, V) share of the non-selected weight that moves to the selected product over the first cycle year
    # (prescribers switch to the winners once the batch runs); 0 where a plant fixes the mix
    drift: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    # (B, V) use of the variety once the batch runs / the use reported before it: the price falls, the molecule
    # gains prescriptions (the agreement is set on the reported use, the purchases follow the new one)
    uplift: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    slow_distributor: int = -1  # enterprise index
    # planted clues (jicai.simulate.planted.plant_clues): 带金销售 at a few buyers, a distributor serving its small
    # customers late (enterprise index; -1: none)
    kickbacks: list[Kickback] = field(default_factory=list)
    selective_distributor: int = -1
    shortages: list[Shortage] = field(default_factory=list)
    surges: list[Surge] = field(default_factory=list)
    scale: float = 1.0  # multiplies lam to reach --order-lines
    planted: list[Planted] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # volume-report plants: (buyer, variety) -> multiplier of the honest report (0 = no report)
    report_factor: dict[tuple[int, int], float] = field(default_factory=dict)

    @property
    def end(self) -> date:
        return shift_month(self.start, self.months)

    @property
    def varieties(self) -> tuple[VarietySpec, ...]:
        return self.cat.varieties

    def month_start(self, m: int) -> date:
        return shift_month(self.start, m)

    def season(self) -> np.ndarray:
        """(V, M) seasonal demand factors of the data months."""
        cal = [self.month_start(m).month for m in range(self.months)]
        return np.array([[v.season(c) for c in cal] for v in self.varieties])

    def line_factor(self) -> np.ndarray:
        """(V, M) factor on the number of lines: busier months have more, somewhat larger, orders."""
        return self.season() ** 0.6

    def drift_factor(self, m: int | np.ndarray) -> np.ndarray:
        """Share of the drift done by the middle of data month m: linear over the first 12 months."""
        return np.minimum(1.0, (np.asarray(m, dtype=float) + 0.5) / 12.0)

    def weights(self, b: np.ndarray, v: np.ndarray, m: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(selected, non-selected) weights of (b, v) in data month m, after the drift to the winners."""
        moved = self.w_non[b, v] * self.drift[b, v] * self.drift_factor(m)
        return self.w_sel[b, v] + moved, self.w_non[b, v] - moved

    def expected_lines(self) -> float:
        lam = self.lam * self.uses
        return float((lam @ self.line_factor()).sum() * self.scale)

    def cycle(self, batch: str, k: int) -> tuple[date, date]:
        """[start, end) of cycle year k of a batch."""
        s = self.batch_start[batch]
        return add_years(s, k - 1), add_years(s, k)

    def expected_units(self, b: np.ndarray, v: np.ndarray, first: date, end: date, selected_only: bool,
                       normal: bool) -> np.ndarray:
        """Expected accepted minimum units of (b, v) pairs over [first, end) by the demand model.

        ``normal`` uses an institution's normal behaviour (what its agreement is based on) rather than
        its planted behaviour.
        """
        months = []
        d = date(first.year, first.month, 1)
        while d < end:
            nxt = shift_month(d, 1)
            days = (min(nxt, end) - max(d, first)).days
            months.append((d.month, days / (nxt - d).days))
            d = nxt
        vs = self.varieties
        seas = np.array([[vs[j].season(mo) * frac for mo, frac in months] for j in range(len(vs))]).sum(axis=1)
        if normal:
            w = 1.0 - self.base_non[b, v] if selected_only else np.ones(len(b))
        else:
            w = self.w_sel[b, v] if selected_only else (self.w_sel + self.w_bak + self.w_non)[b, v]
        upp = np.asarray(self.cat.upp)[self.sel_prod[b, v]]
        per_month = self.demand[b, v] * w
        lines = self.lam[b, v] * self.scale * np.sqrt(np.maximum(w, 1e-9))
        # at very many lines per month each line still buys at least one pack
        per_month = np.maximum(per_month, np.where(per_month > 0, lines * upp, 0.0))
        return per_month * seas[v] * self.uses[b, v]

    base_non: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))


def batch_starts(start: date) -> dict[str, date]:
    """The drug batch starts with the data; the reagent alliance batch on the 26th of the next month."""
    nxt = shift_month(start, 1)
    return {DRUG_BATCH: start, REAGENT_BATCH: nxt.replace(day=26)}


def build_world(seed: int, inst: Institutions, ent: Enterprises, cat: Catalogue, start: date, months: int,
                rng: np.random.Generator) -> World:
    buyers = np.flatnonzero(inst.size > 0)
    vs = cat.varieties
    nb, nv = len(buyers), len(vs)
    kind = inst.kind[buyers]
    level = inst.level[buyers]
    lab = rng.random(nb) < 0.5
    uses = np.zeros((nb, nv), dtype=bool)
    for j, v in enumerate(vs):
        ok = np.isin(kind, v.kinds)
        if v.category == "reagent":
            ok &= (level >= 2) | ((kind == "primary") & lab)
        uses[:, j] = ok
    size = inst.size[buyers]
    pop = np.array([v.demand for v in vs])
    demand = size[:, None] * pop[None, :] * rng.lognormal(0.0, 0.15, (nb, nv)) * uses
    # non-selected share at the batch start 6–18 %, half of it gone to the winners a year on (see docs/simulator.md)
    base_non = rng.uniform(0.06, 0.18, (nb, nv))
    w_non = base_non.copy()
    w_sel = 1.0 - w_non
    w_bak = np.full((nb, nv), 0.005)
    lam = BASE_LINES * np.sqrt(size)[:, None] * np.ones(nv)[None, :] * uses
    pref = inst.prefecture[buyers]
    sel_prod = cat.primary_by_pref[:, pref].T.copy()
    offline_p = np.full(nb, 0.02)
    world = World(
        seed=seed, inst=inst, ent=ent, cat=cat, start=start, months=months, batch_start=batch_starts(start),
        buyers=buyers, uses=uses, demand=demand, w_sel=w_sel, w_bak=w_bak, w_non=w_non, lam=lam,
        # agreed volume = 60–80 % of the institution's use of the variety (reported use, all products)
        sel_prod=sel_prod, agree_factor=rng.uniform(0.60, 0.80, (nb, nv)), offline_p=offline_p,
        late_payer=np.zeros(nb, dtype=bool), drift=np.full((nb, nv), 0.5), uplift=rng.uniform(1.0, 1.3, (nb, nv)),
    )
    world.base_non = base_non
    return world


def cycles_in_data(world: World, batch: str) -> list[int]:
    """Cycle years of a batch that overlap the data."""
    out = []
    for k in range(1, BATCHES[batch][2] + 1):
        s, e = world.cycle(batch, k)
        if s < world.end and e > world.start:
            out.append(k)
    return out


def report_time(world: World, batch: str, k: int) -> date | None:
    """When the volume report for cycle year k (k ≥ 2) is filed: 45 days before the cycle starts,
    if that falls inside the data after at least six months of history."""
    s, _ = world.cycle(batch, k)
    t = s - timedelta(days=45)
    if world.start + timedelta(days=180) <= t < world.end:
        return t
    return None
