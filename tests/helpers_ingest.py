"""Small valid reference data for importer tests, written as CSV by code (hand-checkable values).

One province (广东 440000), one city (深圳 440300), one district (南山 440305); two hospitals; two
enterprises with real GB 32100 check characters; two products (a consumable and a western drug).
"""

from __future__ import annotations

import csv
from pathlib import Path

from jicai.contract.codes import make_uscc

MANUFACTURER = make_uscc("91440300MA5F00001")
DISTRIBUTOR = make_uscc("91440300MA5F00002")
HOSPITAL_A = "H44030500001"
HOSPITAL_B = "H44030500002"
CONSUMABLE = "C0101010010100103941"  # a real 20-character NHSA consumable code
DRUG = "XC10AAA060A001010104459"  # X + C10AA + 17 = 23 characters

REFERENCE: dict[str, list[list[str]]] = {
    "regions": [["region_code", "name", "parent_code"],
                ["440000", "广东省", ""], ["440300", "深圳市", "440000"], ["440305", "南山区", "440300"]],
    "institutions": [["institution_code", "name", "region_code", "level", "kind", "public", "sentinel"],
                     [HOSPITAL_A, "南山医院", "440305", "3", "hospital", "true", "false"],
                     [HOSPITAL_B, "蛇口社康", "440305", "1", "primary", "true", ""]],
    "enterprises": [["enterprise_code", "name", "role"],
                    [MANUFACTURER, "某某医疗器械有限公司", "manufacturer"], [DISTRIBUTOR, "某某医药配送有限公司", "distributor"]],
    "products": [["product_code", "name", "variety_id", "spec", "units_per_pack", "manufacturer_code", "category"],
                 [CONSUMABLE, "气管支架", "", "全覆膜", "1", MANUFACTURER, "consumable"],
                 [DRUG, "阿托伐他汀钙片", "", "20mg*7片", "7", "", "drug"]],
}

ORDER_HEADER = ["order_line_id", "order_id", "institution_code", "product_code", "distributor_code", "quantity",
                "pack_price", "ordered_at", "channel"]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding=encoding, newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    return path


def write_reference(folder: Path) -> list[Path]:
    return [write_csv(folder / f"{name}.csv", rows) for name, rows in REFERENCE.items()]


def order_row(i: int, institution: str = HOSPITAL_A, product: str = DRUG, quantity: str = "10") -> list[str]:
    return [f"OL{i:07d}", f"O{i // 3:07d}", institution, product, DISTRIBUTOR, quantity, "12.5",
            f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} 09:30:00", "platform" if i % 5 else "offline"]


def reference_warehouse(tmp_path: Path):
    """A DuckDB warehouse in ``tmp_path`` holding the reference tables of :func:`write_reference` (for a
    ``wh`` fixture: ``yield from reference_warehouse(tmp_path)``)."""
    from jicai.ingest import import_paths
    from jicai.store import connect

    w = connect(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    import_paths(w, [write_reference(tmp_path / "ref")[0].parent])
    yield w
    w.close()
