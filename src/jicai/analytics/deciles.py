"""Ranks, deciles and peer statistics of one value per institution, within its peers — engine-neutral.

The one helper behind every measure that ranks institutions against their peers (``institution-deciles``):
given rows of (partition keys, ``institution_code``, ``value``, ``key``) where ``key`` orders the rows best
first (the value for a figure where low is good, minus the value where high is good), it adds

* ``peers`` (n) — the rows of the partition (the institution included);
* ``rank`` — 1 + the number of peers with a better key: ties share the best rank of their run;
* ``decile`` — min(10, ⌊10 × (rank − 1) / (n − 1)⌋ + 1): 1 = the best tenth, 10 = the worst. The rank position
  is spread over 1..10 whatever n is, so a group of 4 has deciles 1, 4, 7, 10 (a rank cannot be more precise
  than its group); none when n < 2 — one institution has nobody to be ranked against;
* ``peer_median`` — the median value of the peers with a value: the middle one for an odd count, the mean of
  the two middle ones for an even count;
* ``peer_best_tenth`` — the nearest-rank 10th percentile in the good direction: the value of the ⌈m / 10⌉-th
  best of the m peers with a value (the best for m ≤ 10, the 2nd best for 11–20, …); for a figure where low is
  good (cost per DDD) the peers' 10th-percentile, as OpenPrescribing's savings use.

Only ``rank``/``row_number``/``count`` windows and integer arithmetic: no engine's quantile (DuckDB's and
PostgreSQL's ``percentile_cont`` interpolate, Spark's ``percentile_approx`` approximates), so DuckDB, PostgreSQL
and Spark give the same rows; the positions ⌈m / 10⌉ and the middle ones are exact quotients of integers.

**Small groups.** With fewer than :data:`MIN_PEERS_FOR_STATS` peers with a value the median and the best
tenth are left blank (``None``): the median of two is the mean of the institution's own value and the other
one's, and the best of a few is one named institution's figure — a saved peer group of an institution user
would otherwise give another hospital's value away. Rank and decile are still given.

>>> import ibis
>>> t = ibis.memtable({"g": ["a"] * 4, "institution_code": list("WXYZ"), "value": [0.9, 0.5, 0.5, 0.2]})
>>> r = ranked(t.mutate(key=-t.value), ["g"]).order_by("institution_code").to_pyarrow().to_pylist()
>>> [(x["institution_code"], x["rank"], x["decile"], x["peer_median"]) for x in r]
[('W', 1, 1, None), ('X', 2, 4, None), ('Y', 2, 4, None), ('Z', 4, 10, None)]
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

# the two bases of a ranking: the level, or a group the user saved (the peer_basis column's labels)
BASIS = {"level": ("同级机构", "institutions of the same level"),
         "group": ("自选对比组", "a peer group saved by the user")}
# peers with a value below which the median and the best tenth are not shown (see the module doc): at 6, the
# figures rest on at least five institutions other than the one reading them
MIN_PEERS_FOR_STATS = 6


@dataclass(frozen=True)
class PeerGroup:
    """A user's peer group, resolved: its name and its members' institution codes (sorted, unique).

    ``str()`` is the name and a digest of the members: the cache key of the figures computed for it, so that
    two users' groups of one name but different members never share figures."""

    name: str
    members: tuple[str, ...]

    @classmethod
    def of(cls, name: str, members: Iterable[str]) -> PeerGroup:
        return cls(name, tuple(sorted({str(m) for m in members})))

    @property
    def digest(self) -> str:
        return hashlib.sha256("\n".join(self.members).encode()).hexdigest()[:16]

    def __str__(self) -> str:
        return f"{self.name}@{self.digest}"


def peer_group(peers: PeerGroup | Sequence[str] | str | None) -> PeerGroup | None:
    """``peers`` as a :class:`PeerGroup`: a group, a list of codes (unnamed), ``a;b;c``, or None (the level)."""
    if peers is None or isinstance(peers, PeerGroup):
        return peers
    if isinstance(peers, str):
        peers = [p for p in peers.split(";") if p.strip()]
    return PeerGroup.of("", [p.strip() for p in peers])


def ranked(t: ir.Table, partition: Sequence[str]) -> ir.Table:
    """``t`` with peers, rank, decile, peer_median and peer_best_tenth per ``partition`` (see the module doc).

    ``t`` has the ``partition`` columns (never null), ``value`` (null: ranked last, left out of the statistics — an
    institution that never reached a level) and ``key`` (non-null; smaller is better)."""
    part = [t[c] for c in partition]
    ordered = ibis.window(group_by=part, order_by=[t.key])
    # the rows with a value come first in row order: their key sorts them, a null value's key is the largest
    t = t.mutate(peers=t.key.count().over(ibis.window(group_by=part)).cast("int64"),
                 with_value=t.value.count().over(ibis.window(group_by=part)).cast("int64"),
                 rank0=ibis.rank().over(ordered),  # 0-based, ties at the best of their run
                 row1=ibis.row_number().over(ordered) + 1)  # ties in any order: they hold the same value
    f = t.filter(t.value.notnull())
    m, row = f.with_value, f.row1
    # nearest rank ⌈m / 10⌉, exact: m / 10.0 of an integer has no rounding that moves the ceiling
    best_at = (m.cast("float64") / 10.0).ceil().cast("int64")
    middle = (2 * row >= m) & (2 * row <= m + 2)  # the middle row (m odd) or the two middle rows (m even)
    stats = f.group_by([f[c].name("s_" + c) for c in partition]).agg(
        s_median=ibis.ifelse(middle, f.value, ibis.null("float64")).mean(),
        s_best=ibis.ifelse(row == best_at, f.value, ibis.null("float64")).max(),
    )
    # the partition columns are never null (the callers fill them), so plain equality joins them
    j = t.left_join(stats, [t[c] == stats["s_" + c] for c in partition]).drop(*["s_" + c for c in partition])
    shown = j.with_value >= MIN_PEERS_FOR_STATS
    tenth = (10.0 * j.rank0.cast("float64") / (j.peers - 1).cast("float64")).floor().cast("int64")
    return j.mutate(
        rank=(j.rank0 + 1).cast("int64"),
        decile=ibis.ifelse(j.peers < 2, ibis.null("int64"), ibis.least(tenth + 1, 10)),
        peer_median=ibis.ifelse(shown, j.s_median, ibis.null("float64")),
        peer_best_tenth=ibis.ifelse(shown, j.s_best, ibis.null("float64")),
    ).drop("rank0", "row1", "with_value", "s_median", "s_best")
