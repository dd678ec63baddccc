"""Therapeutic classes and DDDs of the products: what a minimum unit is worth in defined daily doses.

For every product of the warehouse, in Python over the ``products`` table (a dimension table: thousands of
rows, never order lines) and returned to the measures as a small Ibis table:

* **class** (``atc4``): characters 2–6 of a western-drug code (:func:`jicai.contract.atc.atc4`); null for
  Chinese patent medicines, consumables and reagents, which have no ATC class.
* **substance** (``atc_code``, ATC level 5): the code names only the class, so the substance comes from the
  name: the DDD table's Chinese INN (``inn_zh``) found in the product's name, else in its variety's name; the
  longest one wins (艾司奥美拉唑 over 奥美拉唑). A match directly after 左/右/消旋/艾司 is refused — an
  enantiomer has its own DDD (左氨氯地平 is not 氨氯地平) — and so is a match whose ATC code is not in the
  product's class (the name and the code disagree).
* **route**: P when the name or spec says 注射, Inhal for 吸入, no route (so no DDD) for topical forms (外用,
  软膏, 乳膏, 凝胶, 滴眼, 滴耳, 栓), O otherwise.
* **strength** per minimum unit: ``products.strength`` when filled, else read from ``spec``
  (:mod:`jicai.contract.strength`).
* ``ddd_per_unit`` = strength (in the DDD's unit) / DDD. Null whenever one step cannot tell, with
  ``ddd_note`` saying which (a product without DDDs is left out of DDD volumes, never guessed).

The DDDs are the bundled table ``jicai/analytics/data/who_ddd.csv`` (WHO ATC/DDD Index, the year in each row),
overridden row by row by the warehouse's optional ``ddd`` table (same ATC code and route: the bureau's row
wins; a new code is added). docs/classes.md says how to update either.

>>> from jicai.store import connect
>>> from jicai.contract.arrow import from_pylist, empty
>>> wh = connect("duckdb://")
>>> _ = wh.write_table("varieties", empty("varieties"))
>>> _ = wh.write_table("products", from_pylist("products", [
...     {"product_code": "XC10AAA105A001010101445", "name": "阿托伐他汀钙片", "spec": "20mg*7片/盒",
...      "units_per_pack": 7.0, "category": "drug"},
...     {"product_code": "XC08CAA105A001010101445", "name": "左氨氯地平片", "spec": "2.5mg*14片",
...      "units_per_pack": 14.0, "category": "drug"}]))
>>> [(r["atc4"], r["atc_code"], r["ddd_per_unit"], r["ddd_note"]) for r in product_ddd_rows(wh)]
[('C08CA', None, None, '名称为氨氯地平的对映体，DDD表未收录'), ('C10AA', 'C10AA05', 1.0, None)]
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import ibis
import ibis.expr.types as ir

from jicai.contract.atc import atc4
from jicai.contract.strength import in_unit, reason, strength
from jicai.store import Warehouse

BUNDLED = "who_ddd.csv"
CLASSES = "atc4_classes.csv"
STEREO_PREFIXES = ("左", "右", "消旋", "艾司")
TOPICAL = ("外用", "软膏", "乳膏", "凝胶", "滴眼", "滴耳", "栓")

PRODUCT_DDD_SCHEMA = ibis.schema({
    "product_code": "string", "atc4": "string", "atc_code": "string", "route": "string", "ddd": "float64",
    "ddd_unit": "string", "strength": "string", "ddd_per_unit": "float64", "ddd_source": "string",
    "ddd_note": "string",
})


@dataclass(frozen=True)
class Ddd:
    atc_code: str
    inn_zh: str
    route: str
    ddd: float
    unit: str
    source: str


def _data(name: str) -> list[dict[str, str]]:
    text = resources.files("jicai.analytics").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def bundled() -> tuple[Ddd, ...]:
    """The bundled WHO DDDs (who_ddd.csv), each with its source: the WHO ATC/DDD Index of its year."""
    return tuple(Ddd(r["atc_code"], r["inn_zh"], r["route"], float(r["ddd"]), r["unit"],
                     f"WHO ATC/DDD Index {r['index_year']}") for r in _data(BUNDLED))


@cache
def class_names() -> dict[str, tuple[str, str]]:
    """ATC level-4 class → (中文名, English name) of the classes the bundled DDDs fall in."""
    return {r["atc4"]: (r["zh"], r["en"]) for r in _data(CLASSES)}


def class_table() -> ir.Table:
    """atc4, atc4_name (中文) of the named classes: a small table the measures join for the class's name."""
    names = class_names()
    return ibis.memtable({"atc4": list(names), "atc4_name": [zh for zh, _ in names.values()]},
                         schema={"atc4": "string", "atc4_name": "string"})


def with_class_name(t: ir.Table) -> ir.Table:
    """``t`` (with an ``atc4`` column) and ``atc4_name`` beside it (null for a class the table does not name)."""
    c = class_table().rename(c_atc4="atc4")
    return t.left_join(c, t.atc4 == c.c_atc4).drop("c_atc4")


ROUTES = {r.lower(): r for r in ("O", "P", "Inhal", "R", "SL", "TD", "N", "V")}
UNITS = {u.lower(): u for u in ("mg", "g", "mcg", "IU", "U")} | {"μg": "mcg", "µg": "mcg", "ug": "mcg"}


def ddd_table(wh: Warehouse) -> list[Ddd]:
    """The bundled DDDs with the warehouse's ``ddd`` rows in force: same (ATC code, route) replaced, new ones added.

    A bureau's route and unit are read in any case (o → O, MG → mg); an unknown one is kept as written and then
    matches no product (the product's ``ddd_note`` says so)."""
    rows = {(d.atc_code, d.route): d for d in bundled()}
    if wh.has_table("ddd"):
        names = {d.atc_code: d.inn_zh for d in bundled()}
        for r in wh.table("ddd").to_pyarrow().to_pylist():
            code = (r["atc_code"] or "").strip().upper()
            inn = (r.get("inn_zh") or "").strip() or names.get(code, "")
            route = ROUTES.get((r["route"] or "").strip().lower(), (r["route"] or "").strip())
            unit = UNITS.get((r["unit"] or "").strip().lower(), (r["unit"] or "").strip())
            source = (r.get("source") or "").strip() or "本地DDD表(ddd)"
            rows[(code, route)] = Ddd(code, inn, route, float(r["ddd"]), unit, source)
    return list(rows.values())


def route_of(text: str) -> str | None:
    """The WHO route a product's name and spec imply (see the module doc); None for topical forms."""
    if "注射" in text:
        return "P"
    if "吸入" in text:
        return "Inhal"
    if any(t in text for t in TOPICAL):
        return None
    return "O"


def _substance(names: list[str], table: list[Ddd], cls: str) -> tuple[str | None, str | None]:
    """(INN, None) of the longest INN of ``table`` found in the first name holding one, or (None, reason)."""
    inns = sorted({d.inn_zh for d in table if d.inn_zh}, key=len, reverse=True)
    for name in names:
        for inn in inns:
            at = name.find(inn)
            if at < 0:
                continue
            if any(name[:at].endswith(p) for p in STEREO_PREFIXES):
                return None, f"名称为{inn}的对映体，DDD表未收录"
            if not any(d.atc_code.startswith(cls) for d in table if d.inn_zh == inn):
                return None, f"名称中的{inn}不属于编码的ATC类别{cls}"
            return inn, None
    return None, "名称中无DDD表收录的通用名"


def resolve(product: dict, variety_name: str | None, table: list[Ddd]) -> dict:
    """The DDD facts of one product (``product``: a products row) — see PRODUCT_DDD_SCHEMA and the module doc."""
    out = {k: None for k in PRODUCT_DDD_SCHEMA.names}
    out["product_code"] = product["product_code"]
    cls = atc4(product["product_code"])
    out["atc4"] = cls
    if cls is None:
        out["ddd_note"] = "非西药编码，无ATC分类"
        return out
    name, spec = product.get("name") or "", product.get("spec") or ""
    inn, why = _substance([n for n in (name, variety_name or "") if n], table, cls)
    if inn is None:
        out["ddd_note"] = why
        return out
    route = route_of(name + spec)
    match = [d for d in table if d.inn_zh == inn and d.route == route and d.atc_code.startswith(cls)]
    if not match:
        out["ddd_note"] = f"DDD表无{inn}的该给药途径({route or '外用'})"
        return out
    d = match[0]
    out.update(atc_code=d.atc_code, route=d.route, ddd=d.ddd, ddd_unit=d.unit, ddd_source=d.source)
    text = (product.get("strength") or "").strip() or spec
    s = strength(text)
    if s is None:
        out["ddd_note"] = "含量不明：" + (reason(text) or ("", ""))[0]
        return out
    out["strength"] = f"{s[0]:g}{s[1]}"
    amount = in_unit(s, d.unit)
    if amount is None:
        out["ddd_note"] = f"含量单位{s[1]}与DDD单位{d.unit}不可换算"
        return out
    out["ddd_per_unit"] = amount / d.ddd
    return out


def product_ddd_rows(wh: Warehouse) -> list[dict]:
    """:func:`resolve` for every product of the warehouse, in product-code order."""
    table = ddd_table(wh)
    v = wh.table("varieties").select("variety_id", "name").to_pyarrow().to_pylist()
    vnames = {r["variety_id"]: r["name"] for r in v}
    p = wh.table("products")
    cols = ["product_code", "name", "spec", "variety_id", "strength"]
    rows = p.select(*[c for c in cols if c in p.columns]).order_by("product_code").to_pyarrow().to_pylist()
    return [resolve(r, vnames.get(r.get("variety_id")), table) for r in rows]


def product_ddd(wh: Warehouse) -> ir.Table:
    """:func:`product_ddd_rows` as a small Ibis table the measures join to (one row per product)."""
    rows = product_ddd_rows(wh)
    return ibis.memtable({c: [r[c] for r in rows] for c in PRODUCT_DDD_SCHEMA.names}, schema=PRODUCT_DDD_SCHEMA)
