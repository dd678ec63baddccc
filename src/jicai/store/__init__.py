"""The warehouse: an Ibis backend opened from a URL, plus the few engine-specific operations jicai needs.

Measures only ever see ``Warehouse.table(name)`` (an Ibis table); everything that differs between
engines lives in one subclass per engine in this package, never in measure code.
"""

from jicai.store.warehouse import FACT_SOURCES, FACTS_STATE, Warehouse, connect, copy_tables, default_url

__all__ = ["FACT_SOURCES", "FACTS_STATE", "Warehouse", "connect", "copy_tables", "default_url"]
