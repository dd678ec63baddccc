"""Announcement workbooks → canonical Arrow tables (pure: no warehouse, no files written).

:func:`parse_announcement` reads every sheet of every workbook, recognises what each holds (results,
agreed volumes, volume totals, the enterprise-name mapping, or nothing tabular) and returns the
``batches``, ``varieties``, ``vbp_results`` and ``vbp_agreed_volumes`` tables with a :class:`Summary`.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from jicai.contract import arrow
from jicai.ingest.announcement import results, volumes
from jicai.ingest.announcement.names import enterprise_key, unit_of
from jicai.ingest.announcement.report import SheetSummary, Summary
from jicai.ingest.announcement.workbook import Grid, clean_bool, clean_text, find_header, read_sheets


@dataclass(frozen=True)
class BatchFacts:
    name: str
    start_date: dt.date
    cycle_years: int


# Public facts of the national drug batches. Start dates are the month the results took effect
# nationally (day = 1st, a default); a bureau loads its own 执行日 through batches.csv, and batches
# already in the warehouse are never overwritten by an announcement import. cycle_years is the longest
# cycle the batch's rules allow (1X/2/3: 1–3 years by the number of winners).
BATCHES: dict[str, BatchFacts] = {
    "NVBP-1": BatchFacts("国家组织药品集中采购试点（4+7）", dt.date(2019, 3, 1), 1),
    "NVBP-1X": BatchFacts("国家组织药品集中采购试点扩围（联盟地区）", dt.date(2019, 12, 1), 3),
    "NVBP-2": BatchFacts("第二批国家组织药品集中采购", dt.date(2020, 4, 1), 3),
    "NVBP-3": BatchFacts("第三批国家组织药品集中采购", dt.date(2020, 11, 1), 3),
    "NVBP-4": BatchFacts("第四批国家组织药品集中采购", dt.date(2021, 5, 1), 3),
}

MAPPING_FIELDS = {"original": ("生产企业-原始", "企业全称"), "short": ("生产企业", "企业简称"), "foreign": ("是否外企",)}


def variety_id(batch_id: str, name: str) -> str:
    """Deterministic id: batch + canonical variety name, e.g. ``NVBP-2-阿卡波糖口服常释剂型``."""
    return f"{batch_id}-{name}"


@dataclass
class EnterpriseNames:
    """The workbook's name mapping: full name (生产企业-原始) → short name (生产企业) and back."""

    short_of: dict[str, str] = field(default_factory=dict)
    full_of: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    foreign: dict[str, bool] = field(default_factory=dict)

    def add(self, full: str, short: str, foreign: bool | None = None) -> None:
        self.short_of[enterprise_key(full)] = short
        self.full_of[enterprise_key(short)].add(full)
        if foreign is not None:
            self.foreign[enterprise_key(short)] = foreign


@dataclass
class Announcement:
    tables: dict[str, pa.Table]
    summary: Summary
    names: EnterpriseNames
    results: list[dict]  # merged result rows with variety ids (the resolver works from these)


def _parse_mapping(grid: Grid, file: str, summary: Summary, names: EnterpriseNames) -> bool:
    found = find_header(grid, MAPPING_FIELDS, min_hits=2)
    if not found or not {"original", "short"} <= set(found[1]):
        return False
    header_row, cols = found
    info = SheetSummary(file, grid.title, "enterprise_names")
    summary.sheets.append(info)
    for r in range(header_row + 1, len(grid.rows) + 1):
        row = grid.rows[r - 1]
        full, short = clean_text(row[cols["original"] - 1]), clean_text(row[cols["short"] - 1])
        if full is None and short is None:
            continue
        info.rows_read += 1
        if full and short:
            names.add(full, short, clean_bool(row[cols["foreign"] - 1]) if "foreign" in cols else None)
            info.rows_used += 1
    return True


def parse_announcement(paths: list[Path]) -> Announcement:
    summary = Summary()
    names = EnterpriseNames()
    result_rows: dict[str, list[dict]] = {}
    volume_rows: list[dict] = []
    total_rows: list[dict] = []
    for path in paths:
        path = Path(path)
        for grid in read_sheets(path):
            if grid.formulas_failed:
                summary.problem(grid.title, None, f"{grid.formulas_failed} 个公式无法计算，按空值处理",
                                f"{grid.formulas_failed} formulas could not be evaluated; read as empty", "warning")
            if results.detect(grid):
                result_rows[f"{path.name}:{grid.title}"] = results.parse_sheet(grid, path.name, summary)
            elif volumes.detect(grid):
                kind, rows = volumes.parse_sheet(grid, path.name, summary)
                (volume_rows if kind == "volumes" else total_rows).extend(rows)
            elif not _parse_mapping(grid, path.name, summary, names):
                nonempty = sum(any(clean_text(v) is not None for v in row) for row in grid.rows)
                summary.sheets.append(SheetSummary(path.name, grid.title, "skipped", rows_read=nonempty,
                                                   note="无表头，非数据表 / no table header: not data"))
    merged = results.merge(result_rows, summary)
    return _assemble(merged, volume_rows, total_rows, summary, names)


def _assemble(merged: list[dict], volume_rows: list[dict], total_rows: list[dict], summary: Summary,
              names: EnterpriseNames) -> Announcement:
    # varieties: every variety with at least one winning bid
    rows_of: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for rec in merged:
        rows_of[(rec["batch_id"], rec["variety_name"])].append(rec)
    varieties = []
    for (batch, name), recs in sorted(rows_of.items()):
        if not any(r["won"] for r in recs):
            summary.problem(recs[0]["source_sheet"], recs[0]["source_row"], f"{name} 无中选企业（流标），不列入品种表",
                            f"{name}: no winning bid (流标); not added to varieties", "info")
            continue
        base = [r["baseline_unit_price"] for r in recs if r["baseline_unit_price"] is not None]
        varieties.append({"variety_id": variety_id(batch, name), "batch_id": batch, "name": name, "unit": unit_of(name),
                          "baseline_unit_price": round(statistics.median(base), 6) if base else None})

    vbp_results = []
    for rec in merged:
        if rec["foreign"] is None and rec.get("enterprise_short_name"):  # the 4+7 sheet has no 是否外企
            rec["foreign"] = names.foreign.get(enterprise_key(rec["enterprise_short_name"]))
        if rec["spec"] is None:
            summary.problem(rec["source_sheet"], rec["source_row"], "缺少规格，行未导入", "no strength; row not imported")
            continue
        rec["variety_id"] = variety_id(rec["batch_id"], rec["variety_name"])
        vbp_results.append(rec)

    names_by_batch: dict[str, set[str]] = defaultdict(set)
    for batch, name in rows_of:
        names_by_batch[batch].add(name)
    missing: set[tuple[str, str]] = set()
    agreed: dict[tuple[str, str, str, str], dict] = {}
    for v in volume_rows + total_rows:
        v["variety_name"] = results._variety_in(v, names_by_batch[v["batch_id"]])
    for v in volume_rows:
        if v["variety_name"] not in names_by_batch[v["batch_id"]] and (v["batch_id"], v["variety_name"]) not in missing:
            missing.add((v["batch_id"], v["variety_name"]))
            summary.problem(v["source_sheet"], v["source_row"],
                            f"{v['variety_name']} 在中选结果中不存在（流标或未提供结果表），约定量仍导入",
                            f"{v['variety_name']} has no announced results (failed bid or results not given); "
                            "volumes imported anyway", "info")
        k = (v["batch_id"], variety_id(v["batch_id"], v["variety_name"]), v["spec"] or "", v["region_code"])
        if k in agreed:
            first = agreed[k]
            same = first["volume"] == v["volume"]
            summary.problem(v["source_sheet"], v["source_row"],
                            f"与第{first['source_row']}行重复（同一品种、规格、地区）"
                            + ("" if same else f"但数量不同（{v['volume'] / 10000:g} 万 ≠ {first['volume'] / 10000:g} 万）")
                            + "，保留前者",
                            f"duplicate of row {first['source_row']} (same variety, strength, region)"
                            + ("" if same else f" with a different volume ({v['volume'] / 10000:g} vs "
                                               f"{first['volume'] / 10000:g} x10k)") + "; first kept",
                            "warning" if same else "error")
            continue
        agreed[k] = {"batch_id": k[0], "variety_id": k[1], "spec": k[2], "region_code": k[3], "volume": v["volume"],
                     "unit": unit_of(v["variety_name"]), "source_sheet": v["source_sheet"],
                     "source_row": v["source_row"]}
    volumes.check_totals(volume_rows, total_rows, summary)

    batch_ids = sorted({r["batch_id"] for r in merged} | {v["batch_id"] for v in volume_rows})
    batches = []
    for b in batch_ids:
        facts = BATCHES.get(b)
        if facts is None:
            summary.problem(b, None, f"批次 {b} 无内置执行日，未写入批次表（请导入 batches.csv）",
                            f"batch {b} has no built-in start date; not written (load batches.csv)")
            continue
        batches.append({"batch_id": b, "name": facts.name, "category": "drug", "start_date": facts.start_date,
                        "cycle_years": facts.cycle_years, "policy_id": None})

    def table(name: str, rows: list[dict]) -> pa.Table:
        key = arrow.TABLES[name].key
        rows = sorted(rows, key=lambda r: tuple(str(r.get(k) or "") for k in key))
        return arrow.from_pylist(name, rows)

    tables = {
        "batches": table("batches", batches),
        "varieties": table("varieties", varieties),
        "vbp_results": table("vbp_results", vbp_results),
        "vbp_agreed_volumes": table("vbp_agreed_volumes", list(agreed.values())),
    }
    return Announcement(tables, summary, names, vbp_results)
