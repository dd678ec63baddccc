"""The warehouse: an Ibis backend opened from a URL, plus the few engine-specific operations jicai needs.

Measures only ever see ``Warehouse.table(name)`` (an Ibis table); everything that differs between
engines lives in one subclass per engine in this package, never in measure code.
"""

from jicai.store.locking import DataVersion, LockTimeout
from jicai.store.warehouse import (
    FACT_SOURCES,
    FACTS_PENDING,
    FACTS_STATE,
    MODES,
    Warehouse,
    WarehouseBusy,
    connect,
    copy_tables,
    default_url,
    latest_version,
)

__all__ = ["FACT_SOURCES", "FACTS_PENDING", "FACTS_STATE", "MODES", "DataVersion", "LockTimeout", "Warehouse", "WarehouseBusy",
           "connect", "copy_tables", "default_url", "latest_version"]
