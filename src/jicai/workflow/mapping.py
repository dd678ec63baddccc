"""对码 decisions: the bureau confirms which national product a hospital's (or a platform's) local code is.

The local codes come from ``local_products`` (each hospital's dictionary, imported like any table); the
proposals are computed on demand by :mod:`jicai.ingest.matching` (exact first, then fuzzy with a score) and
never stored; a decision is a ``product_mappings`` row owed to the warehouse through the outbox
(:mod:`jicai.workflow.outbox`) (``confirmed`` with its
product, or ``rejected`` = no national product) with an audit row in the same workflow transaction. The
importer applies confirmed rows to incoming order lines (:mod:`jicai.ingest.codemap`).

Who: regional roles (admin, bureau, auditor) see the local codes of the institutions in their region — a
district bureau only its own; ``platform`` codes belong to the whole province, so only a province-wide user
sees and decides them. Only admin and bureau decide. A code outside the principal's scope is *not found*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jicai.contract.codes import institution_problem, institution_region
from jicai.contract.roles import Principal
from jicai.ingest.matching import Candidate, ProductIndex, compare, describe_local, describe_product, score
from jicai.store import Warehouse
from jicai.workflow import outbox
from jicai.workflow.db import now
from jicai.workflow.decisions import Context, WorkflowError
from jicai.workflow.warehouse import WarehouseService

STATUS_ZH = {"open": "待对码", "confirmed": "已对码", "rejected": "不予对码"}
METHOD_ZH = {"exact": "精确匹配", "fuzzy": "模糊匹配", "file": "目录自报", "manual": "人工指定"}
PLATFORM = "platform"
KEY = ("scope", "local_code")


@dataclass
class LocalCode:
    """One local code as the page and the CLI show it: what it is, its decision, its proposals."""

    scope: str
    local_code: str
    name: str
    spec: str
    units_per_pack: float | None
    manufacturer: str
    stated: str  # the national code the source's own file states ("" when none)
    status: str  # open | confirmed | rejected
    product_code: str = ""
    decided_by: str = ""
    decided_at: Any = None
    candidates: list[Candidate] = field(default_factory=list)
    source_name: str = ""  # the institution's name, or 平台编码
    product_name: str = ""  # of the confirmed product

    @property
    def source(self) -> str:
        """Whose code it is, as a reader sees it: 南山医院(H44030500001), or 平台编码."""
        return self.source_name if self.scope == PLATFORM else f"{self.source_name}({self.scope})"


def visible(principal: Principal, scope: str) -> bool:
    """Whether ``principal`` may see (and, deciding, decide) the local codes of ``scope``."""
    if not principal.regional:
        return False
    if scope == PLATFORM:
        return principal.province_wide
    if institution_problem(scope) is not None:
        return False
    return institution_region(scope).startswith(principal.scope)


def _rows(wh: Warehouse, table: str, columns: list[str]) -> list[dict]:
    if not wh.has_table(table):
        return []
    return wh.table(table).select(*columns).to_pyarrow().to_pylist()


def _index(wh: Warehouse) -> ProductIndex:
    products = _rows(wh, "products", ["product_code", "name", "spec", "units_per_pack", "manufacturer_code"])
    makers = {r["enterprise_code"]: r["name"] for r in _rows(wh, "enterprises", ["enterprise_code", "name"])}
    return ProductIndex([describe_product(p["product_code"], p["name"], p["spec"], p["units_per_pack"],
                                          makers.get(p["manufacturer_code"])) for p in
                         sorted(products, key=lambda p: p["product_code"])])


def _stated(index: ProductIndex, code: LocalCode) -> Candidate | None:
    """The national code the hospital's own dictionary states, scored like a proposal (method ``file``)."""
    for p in index.products:
        if p.product_code == code.stated:
            local = describe_local(code.name, code.spec, code.units_per_pack, code.manufacturer)
            parts = compare(local, p)
            return Candidate(p.product_code, score(parts), "file", p.label, parts)
    return None


def local_codes(data: WarehouseService, principal: Principal, status: str | None = None,
                proposals: bool = True, limit: int | None = None) -> list[LocalCode]:
    """The local codes ``principal`` may see (``status`` open/confirmed/rejected, or all), each with its
    decision and, when open, its proposals: the code the file states first (when it is a product), then the
    matcher's. Ordered open first, then by scope and local code; the first ``limit`` only (a page), so that
    proposals are computed for the rows shown and not for a province's every dictionary."""

    def compute(wh: Warehouse) -> list[LocalCode]:
        decided = {(r["scope"], r["local_code"]): r for r in _rows(
            wh, "product_mappings", ["scope", "local_code", "product_code", "status", "decided_by", "decided_at"])}
        out = []
        for r in _rows(wh, "local_products", ["scope", "local_code", "name", "spec", "units_per_pack",
                                              "manufacturer", "product_code"]):
            if not visible(principal, r["scope"]):
                continue
            d = decided.get((r["scope"], r["local_code"]), {})
            out.append(LocalCode(r["scope"], r["local_code"], r["name"], r["spec"] or "", r["units_per_pack"],
                                 r["manufacturer"] or "", r["product_code"] or "", d.get("status", "open"),
                                 d.get("product_code") or "", d.get("decided_by") or "", d.get("decided_at")))
        names = {r["institution_code"]: r["name"] for r in _rows(wh, "institutions", ["institution_code", "name"])}
        products = {r["product_code"]: r["name"] for r in _rows(wh, "products", ["product_code", "name"])}
        for c in out:
            c.source_name = "平台编码" if c.scope == PLATFORM else names.get(c.scope, "未知机构")
            c.product_name = products.get(c.product_code, "")
        out = sorted((c for c in out if status is None or c.status == status),
                     key=lambda c: (c.status != "open", c.scope, c.local_code))[:limit]
        if proposals and any(c.status == "open" for c in out):
            index = _index(wh)
            for c in out:
                if c.status != "open":
                    continue
                found = index.propose(describe_local(c.name, c.spec, c.units_per_pack, c.manufacturer))
                stated = _stated(index, c) if c.stated else None
                c.candidates = ([stated] if stated else []) + [x for x in found if not stated
                                                                 or x.product_code != stated.product_code]
        return out

    return data.run(compute)


def _find(ctx: Context, scope: str, local_code: str) -> LocalCode:
    if visible(ctx.principal, scope):
        for c in local_codes(ctx.data, ctx.principal, proposals=False):
            if c.scope == scope and c.local_code == local_code:
                return c
    raise WorkflowError(404, f"本地编码 {scope}/{local_code} 不存在", f"local code {scope}/{local_code} not found")


def _decide(ctx: Context, code: LocalCode, row: dict[str, Any], action: str) -> dict[str, Any]:
    if not ctx.principal.decides:
        raise WorkflowError(403, "只有医保局可以确认对码", "only the bureau confirms a mapping")
    row = {"scope": code.scope, "local_code": code.local_code, "decided_by": ctx.principal.name,
           "decided_at": now(), **row}
    region = "" if code.scope == PLATFORM else institution_region(code.scope)
    ctx.audit(f"mapping.{action}", f"local_code:{code.scope}/{code.local_code}", region,
              product_code=row.get("product_code"), score=row.get("score"), method=row.get("method"))
    return row


def _write(ctx: Context, rows: list[dict[str, Any]]) -> None:
    if rows:
        outbox.enqueue(ctx.session, "product_mappings", rows, KEY)


def confirm(ctx: Context, scope: str, local_code: str, product_code: str) -> dict[str, Any]:
    """Confirm that the local code is ``product_code``; its score and method are the proposal's (``manual``
    when the product was not proposed)."""
    code = _find(ctx, scope, local_code)
    found = {x.product_code: x for c in local_codes(ctx.data, ctx.principal, "open")
             if (c.scope, c.local_code) == (scope, local_code) for x in c.candidates}
    if product_code not in found:
        index = ctx.data.run(_index)
        if product_code not in {p.product_code for p in index.products}:
            raise WorkflowError(422, f"产品 {product_code} 不在产品目录中", f"product {product_code} is not in the products table")
        local = describe_local(code.name, code.spec, code.units_per_pack, code.manufacturer)
        product = next(p for p in index.products if p.product_code == product_code)
        chosen = Candidate(product_code, score(compare(local, product)), "manual", product.label, {})
    else:
        chosen = found[product_code]
    row = _decide(ctx, code, {"product_code": product_code, "status": "confirmed", "score": chosen.score,
                              "method": chosen.method}, "confirm")
    _write(ctx, [row])
    return row


def reject(ctx: Context, scope: str, local_code: str) -> dict[str, Any]:
    """Decide that the local code has no national product (e.g. a hospital's own preparation)."""
    code = _find(ctx, scope, local_code)
    row = _decide(ctx, code, {"product_code": None, "status": "rejected", "score": None, "method": None}, "reject")
    _write(ctx, [row])
    return row


def confirm_exact(ctx: Context) -> list[dict[str, Any]]:
    """Confirm every open local code with exactly one exact proposal (the bulk step after a new dictionary)."""
    done = []
    for c in local_codes(ctx.data, ctx.principal, "open"):
        exact = [x for x in c.candidates if x.method == "exact"]
        if len(exact) == 1:
            done.append(_decide(ctx, c, {"product_code": exact[0].product_code, "status": "confirmed",
                                         "score": exact[0].score, "method": "exact"}, "confirm"))
    _write(ctx, done)
    return done
