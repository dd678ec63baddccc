"""The real-time settlement gate (视频联动): may this pharmacy settle now, given its video status?

``POST /api/pharmacy/settlement-check`` answers from an in-memory index of the ``video_status`` intervals
(:class:`jicai.fund.gate.SettlementGate`), built once and rebuilt when the warehouse changes (an import), so
a call costs microseconds and never queries the warehouse. A pharmacy's own account may ask about itself; the
bureau (and a settlement service given a bureau account) about any pharmacy in its region.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from jicai.contract.roles import Principal
from jicai.web.auth import api_principal

router = APIRouter(prefix="/api/pharmacy", tags=["fund"])


class SettlementCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pharmacy_code: str = Field(pattern=r"^[0-9A-Za-z]{1,32}$", description="定点药店编码 / pharmacy code")
    at: datetime | None = Field(None, description="结算时间(缺省为现在) / settlement time (default: now)")

    @field_validator("at")
    @classmethod
    def _within_the_window(cls, at: datetime | None) -> datetime | None:
        """A time of the years the platform knows (query.py's window): 0001-01-01T00:46+11:46 is no settlement
        and cannot even be converted to Beijing time (an OverflowError, a 500, before this check)."""
        from jicai.web.query import YEAR_MAX, YEAR_MIN

        if at is not None and not YEAR_MIN <= at.year <= YEAR_MAX:
            raise ValueError(f"结算时间须在 {YEAR_MIN}–{YEAR_MAX} 年之间 / the settlement time must be in the years "
                             f"{YEAR_MIN}–{YEAR_MAX}")
        return at


def _gate(request: Request):
    """The gate of the current data (rebuilt in the background after an import or a workflow write)."""
    from jicai.fund.gate import SettlementGate

    return request.app.state.data.value(("settlement_gate",), SettlementGate.from_warehouse)


@router.post("/settlement-check", summary="结算前视频联动校验 / may this pharmacy settle now?")
def settlement_check(request: Request, body: SettlementCheck,
                     principal: Annotated[Principal, Depends(api_principal)]) -> dict:
    """``allowed`` false when the pharmacy's video is offline at that time, or no online interval covers it."""
    from jicai.web.scope import may_see_institution

    data = request.app.state.data

    def regions() -> dict[str, str]:
        inst = data.lookups().institutions
        t = data.execute(inst.filter(inst.kind == "pharmacy").select("institution_code", "region_code"))
        return dict(zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True))

    region = data.memo(("pharmacy_regions",), regions).get(body.pharmacy_code)
    found = region is not None
    # A code that exists nowhere gets the same 404 as one outside the caller's region, unless the caller sees the
    # whole province: otherwise a district bureau could tell which codes exist in other regions. Province-wide
    # users (who see every pharmacy anyway) get the gate's "unknown_pharmacy" answer, which refuses settlement.
    if principal.role not in ("admin", "bureau", "institution") or (
            found and not may_see_institution(principal, body.pharmacy_code, region)) or (
            not found and not principal.province_wide):
        raise HTTPException(404, detail={"zh": "没有该药店或无权查询", "en": "no such pharmacy in your scope"})
    decision = _gate(request).check(body.pharmacy_code, body.at)
    return decision.to_dict()
