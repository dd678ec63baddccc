"""The names behind the codes a page shows: institutions, enterprises (manufacturers and distributors),
products, varieties (with their minimum unit), batches and regions — read once per data version from the
warehouse's reference tables and kept by the data service, so a page of 50 rows names its codes from memory.

Which code column names which kind of thing is declared once here (:data:`CODE_KINDS`); a region code is named
from the warehouse's ``regions`` table and, where that is silent, from the shipped GB/T 2260 table
(:mod:`jicai.contract.regions`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jicai.contract.regions import region_name

# a code column → the reference it names (columns not listed are shown as they are)
CODE_KINDS = {
    "institution_code": "institution", "sentinel_code": "institution", "pharmacy_code": "institution",
    "enterprise_code": "enterprise", "distributor_code": "enterprise", "manufacturer_code": "enterprise",
    "main_enterprise_code": "enterprise",
    "product_code": "product", "main_product_code": "product",
    "variety_id": "variety", "batch_id": "batch", "region_code": "region", "city_code": "region",
}

_SOURCES = {  # reference → (table, code column, name column)
    "institution": ("institutions", "institution_code", "name"),
    "enterprise": ("enterprises", "enterprise_code", "name"),
    "product": ("products", "product_code", "name"),
    "variety": ("varieties", "variety_id", "name"),
    "batch": ("batches", "batch_id", "name"),
    "region": ("regions", "region_code", "name"),
}


@dataclass
class Names:
    """code → name per reference, and each variety's minimum unit (片, 支, 盒 …)."""

    by_kind: dict[str, dict[str, str]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)  # variety_id → unit
    regions: list[tuple[str, str]] = field(default_factory=list)  # (code, name) of the warehouse's regions

    def name(self, column: str, code: Any) -> str | None:
        """The name of ``code`` in ``column``, None when the column names nothing or the code is unknown."""
        kind = CODE_KINDS.get(column)
        if kind is None or code is None:
            return None
        if kind == "region":
            return region_name(str(code), self.by_kind.get("region"))
        return self.by_kind.get(kind, {}).get(str(code))

    def unit(self, variety_id: Any) -> str:
        return self.units.get(str(variety_id), "") if variety_id is not None else ""


def load_names(wh: Any) -> Names:
    """Every reference table the warehouse has (a missing one names nothing)."""
    out = Names()
    for kind, (table, code, name) in _SOURCES.items():
        if not wh.has_table(table):
            continue
        t = wh.table(table)
        rows = t.select(code=t[code].cast("string"), name=t[name]).to_pyarrow().to_pylist()
        out.by_kind[kind] = {r["code"]: r["name"] for r in rows if r["name"]}
        if kind == "region":
            out.regions = sorted((r["code"], r["name"]) for r in rows if r["name"])
    if wh.has_table("varieties"):
        v = wh.table("varieties")
        out.units = {r["variety_id"]: r["unit"] or "" for r in v.select("variety_id", "unit").to_pyarrow().to_pylist()}
    return out


def names_of(data: Any) -> Names:
    """The names of the data service's current data version (computed once per version, in the background)."""
    return data.value(("names",), load_names)


def scope_name(names: Names, role: str, regional: bool, scope: str) -> str | None:
    """What a user's scope is called: the region ("泉州市"), the hospital or the enterprise a login is tied to."""
    if not scope:
        return None
    if regional:
        from jicai.contract.regions import full_code

        return region_name(full_code(scope), names.by_kind.get("region"))
    kind = "institution" if role == "institution" else "enterprise" if role == "enterprise" else None
    return names.by_kind.get(kind, {}).get(scope) if kind else None
