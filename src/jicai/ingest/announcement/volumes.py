"""Agreed-volume sheets (约定采购量表) → rows of ``vbp_agreed_volumes``.

Long sheets have one row per region × drug × strength (地区/城市, 品种, 规格, 首年约定采购量（万片/万支/万袋）);
a drug name written only on its first row (a merged cell, a ``=B2`` formula or a blank) is carried down.
The "4+7" totals sheet (序号, 品种名称, 规格, 是否主品规, 采购数量) has no region: it is not loaded but used to
check that the per-city rows add up to the announced totals.
"""

from __future__ import annotations

from collections import defaultdict

from jicai.contract.provinces import region_code
from jicai.ingest.announcement.names import (
    batch_of_sheet,
    canonical_drug_name,
    clean_spec,
    match_key,
    spec_key,
)
from jicai.ingest.announcement.report import SheetSummary, Summary
from jicai.ingest.announcement.workbook import (
    Grid,
    clean_number,
    clean_text,
    find_header,
    header_text,
    is_header_repeat,
)

VOLUME_FIELDS: dict[str, tuple[str, ...]] = {
    "region": ("地区", "城市", "省份", "省(区)"),
    "name": ("品种", "药品通用名"),
    "spec": ("规格",),
    "main": ("是否主品规",),
    "volume": ("首年约定采购量", "约定采购量", "采购数量", "万片", "万支", "万袋"),
}
TOTALS_TOLERANCE = 0.001  # relative difference between the sum of the cities and the announced total


def detect(grid: Grid) -> tuple[str, int, dict[str, int]] | None:
    """('volumes' | 'volume_totals', header row, columns) if the sheet holds agreed volumes."""
    found = find_header(grid, VOLUME_FIELDS, min_hits=3)
    if not found or not {"name", "spec", "volume"} <= set(found[1]):
        return None
    return ("volumes" if "region" in found[1] else "volume_totals", *found)


def _multiplier(grid: Grid, header_row: int, col: int) -> float:
    """万片 → ×10000: volumes are stored in minimum units."""
    return 10000.0 if "万" in header_text(grid.value(header_row, col)) else 1.0


def parse_sheet(grid: Grid, file: str, summary: Summary) -> tuple[str, list[dict]]:
    kind, header_row, cols = detect(grid)  # type: ignore[misc]
    batch = batch_of_sheet(grid.title)
    info = SheetSummary(file, grid.title, kind, batch)
    summary.sheets.append(info)
    if batch is None:
        summary.problem(grid.title, None, "无法从工作表名判断集采批次，整表未导入",
                        "cannot tell the batch from the sheet title; sheet not imported")
        return kind, []
    factor = _multiplier(grid, header_row, cols["volume"])
    header = grid.rows[header_row - 1]
    out: list[dict] = []
    last_name: dict[str, str] = {}
    carried = 0
    for r in range(header_row + 1, len(grid.rows) + 1):
        row = grid.rows[r - 1]
        if all(clean_text(v) is None for v in row) or is_header_repeat(row, header):
            continue
        info.rows_read += 1
        region_text = clean_text(row[cols["region"] - 1]) if "region" in cols else None
        name = clean_text(row[cols["name"] - 1])
        if name is None:
            name = last_name.get(region_text or "")
            carried += 1
            if name is None:
                summary.problem(grid.title, r, "缺少品种名称且无法沿用上一行，行未导入",
                                "no drug name and none above to carry down; row not imported")
                continue
        last_name[region_text or ""] = name
        spec = clean_spec(clean_text(row[cols["spec"] - 1]))
        raw_volume = row[cols["volume"] - 1]
        volume = clean_number(raw_volume, sentinels=False)
        if volume is None:
            summary.problem(grid.title, r, f"约定采购量为空（{clean_text(raw_volume) or '空'}），行未导入",
                            f"agreed volume is empty ({clean_text(raw_volume)!r}); row not imported", "warning")
            continue
        rec = {"batch_id": batch, "variety_name": canonical_drug_name(name), "spec": spec,
               "volume": round(volume * factor, 6) + 0.0, "source_sheet": grid.title, "source_row": r}
        if "main" in cols:
            rec["main"] = clean_text(row[cols["main"] - 1]) == "是"
        if kind == "volumes":
            code = region_code(region_text)
            if code is None:
                summary.problem(grid.title, r, f"无法识别的地区名“{region_text}”，行未导入",
                                f"unknown region name {region_text!r}; row not imported")
                continue
            rec["region_code"] = code
        out.append(rec)
        info.rows_used += 1
    if carried:
        info.note = f"{carried} 行沿用上一行品种名 / drug name carried down on {carried} rows"
    return kind, out


def check_totals(volumes: list[dict], totals: list[dict], summary: Summary) -> int:
    """Compare per-region sums with a totals sheet of the same batch; returns the number of mismatches."""
    sums: dict[tuple[str, str, str], float] = defaultdict(float)
    for v in volumes:
        sums[(v["batch_id"], match_key(v["variety_name"]), spec_key(v["spec"]))] += v["volume"]
    bad = 0
    for t in totals:
        k = (t["batch_id"], match_key(t["variety_name"]), spec_key(t["spec"]))
        if k not in sums:
            continue
        s, want = sums[k], t["volume"]
        if abs(s - want) > TOTALS_TOLERANCE * max(abs(want), 1.0):
            bad += 1
            summary.problem(t["source_sheet"], t["source_row"],
                            f"{t['variety_name']} {t['spec']} 各地区合计 {s / 10000:.2f} 万与总量 {want / 10000:.2f} 万不符",
                            f"{t['variety_name']} {t['spec']}: regions add up to {s / 10000:.2f} (10k units), "
                            f"total says {want / 10000:.2f}", "warning")
    return bad
