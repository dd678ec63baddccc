"""Orders, deliveries and payments, generated chunk by chunk with numpy.

A chunk is one data month × a block of buyers whose expected order lines add up to about
``chunk_rows``; memory therefore stays flat however many lines are asked for. All lines of an
institution on a day to one distributor form one order (same ``order_id`` and ``ordered_at``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jicai.contract.arrow import schema
from jicai.contract.money import MICRO, MICRO_PER_FEN
from jicai.simulate.model import World

US_SEC = 1_000_000
US_MIN = 60 * US_SEC
US_HOUR = 60 * US_MIN
US_DAY = 24 * US_HOUR
_EPOCH = date(1970, 1, 1)
# the precursor of a planted shortage (World.shortages[i].precursor_days before its start)
PRE_DELAY_H = 24.0  # every line of the product answered (and shipped) a day later
PRE_LATE_SHARE = 0.4  # of those lines, this share ships PRE_LATE_H later still, after the 72 h window
PRE_LATE_H = 72.0
GOLDEN = 0.6180339887498949  # k × φ⁻¹ mod 1 spreads the late lines evenly over a chunk's lines


def fen_half_up(yuan: np.ndarray) -> np.ndarray:
    """Amounts ≥ 0 rounded to the fen half up (四舍五入), as the measures round a line's amount due
    (:func:`jicai.measures.exact.fen`: the micro-yuan snap first, so 6309.485 — stored as 6309.48499… — is
    6309.49). ``np.round`` rounds that double to 6309.48 (half to even, on the binary value): a hospital
    paying so would leave a fen unpaid on one line in a few hundred, which no bureau sees in real data.

    >>> fen_half_up(np.array([6309.485, 37.0368, 1.004, 0.125])).tolist()
    [6309.49, 37.04, 1.0, 0.13]
    """
    m = np.floor(yuan * MICRO + 0.5)
    return np.floor((m + MICRO_PER_FEN // 2) / MICRO_PER_FEN) / 100.0
SELECTIVE_DELAY_H = 30.0  # the planted selective distributor answers its small customers this much later
SELECTIVE_LATE_H = 40.0  # and ships them this much later still: past the 72 h window


def us(d: date) -> int:
    return (d - _EPOCH).days * US_DAY


def ids(prefix: str, nums: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded numbers, built in Arrow (no Python loop)."""
    s = pc.utf8_lpad(pc.cast(pa.array(nums, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, s, "")


def ts(values_us: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    v = (values_us // US_SEC) * US_SEC  # whole seconds, as platform exports have
    return pa.array(v, type=pa.timestamp("us"), mask=None if valid is None else ~valid)


@dataclass
class Chunk:
    orders: pa.Table
    deliveries: pa.Table
    payments: pa.Table


def plan_blocks(world: World, chunk_rows: int) -> list[tuple[int, int, int, float]]:
    """(month, first buyer, end buyer, expected lines) of every chunk."""
    lf = world.line_factor()
    lam = world.lam * world.uses
    out = []
    for m in range(world.months):
        e = lam @ lf[:, m] * world.scale
        cum = np.cumsum(e)
        block = ((cum - e) // max(1, chunk_rows)).astype(np.int64)
        cuts = [0, *(np.flatnonzero(np.diff(block)) + 1).tolist(), len(e)]
        for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
            if hi > lo:
                out.append((m, lo, hi, float(e[lo:hi].sum())))
    return out


class Generator:
    def __init__(self, world: World) -> None:
        w = self.w = world
        cat = w.cat
        self.upp = np.asarray(cat.upp)
        self.listed = np.asarray(cat.listed_price)
        self.backup = np.asarray(cat.backup)
        nv = len(w.varieties)
        width = max(len(x) for x in cat.nonselected)
        self.nonpad = np.zeros((nv, width), dtype=np.int64)
        self.nn = np.array([len(x) for x in cat.nonselected])
        for j, x in enumerate(cat.nonselected):
            self.nonpad[j, : len(x)] = x
            self.nonpad[j, len(x):] = x[0]
        self.season = w.season()
        self.line_factor = w.line_factor()
        self.wtot = w.w_sel + w.w_bak + w.w_non
        self.pref = w.inst.prefecture
        self.inst_codes = pa.array(w.inst.code.tolist(), pa.string())
        self.prod_codes = pa.array(cat.code, pa.string())
        self.ent_codes = pa.array(w.ent.code, pa.string())
        self.channels = pa.array(["platform", "offline"], pa.string())
        self.end_us = us(w.end)
        self.n_inst = len(w.inst)
        self.n_ent = len(w.ent.code)

    def chunks(self, chunk_rows: int) -> Iterator[tuple[Chunk, float]]:
        line0 = 0
        for bi, (m, lo, hi, expected) in enumerate(plan_blocks(self.w, chunk_rows)):
            rng = np.random.default_rng([self.w.seed, 17, m, bi])
            chunk = self.chunk(rng, m, lo, hi, line0)
            line0 += chunk.orders.num_rows
            yield chunk, expected

    def chunk(self, rng: np.random.Generator, m: int, lo: int, hi: int, line0: int) -> Chunk:
        w = self.w
        nv = len(w.varieties)
        bb = np.repeat(np.arange(lo, hi), nv)
        vv = np.tile(np.arange(nv), hi - lo)
        keep = w.uses[bb, vv]
        bb, vv = bb[keep], vv[keep]
        gi_cell = w.buyers[bb]
        wtot = self.wtot[bb, vv]
        surge = np.ones(len(bb))
        for s in w.surges:
            if s.month == m:
                surge[(self.pref[gi_cell] == s.prefecture) & (vv == s.variety)] = s.factor
        lam_c = w.lam[bb, vv] * self.line_factor[vv, m] * w.scale * np.sqrt(wtot * surge)
        d_c = w.demand[bb, vv] * self.season[vv, m] * wtot * surge * rng.lognormal(0.0, 0.08, len(bb))
        # floor(λ) lines plus one more with probability frac(λ); the month's demand is shared by the lines
        # drawn, so the volume of a month does not jump with the count of its lines (an extra order is a
        # smaller one, as a pharmacy restocking the same need) and completion is not drowned in count noise
        n = np.floor(lam_c).astype(np.int64) + (rng.random(len(bb)) < lam_c % 1.0)
        ci = np.repeat(np.arange(len(bb)), n)
        L = len(ci)
        lb, lv = bb[ci], vv[ci]
        gi = w.buyers[lb]
        units = (d_c / np.maximum(n, 1))[ci] * rng.lognormal(-0.03, 0.25, L)

        # product class, then product
        wt = wtot[ci]
        w_sel_m, _ = w.weights(lb, lv, m)  # non-selected use drifts to the winners over the year
        p_sel = w_sel_m / wt
        p_bak = w.w_bak[lb, lv] / wt
        # stratified over a cell's lines (the k-th of n lines draws from [k/n, (k+1)/n)): each class gets its
        # share of the month's lines to within one line, so a small buyer's mix is not a coin toss per line
        first = np.cumsum(n) - n
        k = np.arange(L) - first[ci]
        u = (k + rng.random(L)) / n[ci]
        cls = np.where(u < p_sel, 0, np.where(u < p_sel + p_bak, 1, 2))
        non = self.nonpad[lv, (rng.random(L) * self.nn[lv]).astype(np.int64)]
        prod = np.where(cls == 0, w.sel_prod[lb, lv], np.where(cls == 1, self.backup[lv], non))
        prod = self._kickbacks(prod, cls, lb, lv, m)

        # when: all lines of an institution on a day share the order time
        month0 = w.month_start(m)
        ndays = (w.month_start(m + 1) - month0).days
        day = rng.integers(0, ndays, L)
        hour = 8 + (gi * 7 + day * 3) % 10
        minute = (gi * 13 + day * 17) % 60
        ordered = us(month0) + day * US_DAY + hour * US_HOUR + minute * US_MIN

        # verified shortages: the institutions buy the backup product instead, a few orders stay unfilled;
        # everyone else gets only part of what they order of that product during the period
        unfilled = np.zeros(L, dtype=bool)
        short = np.zeros(L, dtype=bool)
        pre = np.zeros(L, dtype=bool)
        for sh in w.shortages:
            t0, t1 = us(sh.start), us(sh.end + timedelta(days=1))
            # before the period the maker is already short: its lines of the product are served late
            pre |= (prod == sh.product) & (ordered >= t0 - sh.precursor_days * US_DAY) & (ordered < t0)
            inside = (prod == sh.product) & (ordered >= t0) & (ordered < t1)
            mine = inside & np.isin(lb, sh.buyers)
            reroute = mine & (rng.random(L) < 0.9)
            prod[reroute] = sh.backup
            unfilled |= mine & ~reroute
            short |= inside & ~mine

        qty = np.maximum(1.0, np.rint(units / self.upp[prod]))
        pack_price = np.round(self.listed[prod] * self.upp[prod], 4)
        dist = w.ent.distributors_by_prefecture[self.pref[gi], (gi + prod) % 2]
        offline = rng.random(L) < w.offline_p[lb]
        day_abs = (month0 - w.start).days + day
        order_num = (day_abs * self.n_inst + gi) * self.n_ent + dist

        o = np.lexsort((prod, order_num, ordered))
        lb, gi, prod, qty, pack_price, dist, offline, ordered, order_num, unfilled, short, pre = (
            x[o] for x in (lb, gi, prod, qty, pack_price, dist, offline, ordered, order_num, unfilled, short, pre))
        line_no = line0 + 1 + np.arange(L)
        line_ids = ids("OL", line_no, 11)
        orders = pa.Table.from_arrays([
            line_ids, ids("OD", order_num, 14), self.inst_codes.take(pa.array(gi)),
            self.prod_codes.take(pa.array(prod)), self.ent_codes.take(pa.array(dist)),
            pa.array(qty), pa.array(pack_price), ts(ordered), self.channels.take(pa.array(offline.astype(np.int8))),
        ], schema=schema("orders"))

        # planted selective delivery: the distributor's lines to small customers (level ≤ 1)
        small = (dist == w.selective_distributor) & (w.inst.level[gi] <= 1)
        deliveries, accepted_q, acc_at, has_acc = self._deliveries(rng, L, line_ids, dist, qty, ordered, unfilled, short,
                                                                   pre, small)
        payments = self._payments(rng, line_no, lb, accepted_q, pack_price, acc_at, has_acc)
        return Chunk(orders, deliveries, payments)

    def _kickbacks(self, prod, cls, lb, lv, m):
        """Planted 带金销售 clues: a selected line of a kickback buyer moves to the non-selected product with a
        probability growing from 0 in the first month to the plant's share in the last. The moved lines are picked by
        the fixed GOLDEN sequence, not by rng, so every other line stays what it was without the plant."""
        for kb in self.w.kickbacks:
            r = kb.share * m / max(1, self.w.months - 1)
            moved = (cls == 0) & (lv == kb.variety) & np.isin(lb, kb.buyers) & (((np.arange(len(prod)) * GOLDEN) % 1.0) < r)
            prod = np.where(moved, kb.product, prod)
        return prod

    def _deliveries(self, rng, L, line_ids, dist, qty, ordered, unfilled, short, pre, small):
        slow = dist == self.w.slow_distributor
        # a well-run distributor answers within hours and ships within a day or two, practically never after
        # 72 h (the tails are narrow so that its monthly 配送率 stays above 95 %); the planted slow one does not
        resp_h = np.where(slow, rng.lognormal(np.log(40), 0.35, L), rng.lognormal(np.log(3), 0.6, L))
        ship_h = resp_h + np.where(slow, rng.lognormal(np.log(70), 0.3, L), rng.lognormal(np.log(16), 0.35, L))
        # the weeks before a shortage (pre): every line is answered PRE_DELAY_H later and PRE_LATE_SHARE of them
        # ship PRE_LATE_H later still, past the window. The late ones are picked by a fixed sequence, not by a
        # draw of rng, so every other line of the province stays exactly what it was without the precursor.
        resp_h = np.where(pre, resp_h + PRE_DELAY_H, resp_h)
        late = pre & (((np.arange(L) * GOLDEN) % 1.0) < PRE_LATE_SHARE)
        ship_h = np.where(pre, ship_h + PRE_DELAY_H, ship_h) + np.where(late, PRE_LATE_H, 0.0)
        # planted selective delivery: small customers answered and shipped late (no draw of rng, as above)
        resp_h = np.where(small, resp_h + SELECTIVE_DELAY_H, resp_h)
        ship_h = np.where(small, ship_h + SELECTIVE_DELAY_H + SELECTIVE_LATE_H, ship_h)
        acc_h = ship_h + rng.uniform(2, 40, L)
        shipped_q = qty.copy()
        # now and then a line of several packs ships a few packs short
        partial = (rng.random(L) < 0.005) & (qty >= 5)
        shipped_q[partial] = np.floor(qty[partial] * rng.uniform(0.85, 0.95, partial.sum()))
        shipped_q[short] = np.floor(qty[short] * rng.uniform(0.0, 0.5, short.sum()))
        shipped_q[unfilled] = 0.0
        accepted_q = shipped_q.copy()
        damaged = (rng.random(L) < 0.003) & (shipped_q >= 2)
        accepted_q[damaged] -= 1
        missing = slow & (rng.random(L) < 0.005)  # the slow distributor also loses an order now and then
        resp = ordered + (resp_h * US_HOUR).astype(np.int64)
        ship = ordered + (ship_h * US_HOUR).astype(np.int64)
        acc = ordered + (acc_h * US_HOUR).astype(np.int64)
        has_resp = (resp < self.end_us) & ~missing
        has_ship = has_resp & (ship < self.end_us) & (shipped_q > 0)
        known_q = has_ship | (has_resp & (shipped_q == 0))
        has_acc = has_ship & (acc < self.end_us)
        r = has_resp
        deliveries = pa.Table.from_arrays([
            line_ids.filter(pa.array(r)), ts(resp[r]), ts(ship[r], has_ship[r]),
            pa.array(shipped_q[r], mask=~known_q[r]), ts(acc[r], has_acc[r]),
            pa.array(accepted_q[r], mask=~(has_acc[r] | (known_q[r] & (shipped_q[r] == 0)))),
        ], schema=schema("deliveries"))
        return deliveries, accepted_q, acc, has_acc

    def _payments(self, rng, line_no, lb, accepted_q, pack_price, acc, has_acc):
        L = len(line_no)
        pay = has_acc & (accepted_q > 0)
        # the amount due of the line, rounded to the fen once, half up: what the invoice says and the hospital pays
        amount = fen_half_up(accepted_q * pack_price)
        acc_day = (acc // US_DAY).astype("datetime64[D]")
        due = ((acc_day.astype("datetime64[M]") + 2).astype("datetime64[D]") - 1).astype(np.int64)
        acc_d = acc_day.astype(np.int64)
        span = due - acc_d
        paid = acc_d + 3 + np.floor(rng.random(L) * np.maximum(span - 3, 1)).astype(np.int64)
        slightly = rng.random(L) < 0.01
        paid = np.where(slightly, due + rng.integers(1, 16, L), paid)
        late = self.w.late_payer[lb]
        paid = np.where(late, due + rng.integers(20, 121, L), paid)
        part = late & (rng.random(L) < 0.5)
        amount = np.where(part, fen_half_up(amount * rng.uniform(0.4, 0.8, L)), amount)
        paid_us = paid * US_DAY + (rng.uniform(9, 17, L) * US_HOUR).astype(np.int64)
        k = pay & (paid_us < self.end_us)
        return pa.Table.from_arrays([
            ids("PY", line_no[k], 11), ids("OL", line_no[k], 11), pa.array(amount[k]), ts(paid_us[k]),
        ], schema=schema("payments"))
