"""Supply-problem reports that came in with the data, beside the workflow's own.

A bureau imports the platform's supply-problem records (``supply_problems``, ``jicai import``); they change the
monitoring exactly as a report verified in the workflow does. The workflow's list of reports shows them too —
read-only, with the same scope as the workflow's reports (an institution its own, an enterprise those about
its products, a district bureau its region), so a hospital finds there the verified shortage the monitoring
already counts for it instead of "no reports".
"""

from __future__ import annotations

from datetime import date, datetime

from jicai.contract.codes import institution_region
from jicai.contract.roles import Principal
from jicai.workflow import lookups
from jicai.workflow.warehouse import WarehouseService


def _iso(v: date | datetime | None) -> str | None:
    return None if v is None else v.isoformat()


def _visible(principal: Principal, data: WarehouseService):
    """The test of an imported row against the principal's scope (the workflow's ``report_filter``)."""
    if principal.regional:
        return lambda r: institution_region(r["institution_code"]).startswith(principal.scope)
    if principal.role == "institution":
        return lambda r: r["institution_code"] == principal.scope
    if principal.role == "enterprise":
        products = lookups.enterprise_products(data, principal.scope)
        return lambda r: r["product_code"] in products
    return lambda r: False


def imported_reports(principal: Principal, data: WarehouseService, status: str | None = None) -> list[dict]:
    """The imported reports ``principal`` may see, newest first: status ``verified`` (the platform verified
    the period) or ``pending`` (not verified); ``status`` keeps one of them (``rejected`` keeps none: an
    import carries no rejection)."""
    seen = _visible(principal, data)
    out = []
    for r in lookups.imported_problems(data):
        st = "verified" if r["verified"] else "pending"
        if not seen(r) or (status and status != st):
            continue
        out.append({
            "report_id": r["report_id"], "institution_code": r["institution_code"], "product_code": r["product_code"],
            "problem": r["problem"], "reported_at": _iso(r["reported_at"]), "status": st,
            "start_date": _iso(r["start_date"]), "end_date": _iso(r["end_date"]),
        })
    return out
