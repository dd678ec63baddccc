"""What the workflow asks of the warehouse service it is handed.

The workflow reads reference rows (:mod:`.lookups`) and applies the warehouse writes its decisions owe
(:mod:`.outbox`) through whoever serves the warehouse — the web's result cache
(:class:`jicai.web.data.DataService`) today. The workflow sits below the web, so it names only the few
methods it calls here, and any object that has them will do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from jicai.store import Warehouse

T = TypeVar("T")


class WarehouseService(Protocol):
    # grows whenever what the warehouse holds changes (an import, a decision): cached lookups are dropped
    generation: int

    def run(self, fn: Callable[[Warehouse], T]) -> T:
        """Run ``fn(warehouse)`` on a read connection of its own."""
        ...

    def write(self, fn: Callable[[Warehouse], T]) -> T:
        """Run ``fn(warehouse)`` on a write connection (under the warehouse's write lock), then drop cached
        results: how the outbox applies decisions (:func:`jicai.workflow.outbox.apply_pending`)."""
        ...
