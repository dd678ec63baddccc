"""What the workflow needs to know from the warehouse: which products, institutions, enterprises and
varieties exist, an institution's region, an enterprise's products. Each lookup is read once on the
warehouse service's connection and kept until the service's ``generation`` changes (an import or a decision
invalidates it)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

import ibis

from jicai.store import Warehouse
from jicai.workflow.warehouse import WarehouseService

_lock = threading.Lock()
_caches: WeakKeyDictionary[WarehouseService, tuple[int, dict[tuple, Any]]] = WeakKeyDictionary()


def _cached(data: WarehouseService, key: tuple, compute: Callable[[Warehouse], Any]) -> Any:
    with _lock:
        generation, store = _caches.get(data, (None, {}))
        if generation != data.generation:
            generation, store = data.generation, {}
            _caches[data] = (generation, store)
        if key in store:
            return store[key]
    value = data.run(compute)
    with _lock:
        if data.generation == generation:
            store[key] = value
    return value


def _column(wh: Warehouse, table: str, *columns: str) -> list[tuple]:
    if not wh.has_table(table):
        return []
    t = wh.table(table).select(*columns).distinct()
    return [tuple(r.values()) for r in t.to_pyarrow().to_pylist()]


def _code_map(table: str, code: str, value: str) -> Callable[[WarehouseService], dict[str, str]]:
    """A lookup of ``code`` → ``value`` (blank when NULL) over every row of the warehouse's ``table``."""

    def lookup(data: WarehouseService) -> dict[str, str]:
        return _cached(data, ("workflow", table, code, value),
                       lambda wh: {c: v or "" for c, v in _column(wh, table, code, value)})

    lookup.__doc__ = f"{code} → {value} of every row of the warehouse's ``{table}``."
    return lookup


institution_regions = _code_map("institutions", "institution_code", "region_code")
institution_names = _code_map("institutions", "institution_code", "name")
product_names = _code_map("products", "product_code", "name")
enterprise_names = _code_map("enterprises", "enterprise_code", "name")
variety_names = _code_map("varieties", "variety_id", "name")


def enterprise_products(data: WarehouseService, enterprise_code: str) -> frozenset[str]:
    """Products of an enterprise: those it manufactures, and those it supplies as a selected enterprise."""

    def compute(wh: Warehouse) -> frozenset[str]:
        codes: set[str] = set()
        if wh.has_table("products"):
            p = wh.table("products")
            codes |= {r["product_code"] for r in p.filter(p.manufacturer_code == enterprise_code)
                      .select("product_code").to_pyarrow().to_pylist()}
        if wh.has_table("selected_products"):
            sp = wh.table("selected_products")
            codes |= {r["product_code"] for r in sp.filter(sp.enterprise_code == enterprise_code)
                      .select("product_code").distinct().to_pyarrow().to_pylist()}
        return frozenset(codes)

    return _cached(data, ("workflow", "enterprise_products", enterprise_code), compute)


def enterprise_known(data: WarehouseService, enterprise_code: str) -> bool:
    return enterprise_code in enterprise_names(data) or bool(enterprise_products(data, enterprise_code))


def variety_row(data: WarehouseService, variety_id: str) -> dict | None:
    """The warehouse's ``varieties`` row (every contract column), or None."""

    def compute(wh: Warehouse) -> dict | None:
        from jicai.contract.arrow import schema

        if not wh.has_table("varieties"):
            return None
        t = wh.table("varieties")
        rows = t.filter(t.variety_id == ibis.literal(variety_id)).select(schema("varieties").names).to_pyarrow()
        rows = rows.to_pylist()
        return rows[0] if rows else None

    return _cached(data, ("workflow", "variety_row", variety_id), compute)


IMPORTED = ("report_id", "institution_code", "product_code", "problem", "reported_at", "verified", "start_date",
            "end_date")


def imported_problems(data: WarehouseService) -> list[dict]:
    """The warehouse's ``supply_problems`` rows that did not come from the workflow (``report_id`` not ``WF-…``):
    the reports imported with the data (``jicai import``), already verified or not by the platform."""

    def compute(wh: Warehouse) -> list[dict]:
        if not wh.has_table("supply_problems"):
            return []
        t = wh.table("supply_problems")
        t = t.filter(~t.report_id.startswith("WF-")).select(*IMPORTED).order_by([ibis.desc("reported_at"), "report_id"])
        return t.to_pyarrow().to_pylist()

    return _cached(data, ("workflow", "imported_problems"), compute)
