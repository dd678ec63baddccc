"""The real-time settlement gate (视频联动实时拦截): may pharmacy p settle at time t?

Seed 004: "视频监控设备一旦进入非有效工作状态,医保经办机构自动暂停该药店的结算程序". The settlement system asks
before each settlement; the answer must take microseconds, not a query. :class:`SettlementGate` reads
``video_status`` once and keeps, per pharmacy, its timeline cut into non-overlapping segments, each
*online* or *offline*, in sorted arrays; :meth:`SettlementGate.check` finds the segment containing t by
binary search (:mod:`bisect`).

The rule is the one :func:`jicai.fund.pharmacy.video_violations` checks afterwards, so the gate blocks
exactly what the monthly check would flag:

* an interval contains t when ``start_at ≤ t < end_at`` (start inclusive, end exclusive);
* allowed ⇔ some *online* interval of p contains t and no *offline* interval does (overlaps: offline wins);
* no interval at all (a gap, or a pharmacy without video rows) → blocked (``no_video``).

Adjacent or overlapping intervals of the same status merge into one segment; the decision reports the
segment's start and end (so "offline from 09:00 to 12:00" names the whole outage).

Thread safety: the index is an immutable snapshot swapped in one assignment; :meth:`reload` builds a new
one from the same source while :meth:`check` keeps reading the old one. No lock on the read path.

>>> from datetime import datetime
>>> gate = SettlementGate.from_rows([
...     ("P1", datetime(2024, 7, 1), datetime(2024, 7, 2), "online"),
...     ("P1", datetime(2024, 7, 1, 12), datetime(2024, 7, 1, 13), "offline")])
>>> gate.check("P1", datetime(2024, 7, 1, 11, 59, 59)).allowed
True
>>> gate.check("P1", datetime(2024, 7, 1, 12)).reason
'offline'
>>> gate.check("P1", datetime(2024, 7, 1, 13)).allowed
True
>>> gate.check("P9", datetime(2024, 7, 1, 13)).reason
'unknown_pharmacy'
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

from jicai import clock

REASONS: dict[str, tuple[str, str]] = {
    "online": ("视频在线,允许结算", "video online: settlement allowed"),
    "offline": ("视频离线,暂停结算", "video offline: settlement suspended"),
    "no_video": ("该时刻无在线视频记录,暂停结算", "no online video interval at this time: settlement suspended"),
    "unknown_pharmacy": ("药店无视频联动记录,暂停结算", "pharmacy has no video status rows: settlement suspended"),
}

Row = tuple[str, datetime, datetime, str]  # pharmacy_code, start_at, end_at, status


@dataclass(frozen=True)
class GateDecision:
    """The gate's answer; ``start``/``end`` bound the segment containing ``at`` (None in a gap: then they
    are the neighbouring segments' end and start, if any)."""

    pharmacy_code: str
    at: datetime
    allowed: bool
    reason: str  # online / offline / no_video / unknown_pharmacy
    status: str | None  # online / offline, None in a gap
    start: datetime | None
    end: datetime | None

    @property
    def reason_zh(self) -> str:
        return REASONS[self.reason][0]

    @property
    def reason_en(self) -> str:
        return REASONS[self.reason][1]

    def to_dict(self) -> dict:
        """JSON-ready (ISO times), with both messages — what the web API returns."""
        d = asdict(self)
        for k in ("at", "start", "end"):
            d[k] = d[k].isoformat() if d[k] is not None else None
        return {**d, "reason_zh": self.reason_zh, "reason_en": self.reason_en}


@dataclass(frozen=True)
class _Timeline:
    starts: tuple[datetime, ...]
    ends: tuple[datetime, ...]
    online: tuple[bool, ...]


def _timeline(intervals: list[tuple[datetime, datetime, str]]) -> _Timeline:
    """Cut a pharmacy's intervals into non-overlapping segments (offline wins) and merge equal neighbours."""
    cuts = sorted({t for s, e, _ in intervals if s < e for t in (s, e)})
    # coverage per elementary segment [cuts[i], cuts[i+1]) by a sweep over +1/−1 events per status
    events: dict[datetime, list[int]] = {}
    for s, e, status in intervals:
        if s >= e:
            continue  # an empty or reversed interval contains no instant
        k = 0 if status == "online" else 1
        events.setdefault(s, [0, 0])[k] += 1
        events.setdefault(e, [0, 0])[k] -= 1
    starts, ends, online = [], [], []
    on = off = 0
    for a, b in zip(cuts, cuts[1:], strict=False):
        d = events.get(a, (0, 0))
        on, off = on + d[0], off + d[1]
        if on == 0 and off == 0:
            continue  # a gap: no segment
        is_on = off == 0
        if starts and ends[-1] == a and online[-1] == is_on:
            ends[-1] = b
        else:
            starts.append(a)
            ends.append(b)
            online.append(is_on)
    return _Timeline(tuple(starts), tuple(ends), tuple(online))


def _build(rows: Iterable[Row]) -> dict[str, _Timeline]:
    by: dict[str, list[tuple[datetime, datetime, str]]] = {}
    for code, start, end, status in rows:
        if start is None or end is None:
            continue
        by.setdefault(str(code), []).append((_naive(start), _naive(end), str(status)))
    return {code: _timeline(iv) for code, iv in by.items()}


def _naive(t: datetime) -> datetime:
    """Local naive time (the data contract's): an aware datetime is converted to Asia/Shanghai first."""
    return clock.to_local(t)


class SettlementGate:
    """Answers :meth:`check` from an in-memory index of ``video_status``; see the module text."""

    def __init__(self, load: Callable[[], Iterable[Row]]):
        self._load = load
        self._lock = threading.Lock()  # serialises reloads only
        self._index: dict[str, _Timeline] = _build(load())
        self.loaded_at = clock.now()

    @classmethod
    def from_rows(cls, rows: Iterable[Row]) -> SettlementGate:
        rows = list(rows)
        return cls(lambda: rows)

    @classmethod
    def from_warehouse(cls, wh) -> SettlementGate:
        """A gate over the warehouse's ``video_status``; :meth:`reload` reads it again."""

        def load() -> list[Row]:
            t = wh.table("video_status").select("pharmacy_code", "start_at", "end_at", "status").to_pyarrow()
            cols = [t.column(n).to_pylist() for n in ("pharmacy_code", "start_at", "end_at", "status")]
            return list(zip(*cols, strict=True))

        return cls(load)

    def reload(self) -> None:
        """Read the source again and swap the index in one step (checks running meanwhile see the old one)."""
        with self._lock:
            index = _build(self._load())
            self._index = index
            self.loaded_at = clock.now()

    @property
    def pharmacies(self) -> int:
        return len(self._index)

    def check(self, pharmacy_code: str, at: datetime | None = None) -> GateDecision:
        """May ``pharmacy_code`` settle at ``at`` (default: now, local time)?"""
        at = _naive(at) if at is not None else clock.local_now()
        tl = self._index.get(pharmacy_code)
        if tl is None:
            return GateDecision(pharmacy_code, at, False, "unknown_pharmacy", None, None, None)
        i = bisect_right(tl.starts, at) - 1
        if i >= 0 and at < tl.ends[i]:
            on = tl.online[i]
            return GateDecision(pharmacy_code, at, on, "online" if on else "offline",
                                "online" if on else "offline", tl.starts[i], tl.ends[i])
        before = tl.ends[i] if i >= 0 else None
        after = tl.starts[i + 1] if i + 1 < len(tl.starts) else None
        return GateDecision(pharmacy_code, at, False, "no_video", None, before, after)
