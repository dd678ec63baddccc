"""Winning bids → ``selected_products``, against the enterprises and products already in the warehouse.

The announcement names the enterprise (全称 and 简称) but carries neither its 统一社会信用代码 nor the
product's 医保编码. A winning row becomes a selected product when exactly one enterprise matches its
name — the full name first, then the other full names the workbook's mapping sheet gives for the same
short name, then the short name itself — and the warehouse has products of that variety (by id, else by
the same variety name in another batch) made by that enterprise, of the winning strength where a product
states one. Everything else stays in ``vbp_results`` and is listed as unresolved with its reason.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pyarrow as pa

from jicai.contract import arrow
from jicai.contract.provinces import province_prefix
from jicai.ingest.announcement.names import enterprise_key, match_key, spec_key
from jicai.ingest.announcement.transform import Announcement
from jicai.store import Warehouse


@dataclass(frozen=True)
class Unresolved:
    batch_id: str
    variety_id: str
    enterprise_name: str
    reason_zh: str
    reason_en: str


@dataclass
class Resolution:
    selected_products: pa.Table
    unresolved: list[Unresolved]
    winning_rows: int


def _rows(wh: Warehouse, name: str, columns: list[str]) -> list[dict]:
    if not wh.has_table(name):
        return []
    t = wh.table(name)
    return t.select([c for c in columns if c in t.columns]).to_pyarrow().to_pylist()


def _tokens(spec: str | None) -> set[str]:
    k = spec_key(spec)
    return set(k.split("+")) if k else set()


def resolve(wh: Warehouse | None, ann: Announcement) -> Resolution:
    enterprises = _rows(wh, "enterprises", ["enterprise_code", "name"]) if wh else []
    products = _rows(wh, "products", ["product_code", "variety_id", "spec", "manufacturer_code"]) if wh else []
    known_varieties = _rows(wh, "varieties", ["variety_id", "name"]) if wh else []

    codes_by_name: dict[str, set[str]] = defaultdict(set)
    for e in enterprises:
        codes_by_name[enterprise_key(e["name"])].add(e["enterprise_code"])
    variety_name = {v["variety_id"]: v["name"] for v in known_varieties}
    for v in ann.tables["varieties"].to_pylist():
        variety_name[v["variety_id"]] = v["name"]
    by_variety: dict[tuple[str, str], list[dict]] = defaultdict(list)  # (variety_id, manufacturer) → products
    by_name: dict[tuple[str, str], list[dict]] = defaultdict(list)  # (variety name key, manufacturer)
    for p in products:
        if p.get("variety_id") and p.get("manufacturer_code"):
            by_variety[(p["variety_id"], p["manufacturer_code"])].append(p)
            if p["variety_id"] in variety_name:
                by_name[(match_key(variety_name[p["variety_id"]]), p["manufacturer_code"])].append(p)

    selected: dict[tuple[str, str, str], dict] = {}
    unresolved: list[Unresolved] = []
    winners = [r for r in ann.results if r["won"]]
    for r in winners:
        def miss(zh: str, en: str, r: dict = r) -> None:
            unresolved.append(Unresolved(r["batch_id"], r["variety_id"], r["enterprise_name"], zh, en))

        code, why = _enterprise(r, codes_by_name, ann)
        if code is None:
            miss(*why)
            continue
        if r["unit_price"] is None:
            miss("中选价缺失", "winning price missing")
            continue
        cands = by_variety.get((r["variety_id"], code)) or by_name.get((match_key(r["variety_name"]), code), [])
        want = _tokens(r["spec"])
        fit = [p for p in cands if not p.get("spec") or not want or want <= _tokens(p["spec"])]
        if not fit:
            miss(f"库中无该企业该品种{'该规格' if cands else ''}的产品", "no product of this variety"
                 + (" and strength" if cands else "") + " by this enterprise in the warehouse")
            continue
        regions = ";".join(province_prefix(c) for c in (r["supply_regions"] or "").split(";") if c) or None
        for p in sorted(fit, key=lambda p: p["product_code"]):
            key = (r["batch_id"], r["variety_id"], p["product_code"])
            selected.setdefault(key, {"batch_id": r["batch_id"], "variety_id": r["variety_id"],
                                      "product_code": p["product_code"], "enterprise_code": code,
                                      "unit_price": r["unit_price"], "role": "primary", "regions": regions})
    rows = [selected[k] for k in sorted(selected)]
    return Resolution(arrow.from_pylist("selected_products", rows), unresolved, len(winners))


def _enterprise(r: dict, codes_by_name: dict[str, set[str]], ann: Announcement) -> tuple[str | None, tuple[str, str]]:
    short = r.get("enterprise_short_name")
    tiers = [[r["enterprise_name"]], sorted(ann.names.full_of.get(enterprise_key(short), ())) if short else [],
             [short] if short else []]
    for tier in tiers:
        codes = set().union(*(codes_by_name.get(enterprise_key(n), set()) for n in tier)) if tier else set()
        if len(codes) == 1:
            return next(iter(codes)), ("", "")
        if len(codes) > 1:
            return None, (f"企业名称对应多个企业代码（{'、'.join(sorted(codes))}）",
                          f"enterprise name matches several codes ({', '.join(sorted(codes))})")
    return None, ("库中无该企业（全称、简称均未匹配）", "enterprise not in the warehouse (neither full nor short name)")
