"""政策测算 (policy what-if) for the bureau: ``GET /what-if`` (a form of the parameters, the flips and ¥ totals)
and ``POST /api/what-if`` (the same as JSON). Admin and bureau users only — a what-if is the bureau's own
question; a district bureau sees its own institutions and totals over them. See :mod:`jicai.web.whatif`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from jicai.contract.roles import Principal
from jicai.errors import BilingualError
from jicai.web.auth import api_principal, page_principal
from jicai.web.whatif import BUSY, ROLES

router = APIRouter()

REFUSED = {"zh": "政策测算仅限医保局用户", "en": "the policy what-if is for bureau users only"}
_NUMBER_MAX = 1e9  # no policy value of the what-if is this large: a bigger one is a typo or a probe


class WhatIfBody(BaseModel):
    """The arguments of a what-if; ``changes`` in the policy file's own units (ratios 0.95, not 95%)."""

    model_config = ConfigDict(extra="forbid")
    batch: str | None = Field(None, max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$", description="批次 / batch id")
    year: int | None = Field(None, ge=1, le=50, description="采购年度 / cycle year k")
    as_of: date | None = Field(None, description="测算截止日(年度内为预测算) / as-of date (inside the year: provisional)")
    changes: dict[str, bool | float | str | list[list[float]]] = Field(
        default_factory=dict, max_length=64,
        description="参数名 → 测算取值(与政策文件同单位) / parameter → alternative value, in the policy file's units, "
                    "e.g. {\"min_completion\": 0.95, \"retention_tiers\": [[90, 0.6], [80, 0.4]]}")

    @field_validator("changes")
    @classmethod
    def _bounded(cls, changes: dict[str, Any]) -> dict[str, Any]:
        def ok(v: Any) -> bool:
            if isinstance(v, bool):
                return True
            if isinstance(v, float | int):
                return abs(v) <= _NUMBER_MAX  # NaN fails too
            if isinstance(v, str):
                return len(v) <= 64
            return len(v) <= 20 and all(len(t) <= 2 and all(ok(x) for x in t) for t in v)
        for k, v in changes.items():
            if len(k) > 64 or not ok(v):
                raise ValueError(f"参数取值超出范围或格式不对:{k[:64]} / value out of range or malformed: {k[:64]}")
        return changes


def _page(request: Request, principal: Principal, status: int = 200, **ctx) -> HTMLResponse:
    from jicai.web.routes.pages import _page as page

    return page(request, "whatif.html", principal, status_code=status, **ctx)


@router.get("/what-if", response_class=HTMLResponse, include_in_schema=False)
def what_if_page(request: Request, principal: Principal = Depends(page_principal)):
    from jicai.analytics.whatif import POLICY
    from jicai.web.datasets import DatasetError
    from jicai.web.routes.pages import _error
    from jicai.web.whatif import alternative, comparison, fields, setting

    if principal.role not in ROLES:
        return _error(request, principal, BilingualError(REFUSED["zh"], REFUSED["en"]), 403)
    data = request.app.state.data
    q = request.query_params
    try:
        s = setting(data, q)
    except DatasetError as exc:
        return _error(request, principal, exc)
    raw = {k: q[k] for k in POLICY if k in q}
    ctx: dict[str, Any] = {"s": s, "batches": data.batches(), "c": None, "problem": None}
    status = 200
    if raw:
        try:
            alt = alternative(s.current, s.period.as_of, raw)
            ctx["c"] = comparison(data, principal, s, alt)
        except BUSY:
            raise
        except BilingualError as exc:  # a field that cannot be read, a value out of range, a zero-width band
            ctx["problem"], status = exc.detail(), 422
    ctx["fields"] = fields(s.current, s.period.as_of, raw)
    from urllib.parse import urlencode

    # the workbook's link: the validated arguments and the submitted parameters only (never other junk)
    ctx["query"] = urlencode({"batch": s.batch, "year": s.year, "as_of": s.period.as_of.isoformat(), **raw})
    from jicai.web.routes.pages import _namer

    name = _namer(request)
    ctx["city"] = lambda code: name("city_code", code)
    return _page(request, principal, status, **ctx)


@router.get("/what-if.xlsx", include_in_schema=False)
def what_if_workbook(request: Request, principal: Principal = Depends(page_principal)):
    """The what-if of the form's arguments as the workbook ``jicai what-if`` writes (the caller's rows only)."""
    import tempfile
    from pathlib import Path
    from urllib.parse import quote

    from jicai import clock
    from jicai.analytics.whatif import POLICY
    from jicai.reports.output import write
    from jicai.reports.whatif import what_if_report
    from jicai.web import views
    from jicai.web.routes.pages import _error
    from jicai.web.whatif import alternative, comparison, setting

    if principal.role not in ROLES:
        return _error(request, principal, BilingualError(REFUSED["zh"], REFUSED["en"]), 403)
    data = request.app.state.data
    q = request.query_params
    raw = {k: q[k] for k in POLICY if k in q}
    try:
        s = setting(data, q)
        c = comparison(data, principal, s, alternative(s.current, s.period.as_of, raw))
    except BUSY:
        raise
    except BilingualError as exc:
        return _error(request, principal, exc)
    with tempfile.TemporaryDirectory() as d:
        body = write(what_if_report(c, clock.stamp()), "xlsx", Path(d) / "w.xlsx").read_bytes()
    views.audit(request, principal, "export", "what-if", {"format": "xlsx", "batch": s.batch, "year": s.year,
                                                          "as_of": s.period.as_of.isoformat(),
                                                          "changes": {x.name: x.alt for x in c.changes}})
    name = quote(f"政策测算_{s.batch}_第{s.year}年度.xlsx")
    return Response(body, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"})


@router.post("/api/what-if", summary="政策测算 / policy what-if", tags=["data"])
def what_if_api(request: Request, body: WhatIfBody,
                principal: Annotated[Principal, Depends(api_principal)]) -> Response:
    """在另一政策下重算年度考核、结余留用与预付:合格与否发生变化的机构(原因与相关参数)、奖励与预付冲抵的变化,
    分地区与合计;改动多项参数时另给各项参数的影响(分项归因:Shapley 值,4 项以内精确,超过则逐项测算) / the
    assessment, retention and prepayment re-run under changed parameters: who flips pass/fail (with the reasons
    under both policies and the parameters behind it), the change in rewards and prepayment offsets, per city and
    in total, and — with several parameters changed — each one's part of the flips and the money
    (``apportionment``: Shapley values, exact up to four parameters, one at a time beyond) — over the caller's
    scope. Admin and bureau users only."""
    from jicai.analytics.whatif import POLICY
    from jicai.policy.checked import PolicyInvalid, with_checked
    from jicai.web.routes.api import json_bytes, with_status
    from jicai.web.whatif import as_json, comparison, setting

    if principal.role not in ROLES:
        raise HTTPException(403, detail=REFUSED)
    data = request.app.state.data
    unknown = [k for k in body.changes if k not in POLICY]
    try:
        if unknown:
            raise PolicyInvalid(f"政策测算不读取这些参数:{', '.join(unknown)[:200]}(可改:{', '.join(POLICY)})",
                                f"the what-if does not read: {', '.join(unknown)[:200]} (it reads: {', '.join(POLICY)})")
        s = setting(data, {"batch": body.batch, "year": body.year, "as_of": body.as_of})
        alt = with_checked(s.current, body.changes)
        c = comparison(data, principal, s, alt)
    except BUSY:
        raise
    except BilingualError as exc:  # arguments, values, or the computation's own (a score band of zero width)
        raise HTTPException(422, detail=exc.detail()) from exc
    return Response(with_status(json_bytes(as_json(c)), data), media_type="application/json")
