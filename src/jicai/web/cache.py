"""A least-recently-used map bounded by a budget (bytes) and, optionally, a number of entries: the result cache
counts Arrow bytes, the memo of finished pages the approximate size of each page (:func:`approx_size`) and its
entries — so that neither many small pages nor a few huge ones grow the server's memory without bound.

Not thread-safe on its own: :class:`jicai.web.data.DataService` calls it under its lock. ``put`` returns what it
pushed out, so the caller can release what an entry holds (a table registered in the query engine).

>>> c = LRU(budget=10)
>>> c.put("a", "A", cost=6), c.put("b", "B", cost=3)
([], [])
>>> c.get("a")            # a is now the most recently used
'A'
>>> c.put("c", "C", cost=4)  # 6 + 3 + 4 > 10: b, the least recently used, goes
[('b', 'B')]
>>> sorted(c.keys()), c.used
(['a', 'c'], 10)
>>> m = LRU(budget=100, max_items=2)
>>> m.put("x", 1), m.put("y", 2), m.put("z", 3)   # the third entry pushes out the least recently used
([], [], [('x', 1)])
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from dataclasses import fields, is_dataclass
from typing import Any


class LRU:
    def __init__(self, budget: int, max_items: int | None = None) -> None:
        self.budget = budget
        self.max_items = max_items
        self.used = 0
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()

    def get(self, key: Hashable) -> Any | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: Hashable, value: Any, cost: int = 1) -> list[tuple[Hashable, Any]]:
        """Keep ``value`` under ``key``; returns the (key, value) pairs evicted — the replaced value included.
        The newest entry stays even when it alone is over the budget (it was just asked for)."""
        out = []
        old = self._items.pop(key, None)
        if old is not None:
            self.used -= old[1]
            out.append((key, old[0]))
        self._items[key] = (value, cost)
        self.used += cost
        while (self.used > self.budget or (self.max_items is not None and len(self._items) > self.max_items)) \
                and len(self._items) > 1:
            k, (v, c) = self._items.popitem(last=False)
            self.used -= c
            out.append((k, v))
        return out

    def pop(self, key: Hashable) -> Any | None:
        item = self._items.pop(key, None)
        if item is None:
            return None
        self.used -= item[1]
        return item[0]

    def keys(self) -> Iterator[Hashable]:
        return iter(list(self._items))

    def items(self) -> list[tuple[Hashable, Any]]:
        return [(k, v) for k, (v, _) in self._items.items()]

    def clear(self) -> list[tuple[Hashable, Any]]:
        out = self.items()
        self._items.clear()
        self.used = 0
        return out

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items


def approx_size(value: Any, _depth: int = 0) -> int:
    """Roughly the bytes a page's figures hold (strings and bytes by length, containers by their items, a
    dataclass — a page of rows — by its fields): a cost for the memo's budget, not an exact measure. Deep
    structures are counted to a few levels (the figures are shallow: a list of rows of scalars).

    >>> approx_size("abc"), approx_size(b"x" * 1000) >= 1000, approx_size([{"a": "x" * 100}] * 10) > 1000
    (67, True, True)
    """
    base = 64  # an object's header and a pointer to it, about
    if isinstance(value, bytes | bytearray | str):
        return base + len(value)
    if _depth > 6:
        return base
    if isinstance(value, dict):
        return base + sum(approx_size(k, _depth + 1) + approx_size(v, _depth + 1) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return base + sum(approx_size(v, _depth + 1) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        return base + sum(approx_size(getattr(value, f.name), _depth + 1) for f in fields(value))
    return base
