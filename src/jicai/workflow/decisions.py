"""The workflow's decisions and what they write into the warehouse.

- **Supply-problem reports.** A hospital files a report (product, problem, requested period); it becomes a
  ``supply_problems`` row ``WF-<id>`` with ``verified = false`` at once (the supply scorecard counts it as a
  complaint). The bureau verifies it with a period — the row becomes ``verified = true`` with that period,
  and the monitoring counts backup purchases inside it as selected and leaves non-selected purchases inside
  it out of the share — or rejects it (``verified = false``, the requested period kept).
- **Exemptions.** The bureau declares a variety special (shortage/emergency/seasonal/demand_change) for a
  period; the variety's ``special``/``special_start``/``special_end`` are set on the warehouse ``varieties``
  row, the other columns kept, and the standing exemption is kept in ``_variety_exemptions``, which the
  importer puts back over a re-imported ``varieties`` (:mod:`jicai.ingest.overrides`). Revoking restores the
  newest standing decision on the variety, or the values it had before the first one.
- **Supervision actions** (提醒/约谈/通报) on an institution or an enterprise: recorded, shown to the target.

Every function here runs inside the caller's workflow transaction and adds its audit row to it, and the
warehouse writes it owes as outbox entries (:mod:`jicai.workflow.outbox`), applied by the caller after the
commit — so a decision and its warehouse rows never disagree for longer than the next retry. Visibility follows the principal's scope (an
institution its own reports, an enterprise reports about its products, a district bureau its region); a
report outside the scope is *not found* — its id does not tell that it exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from jicai.contract.codes import institution_problem, institution_region
from jicai.contract.roles import Principal
from jicai.errors import BilingualError
from jicai.ingest.overrides import EXEMPTIONS
from jicai.workflow import lookups, outbox
from jicai.workflow.audit import record
from jicai.workflow.db import now
from jicai.workflow.models import (
    ACTIONS,
    PROBLEMS,
    SPECIALS,
    TARGET_KINDS,
    AuditEntry,
    Exemption,
    SupervisionAction,
    SupplyReport,
    User,
)
from jicai.workflow.warehouse import WarehouseService


class WorkflowError(BilingualError):
    """A refused workflow request: HTTP status and the reason in Chinese and English."""

    def __init__(self, status: int, zh: str, en: str) -> None:
        super().__init__(zh, en)
        self.status = status


def _not_found(what_zh: str, what_en: str, ident: object) -> WorkflowError:
    return WorkflowError(404, f"{what_zh} {ident} 不存在", f"{what_en} {ident} not found")


def _forbidden() -> WorkflowError:
    return WorkflowError(403, "无权执行此操作", "forbidden for this role")


def _in_region(column: Any, principal: Principal) -> ColumnElement[bool]:
    return column.startswith(principal.scope, autoescape=True) if principal.scope else true()


@dataclass
class Context:
    """What a decision needs besides its arguments: the session, who acts, the warehouse, the client."""

    session: Session
    principal: Principal
    data: WarehouseService
    client: str = ""

    def audit(self, action: str, target: str, region_code: str = "", **detail: Any) -> None:
        record(self.session, action, principal=self.principal, target=target, region_code=region_code,
               detail=detail, client=self.client)


# -- supply-problem reports ------------------------------------------------------------------------------
def report_filter(principal: Principal, data: WarehouseService) -> ColumnElement[bool]:
    """Which supply-problem reports ``principal`` may see."""
    if principal.regional:
        return _in_region(SupplyReport.region_code, principal)
    if principal.role == "institution":
        return SupplyReport.institution_code == principal.scope
    if principal.role == "enterprise":
        products = lookups.enterprise_products(data, principal.scope)
        return SupplyReport.product_code.in_(sorted(products)) if products else false()
    return false()


def list_reports(ctx: Context, status: str | None = None, limit: int = 200, offset: int = 0) -> list[SupplyReport]:
    q = select(SupplyReport).where(report_filter(ctx.principal, ctx.data))
    if status:
        q = q.where(SupplyReport.status == status)
    q = q.order_by(SupplyReport.id.desc()).limit(limit).offset(offset)
    return list(ctx.session.scalars(q))


def get_report(ctx: Context, report_id: int) -> SupplyReport:
    report = ctx.session.scalar(select(SupplyReport).where(SupplyReport.id == report_id,
                                                           report_filter(ctx.principal, ctx.data)))
    if report is None:
        raise _not_found("供应问题报告", "supply-problem report", report_id)
    return report


def _choice(value: str, choices: tuple[str, ...], zh: str, en: str) -> None:
    if value not in choices:
        raise WorkflowError(422, f"{zh}应为 {'/'.join(choices)}", f"{en} must be one of {', '.join(choices)}")


def _check_period(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and end < start:
        raise WorkflowError(422, "结束日期早于开始日期", "the end date is before the start date")


def warehouse_row(report: SupplyReport) -> dict:
    """The ``supply_problems`` row the report stands for in the warehouse."""
    verified = report.status == "verified"
    return {
        "report_id": report.warehouse_id, "institution_code": report.institution_code,
        "product_code": report.product_code, "problem": report.problem, "reported_at": report.filed_at,
        "verified": verified,
        "start_date": report.verified_start if verified else report.start_date,
        "end_date": report.verified_end if verified else report.end_date,
    }


def _write_report(ctx: Context, report: SupplyReport) -> None:
    outbox.enqueue(ctx.session, "supply_problems", [warehouse_row(report)], ("report_id",))


def file_report(ctx: Context, product_code: str, problem: str, start: date, end: date | None,
                description: str = "") -> SupplyReport:
    """An institution files a report about one of its suppliers' products (its own code, never another)."""
    p = ctx.principal
    if p.role != "institution":
        raise _forbidden()
    _choice(problem, PROBLEMS, "问题类型", "problem")
    _check_period(start, end)
    if product_code not in lookups.product_names(ctx.data):
        raise WorkflowError(422, f"产品 {product_code} 不在产品目录中", f"product {product_code} is not in the products table")
    region = lookups.institution_regions(ctx.data).get(p.scope)
    if region is None:
        region = institution_region(p.scope) if institution_problem(p.scope) is None else ""
    report = SupplyReport(institution_code=p.scope, region_code=region, product_code=product_code, problem=problem,
                          description=description.strip(), start_date=start, end_date=end, filed_by=p.user_id,
                          filed_at=now(), status="pending", comment="")
    ctx.session.add(report)
    ctx.session.flush()
    ctx.audit("supply_report.file", f"supply_report:{report.id}", region, product_code=product_code,
              problem=problem, start_date=start, end_date=end)
    _write_report(ctx, report)
    return report


def decide_report(ctx: Context, report_id: int, decision: str, start: date | None = None, end: date | None = None,
                  comment: str = "") -> SupplyReport:
    """The bureau verifies a report with a period (by default the requested one) or rejects it with a reason.
    A decided report may be decided again (a longer shortage, a corrected period); the audit log keeps each."""
    if not ctx.principal.decides:
        raise _forbidden()
    report = get_report(ctx, report_id)
    comment = comment.strip()
    if decision == "verify":
        if start is None and end is None:
            start, end = report.start_date, report.end_date
        elif start is None:
            start = report.start_date
        _check_period(start, end)
        report.status, report.verified_start, report.verified_end = "verified", start, end
    elif decision == "reject":
        if not comment:
            raise WorkflowError(422, "不予认定须说明理由", "a rejection needs a comment saying why")
        report.status, report.verified_start, report.verified_end = "rejected", None, None
    else:
        raise WorkflowError(422, f"未知决定 {decision!r}", f"unknown decision {decision!r}: verify or reject")
    report.decided_by, report.decided_at, report.comment = ctx.principal.user_id, now(), comment
    ctx.audit(f"supply_report.{decision}", f"supply_report:{report.id}", report.region_code,
              start_date=report.verified_start, end_date=report.verified_end, comment=comment)
    _write_report(ctx, report)
    return report


# -- exemptions -----------------------------------------------------------------------------------------
SPECIAL_FIELDS = ("special", "special_start", "special_end")


def list_exemptions(ctx: Context, variety_id: str | None = None) -> list[Exemption]:
    q = select(Exemption)
    if variety_id:
        q = q.where(Exemption.variety_id == variety_id)
    return list(ctx.session.scalars(q.order_by(Exemption.id.desc())))


def _require_province(ctx: Context) -> None:
    # a variety's exemption applies to the whole province: a district bureau may not decide it
    if not (ctx.principal.decides and ctx.principal.province_wide):
        raise WorkflowError(403, "特殊品种认定须由省级(全域)医保局作出",
                            "a special-variety exemption is decided province-wide (admin or an unscoped bureau)")


def exemption_state(session: Session, variety_id: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """What the warehouse holds for a variety the workflow has exempted: its ``_variety_exemptions`` row (None
    when no exemption stands) and its ``varieties`` special columns — the newest standing exemption's, or the
    values the variety had before the first exemption."""
    standing = session.scalar(select(Exemption).where(Exemption.variety_id == variety_id, Exemption.revoked == false())
                              .order_by(Exemption.id.desc()).limit(1))
    if standing is not None:
        values = {"special": standing.special, "special_start": standing.start_date, "special_end": standing.end_date}
        return {"variety_id": variety_id, **values, "exemption_id": standing.id}, {"variety_id": variety_id, **values}
    first = session.scalar(select(Exemption).where(Exemption.variety_id == variety_id).order_by(Exemption.id).limit(1))
    values = {k: first.prior.get(k) for k in SPECIAL_FIELDS}
    for k in ("special_start", "special_end"):
        values[k] = date.fromisoformat(values[k]) if values[k] else None
    return None, {"variety_id": variety_id, **values}


def _write_variety(ctx: Context, variety_id: str) -> dict[str, Any]:
    """Owe the warehouse the variety's exemption state (:func:`exemption_state`); returns its special columns."""
    row, values = exemption_state(ctx.session, variety_id)
    if row is not None:
        outbox.enqueue(ctx.session, EXEMPTIONS, [row], ("variety_id",))
    else:
        outbox.enqueue(ctx.session, EXEMPTIONS, [{"variety_id": variety_id}], ("variety_id",), op="delete")
    outbox.enqueue(ctx.session, "varieties", [values], ("variety_id",), op="patch")
    return values


def add_exemption(ctx: Context, variety_id: str, special: str, start: date, end: date | None,
                  reason: str) -> Exemption:
    _require_province(ctx)
    _choice(special, SPECIALS, "特殊类别", "special")
    _check_period(start, end)
    if not reason.strip():
        raise WorkflowError(422, "须说明认定理由", "an exemption needs a reason")
    row = lookups.variety_row(ctx.data, variety_id)
    if row is None:
        raise WorkflowError(422, f"品种 {variety_id} 不在品种表中", f"variety {variety_id} is not in the varieties table")
    prior = {k: (row[k].isoformat() if isinstance(row[k], date) else row[k]) for k in SPECIAL_FIELDS}
    ex = Exemption(variety_id=variety_id, special=special, start_date=start, end_date=end, reason=reason.strip(),
                   prior=prior, decided_by=ctx.principal.user_id, decided_at=now(), revoked=False)
    ctx.session.add(ex)
    ctx.session.flush()
    ctx.audit("exemption.add", f"variety:{variety_id}", special=special, start_date=start, end_date=end,
              reason=reason.strip(), exemption_id=ex.id, prior=prior)
    _write_variety(ctx, variety_id)
    return ex


def revoke_exemption(ctx: Context, exemption_id: int) -> Exemption:
    _require_province(ctx)
    ex = ctx.session.get(Exemption, exemption_id)
    if ex is None:
        raise _not_found("特殊品种认定", "exemption", exemption_id)
    if ex.revoked:
        raise WorkflowError(409, "该认定已撤销", "this exemption is already revoked")
    ex.revoked, ex.revoked_by, ex.revoked_at = True, ctx.principal.user_id, now()
    ctx.session.flush()
    values = _write_variety(ctx, ex.variety_id)
    ctx.audit("exemption.revoke", f"variety:{ex.variety_id}", exemption_id=ex.id,
              restored={k: values[k] for k in SPECIAL_FIELDS})
    return ex


# -- supervision actions -----------------------------------------------------------------------------------
def action_filter(principal: Principal) -> ColumnElement[bool]:
    """Which supervision actions ``principal`` may see: its own as a target; a district bureau's region's
    institutions and every enterprise (suppliers serve the whole province)."""
    if principal.role in ("institution", "enterprise"):
        return (SupervisionAction.target_kind == principal.role) & (SupervisionAction.target_code == principal.scope)
    if not principal.scope:
        return true()
    return or_(SupervisionAction.target_kind == "enterprise", _in_region(SupervisionAction.region_code, principal))


def list_actions(ctx: Context, limit: int = 200, offset: int = 0) -> list[SupervisionAction]:
    q = (select(SupervisionAction).where(action_filter(ctx.principal))
         .order_by(SupervisionAction.id.desc()).limit(limit).offset(offset))
    return list(ctx.session.scalars(q))


def add_action(ctx: Context, target_kind: str, target_code: str, action: str, reason: str) -> SupervisionAction:
    p = ctx.principal
    if not p.decides:
        raise _forbidden()
    _choice(target_kind, TARGET_KINDS, "对象类型", "target_kind")
    _choice(action, ACTIONS, "监管措施", "action")
    if not reason.strip():
        raise WorkflowError(422, "须说明理由", "an action needs a reason")
    region = ""
    if target_kind == "institution":
        found = lookups.institution_regions(ctx.data).get(target_code)
        if found is None:
            raise WorkflowError(422, f"机构 {target_code} 不在机构表中", f"institution {target_code} is not in the warehouse")
        if p.scope and not found.startswith(p.scope):
            raise WorkflowError(403, "该机构不在本辖区", "this institution is outside your region")
        region = found
    elif not lookups.enterprise_known(ctx.data, target_code):
        raise WorkflowError(422, f"企业 {target_code} 不在企业表中", f"enterprise {target_code} is not in the warehouse")
    act = SupervisionAction(target_kind=target_kind, target_code=target_code, region_code=region, action=action,
                            reason=reason.strip(), created_by=p.user_id, created_at=now())
    ctx.session.add(act)
    ctx.session.flush()
    ctx.audit(f"action.{action}", f"{target_kind}:{target_code}", region, action_id=act.id, reason=reason.strip())
    return act


# -- audit log ------------------------------------------------------------------------------------------
AUDIT_READERS = ("admin", "bureau", "auditor")


def list_audit(ctx: Context, action: str | None = None, limit: int = 200, offset: int = 0) -> list[AuditEntry]:
    """Audit rows, newest first: all of them province-wide; a regional scope sees the rows about its region."""
    if ctx.principal.role not in AUDIT_READERS:
        raise _forbidden()
    q = select(AuditEntry)
    if ctx.principal.scope:
        q = q.where(_in_region(AuditEntry.region_code, ctx.principal) & (AuditEntry.region_code != ""))
    if action:
        q = q.where(AuditEntry.action.startswith(action, autoescape=True))
    return list(ctx.session.scalars(q.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)))


# -- as JSON ---------------------------------------------------------------------------------------------
def user_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(sorted(ids)))).all())


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, date) else v


def report_dict(r: SupplyReport, names: dict[int, str]) -> dict:
    return {
        "id": r.id, "warehouse_report_id": r.warehouse_id, "institution_code": r.institution_code,
        "region_code": r.region_code, "product_code": r.product_code, "problem": r.problem,
        "description": r.description, "start_date": _iso(r.start_date), "end_date": _iso(r.end_date),
        "filed_by": names.get(r.filed_by, ""), "filed_at": _iso(r.filed_at), "status": r.status,
        "verified_start": _iso(r.verified_start), "verified_end": _iso(r.verified_end),
        "decided_by": names.get(r.decided_by, "") if r.decided_by else None, "decided_at": _iso(r.decided_at),
        "comment": r.comment,
    }


def exemption_dict(e: Exemption, names: dict[int, str]) -> dict:
    return {
        "id": e.id, "variety_id": e.variety_id, "special": e.special, "start_date": _iso(e.start_date),
        "end_date": _iso(e.end_date), "reason": e.reason, "decided_by": names.get(e.decided_by, ""),
        "decided_at": _iso(e.decided_at), "revoked": e.revoked,
        "revoked_by": names.get(e.revoked_by, "") if e.revoked_by else None, "revoked_at": _iso(e.revoked_at),
    }


def action_dict(a: SupervisionAction, names: dict[int, str]) -> dict:
    return {
        "id": a.id, "target_kind": a.target_kind, "target_code": a.target_code, "region_code": a.region_code,
        "action": a.action, "reason": a.reason, "created_by": names.get(a.created_by, ""),
        "created_at": _iso(a.created_at),
    }


def audit_dict(e: AuditEntry) -> dict:
    return {"id": e.id, "at": _iso(e.at), "user_name": e.user_name, "role": e.role, "action": e.action,
            "target": e.target, "region_code": e.region_code, "detail": e.detail, "client": e.client}
