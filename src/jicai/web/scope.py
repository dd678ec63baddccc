"""The one place where a principal's scope is applied to a query.

Every table the pages and the API show is an Ibis expression; :func:`restrict` filters it to the rows the
principal may see, by the dimensions the table declares (:class:`Dims`). It runs on whichever backend the
expression belongs to, so cached results and live warehouse queries are filtered by the same code.

The rules (DESIGN.md "Security model"):

- admin / bureau / auditor with a blank scope see everything; with a region prefix (``3505``) they see
  rows of institutions whose ``region_code`` starts with it. Rows with no institution dimension (a product's
  listing, a supplier's scorecard) are not regional and are shown in full.
- institution: rows whose institution (or pharmacy) code equals its scope; a table without an institution
  dimension shows nothing.
- enterprise: rows of its own products — the product's manufacturer, the selected product's enterprise, the
  order's distributor — or, for rows that name only a variety (monitoring), the varieties in which it holds
  a selected product. A table with none of these dimensions shows nothing.

Nothing is visible by default: a role or a table this module does not know yields no rows.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from jicai.contract.roles import Principal
from jicai.measures.registry import Dims

__all__ = ["Dims", "Lookups", "restrict"]




class Lookups:
    """The small reference tables scope needs, on the same backend as the tables being filtered."""

    def __init__(self, institutions: ir.Table, products: ir.Table, selected_products: ir.Table) -> None:
        self.institutions = institutions
        self.products = products
        self.selected_products = selected_products


def _nothing(t: ir.Table) -> ir.Table:
    return t.filter(ibis.literal(False))


def restrict(principal: Principal | None, t: ir.Table, dims: Dims, lookups: Lookups) -> ir.Table:
    """``t`` filtered to what ``principal`` may see (no principal: nothing)."""
    if principal is None:
        return _nothing(t)
    p, s = principal, principal.scope
    if p.regional:
        if not s:
            return t
        if dims.region:
            return t.filter(t[dims.region].cast("string").startswith(s))
        if dims.institution:
            inst = lookups.institutions
            codes = inst.filter(inst.region_code.startswith(s)).institution_code
            return t.filter(t[dims.institution].isin(codes))
        return t  # not a regional table (products, listings, suppliers)
    if p.role == "institution":
        if dims.institution and s:
            return t.filter(t[dims.institution] == s)
        return _nothing(t)
    if p.role == "enterprise" and s:
        conds = [t[c] == s for c in dims.enterprise if c in t.columns]  # roll-ups keep only some of them
        if dims.product:
            prod, sel = lookups.products, lookups.selected_products
            own = prod.filter(prod.manufacturer_code == s).select("product_code").union(
                sel.filter(sel.enterprise_code == s).select("product_code"))
            conds.append(t[dims.product].isin(own.product_code))
        elif dims.variety:
            sel = lookups.selected_products
            conds.append(t[dims.variety].isin(sel.filter(sel.enterprise_code == s).variety_id))
        if not conds:
            return _nothing(t)
        cond = conds[0]
        for c in conds[1:]:
            cond = cond | c
        return t.filter(cond)
    return _nothing(t)


def may_see_institution(principal: Principal, code: str, region_code: str | None) -> bool:
    """Whether a page about one institution may be shown (the detail page checks this before any query)."""
    if principal.regional:
        return not principal.scope or (region_code or "").startswith(principal.scope)
    if principal.role == "institution":
        return principal.scope == code
    return False
