"""Accepted use of drugs in DDDs per institution × product × month, with the product's therapeutic class and
what it is for the institution: the one Ibis expression the DDD and substitution measures read.

A row is an (institution, product, month) with accepted volume (``accepted_quantity × units_per_pack`` on the
acceptance day, like every volume of jicai) and amount, from the compact facts kept at import (their month
tables; the day tables only for a month cut by the window's ends). Only products with an ATC level-4 class
(western drugs) take part; ``ddd`` is null for a product whose DDDs cannot be told (see
:mod:`jicai.analytics.ddd`).

``use_class`` (集采属性) of the product for the institution:

* ``selected`` 中选产品 — a ``selected_products`` row (primary or backup) of its variety whose regions match the
  institution's region: bought at a winning price. Backups count here, unlike the non-selected share of the
  monitoring: the question is whether use leaks out of VBP, and a backup is a VBP product at its winning price;
* ``nonselected`` 同品种非中选 — any other product of a VBP variety (a ``varieties`` row);
* ``nonvbp`` 非集采同类 — a product of no VBP variety: an alternative of the same class outside VBP.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.analytics.ddd import product_ddd
from jicai.ingest.facts import month_of
from jicai.measures.classes import region_match
from jicai.measures.facts import Facts, accepted_between
from jicai.store import Warehouse

USE_CLASSES: dict[str, tuple[str, str]] = {
    "selected": ("中选产品", "a winning product of the variety for the institution's region (primary or backup)"),
    "nonselected": ("同品种非中选", "another product of a VBP variety"),
    "nonvbp": ("非集采同类", "a product of the same ATC class in no VBP variety"),
}

INPUT_TABLES = ("products", "varieties", "selected_products", "institutions", "orders", "deliveries", "payments")


def class_use(wh: Warehouse, first: date, last: date, pd: ir.Table | None = None) -> ir.Table:
    """Rows institution_code, product_code, month (date, the 1st), atc4, variety_id, use_class, level, volume,
    amount, ddd, ddd_per_unit for acceptance days in [first, last]. ``pd``: the products' DDD facts when the
    caller has them already (:func:`jicai.analytics.ddd.product_ddd` reads the products table each time)."""
    a = accepted_between(Facts(wh), first, last, [])
    a = a.mutate(month=month_of(a.day))
    g = a.group_by(["institution_code", "product_code", "month"]).agg(packs=a.packs.sum(), amount=a.amount.sum())
    pd = product_ddd(wh) if pd is None else pd
    pd = pd.filter(pd.atc4.notnull()).select("product_code", "atc4", "ddd_per_unit")
    p = wh.table("products").select("product_code", "units_per_pack", p_variety="variety_id")
    v = wh.table("varieties").select(v_variety="variety_id")
    j = g.join(pd, "product_code").join(p, "product_code")
    j = j.left_join(v, j.p_variety == v.v_variety)
    inst = wh.table("institutions").select("institution_code", "level", inst_region="region_code")
    j = j.left_join(inst, "institution_code").drop("institution_code_right")

    sp = wh.table("selected_products").select(sp_variety="variety_id", sp_product="product_code", sp_regions="regions")
    pairs = j.select("institution_code", "product_code", "p_variety", "inst_region").distinct()
    w = pairs.join(sp, [pairs.p_variety == sp.sp_variety, pairs.product_code == sp.sp_product])
    w = w.filter(region_match(w.sp_regions, w.inst_region))
    w = w.select(w_inst="institution_code", w_product="product_code").distinct()
    j = j.left_join(w, [j.institution_code == w.w_inst, j.product_code == w.w_product])

    use_class = ibis.cases((j.v_variety.isnull(), "nonvbp"), (j.w_inst.notnull(), "selected"), else_="nonselected")
    volume = (j.packs * j.units_per_pack).cast("float64")
    return j.select(
        "institution_code", "product_code", "month", "atc4",
        variety_id=j.v_variety, use_class=use_class, level=j.level,
        volume=volume, amount=j.amount.cast("float64"), ddd=volume * j.ddd_per_unit, ddd_per_unit=j.ddd_per_unit,
    )
