"""Winning-result sheets (中选结果表) → rows of ``vbp_results``.

Two layouts occur. The national tables of the alliance expansion and batches 2 and 3 have one row per
bid: 药品通用名, 是否中标多种规格, 规格包装, 生产企业-全称/简称, 是否原研, 是否外企, 是否中标, 最高限价,
中标前中位价（最小规格）, 竞标价格（最小规格）, 供应省份. The "4+7" sheet has one row per drug × strength:
品种名 + 剂型, 规格 (* = 主品规), 拟中选企业 (short name), 中选规格包装, 每盒价格, 最小规格价格 (a formula),
企业近三年平均价（最小规格）; its winners supply all eleven pilot cities, and '流标' marks a failed bid.
The 4+7 sheet's three-year average price stands in for the baseline (中标前中位价) it does not carry.

When several sheets describe the same batch (batch 3 comes as 第三轮集采 and 第三批集采 完整), the one
with the most 中标前中位价 values is primary; the others add bids the primary lacks and fill its blanks,
and every disagreement is reported.
"""

from __future__ import annotations

from collections import defaultdict

from jicai.contract.provinces import PILOT_CITIES_4_7, split_regions
from jicai.ingest.announcement.names import (
    batch_of_sheet,
    canonical_drug_name,
    clean_spec,
    enterprise_key,
    match_key,
    name_from_4_7,
    spec_key,
)
from jicai.ingest.announcement.report import SheetSummary, Summary
from jicai.ingest.announcement.workbook import (
    Grid,
    clean_bool,
    clean_number,
    clean_text,
    find_header,
    is_header_repeat,
)

RESULT_FIELDS: dict[str, tuple[str, ...]] = {
    "seq": ("序号",),
    "name": ("药品通用名", "通用名", "品种名"),
    "form": ("剂型",),
    "multi_spec": ("是否中标多种规格",),
    "spec": ("规格包装", "规格"),
    "enterprise_name": ("生产企业-全称", "生产企业全称", "企业全称", "拟中选企业", "中选企业"),
    "enterprise_short_name": ("生产企业-简称", "生产企业简称", "企业简称"),
    "originator": ("是否原研",),
    "foreign": ("是否外企",),
    "won": ("是否中标", "是否中选"),
    "max_price": ("最高限价", "最高有效申报价"),
    "baseline_unit_price": ("中标前中位价", "企业近三年平均价"),
    "unit_price": ("竞标价格", "最小规格价格", "中选价格(最小", "申报价格(最小"),
    "pack": ("中选规格包装",),
    "pack_price": ("每盒价格", "中选价格"),
    "supply_regions": ("供应省", "供应地区", "供应区域"),
}
VOID_MARK = "流标"
ALL_4_7 = ";".join(code for code, _ in PILOT_CITIES_4_7)


def detect(grid: Grid) -> tuple[int, dict[str, int]] | None:
    """Header row and columns if the sheet is a results table (a drug name and an enterprise column)."""
    found = find_header(grid, RESULT_FIELDS, min_hits=4)
    if found and {"name", "enterprise_name", "spec"} <= set(found[1]):
        return found
    return None


def parse_sheet(grid: Grid, file: str, summary: Summary) -> list[dict]:
    """Rows of one results sheet (not yet merged across sheets); appends a SheetSummary."""
    found = detect(grid)
    assert found is not None
    header_row, cols = found
    batch = batch_of_sheet(grid.title)
    info = SheetSummary(file, grid.title, "results", batch)
    summary.sheets.append(info)
    if batch is None:
        summary.problem(grid.title, None, "无法从工作表名判断集采批次，整表未导入",
                        "cannot tell the batch from the sheet title; sheet not imported")
        return []
    is_4_7 = "form" in cols and "enterprise_short_name" not in cols
    out: list[dict] = []
    header = grid.rows[header_row - 1]
    no_bid = 0

    def get(row: list[object], f: str) -> object:
        c = cols.get(f)
        return row[c - 1] if c and c <= len(row) else None

    for r in range(header_row + 1, len(grid.rows) + 1):
        row = grid.rows[r - 1]
        if all(clean_text(v) is None for v in row) or is_header_repeat(row, header):
            continue
        info.rows_read += 1
        raw_name = clean_text(get(row, "name"))
        enterprise = clean_text(get(row, "enterprise_name"))
        if raw_name is None:
            summary.problem(grid.title, r, "缺少药品通用名，行未导入", "no drug name; row not imported")
            continue
        if enterprise is None:
            if is_4_7:  # a non-main strength of a 4+7 drug: volume only, no bid
                no_bid += 1
                info.note = f"{no_bid} 行为无投标的规格（仅采购量）/ {no_bid} strength rows without a bid (volume only)"
                continue
            summary.problem(grid.title, r, "缺少生产企业，行未导入", "no enterprise; row not imported")
            continue
        rec = _record_4_7(row, get, raw_name) if is_4_7 else _record(row, get, raw_name, grid.title, r, summary)
        rec.update(batch_id=batch, enterprise_name=enterprise, source_sheet=grid.title, source_row=r)
        rec["variety_name"] = name_from_4_7(raw_name, clean_text(get(row, "form"))) if is_4_7 \
            else canonical_drug_name(raw_name)
        out.append(rec)
        info.rows_used += 1
    return out


def _record(row, get, raw_name: str, sheet: str, r: int, summary: Summary) -> dict:
    regions_text = clean_text(get(row, "supply_regions"))
    codes, unknown = split_regions(regions_text)
    for u in unknown:
        summary.problem(sheet, r, f"供应省份中无法识别的地区名“{u}”", f"unknown region name {u!r} in 供应省份")
    unit_raw = get(row, "unit_price")
    unit_price = clean_number(unit_raw)
    if unit_raw is not None and unit_price is None and clean_text(unit_raw) is not None:
        summary.problem(sheet, r, f"竞标价格“{clean_text(unit_raw)}”为无效占位值，按空值导入",
                        f"bid price {clean_text(unit_raw)!r} is a void placeholder; imported as empty", "warning")
    won = clean_bool(get(row, "won"))
    return {
        "drug_name": raw_name,
        "spec": clean_spec(clean_text(get(row, "spec"))),
        "pack": None,
        "enterprise_short_name": clean_text(get(row, "enterprise_short_name")),
        "originator": clean_bool(get(row, "originator")),
        "foreign": clean_bool(get(row, "foreign")),
        "won": bool(won),
        "multi_spec": clean_bool(get(row, "multi_spec")),
        "max_price": clean_number(get(row, "max_price")),
        "baseline_unit_price": clean_number(get(row, "baseline_unit_price")),
        "unit_price": unit_price,
        "supply_regions": ";".join(codes) or None,
    }


def _record_4_7(row, get, raw_name: str) -> dict:
    void = any(clean_text(get(row, f)) == VOID_MARK for f in ("unit_price", "pack_price"))
    unit_price = None if void else clean_number(get(row, "unit_price"))
    pack_price = None if void else clean_number(get(row, "pack_price"))
    won = not void and (unit_price is not None or pack_price is not None)
    return {
        "drug_name": raw_name,
        "spec": clean_spec(clean_text(get(row, "spec"))),
        "pack": clean_text(get(row, "pack")),
        "enterprise_short_name": clean_text(get(row, "enterprise_name")),
        "originator": None,
        "foreign": None,
        "won": won,
        "multi_spec": None,
        "max_price": None,
        "baseline_unit_price": clean_number(get(row, "baseline_unit_price")),
        "unit_price": unit_price,
        "supply_regions": ALL_4_7 if won else None,
    }


# -- merging the sheets of one batch -------------------------------------------------------------
COMPARED = ("won", "unit_price", "supply_regions")


def _key(rec: dict) -> tuple[str, str, str]:
    return (match_key(rec["variety_name"]), spec_key(rec["spec"]), enterprise_key(rec["enterprise_name"]))


def merge(rows_by_sheet: dict[str, list[dict]], summary: Summary) -> list[dict]:
    """One list of result rows per batch: primary sheet first, other sheets add and fill (see module doc)."""
    by_batch: dict[str, list[tuple[str, list[dict]]]] = defaultdict(list)
    for sheet, rows in rows_by_sheet.items():
        if rows:
            by_batch[rows[0]["batch_id"]].append((sheet, rows))
    merged: list[dict] = []
    for batch in sorted(by_batch):
        sheets = sorted(by_batch[batch], key=lambda s: (-sum(r["baseline_unit_price"] is not None for r in s[1]), s[0]))
        primary = sheets[0][1]
        primary_sheet = primary[0]["source_sheet"]
        primary_ids = {id(r) for r in primary}
        index: dict[tuple[str, str, str], dict] = {}
        batch_rows: list[dict] = []
        for rec in primary:
            k = _key(rec)
            if k in index:
                summary.problem(rec["source_sheet"], rec["source_row"],
                                f"与第{index[k]['source_row']}行重复（同一品种、规格、企业），保留前者",
                                f"duplicate of row {index[k]['source_row']} (same variety, strength, enterprise); first kept",
                                "warning")
                continue
            index[k] = rec
            batch_rows.append(rec)
        names = {r["variety_name"] for r in batch_rows}
        for _, rows in sheets[1:]:
            sheet = rows[0]["source_sheet"]
            added = filled = 0
            for rec in rows:
                rec["variety_name"] = _variety_in(rec, names)
                k = _key(rec)
                if k not in index and (alias := _same_bid(k, index, primary_ids)) is not None:
                    summary.problem(sheet, rec["source_row"],
                                    f"企业名称“{rec['enterprise_name']}”与主表第{alias['source_row']}行"
                                    f"“{alias['enterprise_name']}”不同，视为同一投标",
                                    f"enterprise name {rec['enterprise_name']!r} differs from primary row "
                                    f"{alias['source_row']} ({alias['enterprise_name']!r}); taken as the same bid",
                                    "warning")
                    k = _key(alias)
                if k not in index:
                    index[k] = rec
                    batch_rows.append(rec)
                    names.add(rec["variety_name"])
                    added += 1
                    continue
                base = index[k]
                if id(base) not in primary_ids:
                    continue  # a duplicate inside a supplementary sheet
                for f in COMPARED:
                    a, b = base[f], rec[f]
                    if a is not None and b is not None and a != b:
                        summary.problem(sheet, rec["source_row"],
                                        f"{f} 与主表“{primary_sheet}”第{base['source_row']}行不一致（{b!r} ≠ {a!r}），采用主表",
                                        f"{f} differs from primary sheet {primary_sheet!r} row {base['source_row']} "
                                        f"({b!r} vs {a!r}); primary kept", "warning")
                for f, v in rec.items():
                    if base.get(f) is None and v is not None and f not in ("pack",):
                        base[f] = v
                        filled += 1
            summary.problem(sheet, None,
                            f"作为“{primary_sheet}”的补充表：新增 {added} 行，补全空值 {filled} 项",
                            f"supplements {primary_sheet!r}: {added} rows added, {filled} blank values filled", "info")
        merged += batch_rows
    return merged


def _similar(a: str, b: str) -> bool:
    """Truncated (…股份有限 / …股份有限公司) or one character mistyped (昊中 / 吴中)."""
    if a.startswith(b) or b.startswith(a):
        return min(len(a), len(b)) >= 4
    return len(a) == len(b) >= 4 and sum(x != y for x, y in zip(a, b, strict=True)) == 1


def _same_bid(k: tuple[str, str, str], index: dict, primary_ids: set[int]) -> dict | None:
    """The primary row of the same variety and strength whose enterprise name is a near-miss of this one."""
    found = [base for (v, sp, e), base in index.items()
             if (v, sp) == k[:2] and id(base) in primary_ids and _similar(e, k[2])]
    return found[0] if len(found) == 1 else None


def _variety_in(rec: dict, names: set[str]) -> str:
    """Name of the primary's variety a supplementary row belongs to (strength suffixes differ by sheet)."""
    n = rec["variety_name"]
    if n in names:
        return n
    keys = {match_key(x): x for x in names}
    if match_key(n) in keys:
        return keys[match_key(n)]
    # the primary glued the strength to the name: 非那雄胺口服常释剂型 + 5mg → 非那雄胺口服常释剂型5mg
    want = spec_key(rec["spec"])
    for x in sorted(names):
        kx, kn = match_key(x), match_key(n)
        if kx.startswith(kn) and kx != kn and spec_key(kx[len(kn):]) == want:
            return x
    # the supplement glued it and the primary did not
    for x in sorted(names):
        kx, kn = match_key(x), match_key(n)
        if kn.startswith(kx) and spec_key(kn[len(kx):]) == want:
            return x
    return n

