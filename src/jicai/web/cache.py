"""A least-recently-used map bounded by a budget: bytes for the result cache, entries for the memo.

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
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Any


class LRU:
    def __init__(self, budget: int) -> None:
        self.budget = budget
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
        while self.used > self.budget and len(self._items) > 1:
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
