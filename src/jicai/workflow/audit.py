"""The audit log: one row per write (and per login, refusal and export), in the writer's own transaction —
a decision without its audit row cannot be committed, and a failed decision leaves no audit row."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from jicai.contract.roles import Principal
from jicai.workflow.db import now
from jicai.workflow.models import AuditEntry


def record(session: Session, action: str, *, principal: Principal | None = None, user_name: str = "",
           role: str = "", target: str = "", region_code: str = "", detail: dict[str, Any] | None = None,
           client: str = "") -> AuditEntry:
    """Add an audit row to ``session`` (committed with the rest of the transaction)."""
    entry = AuditEntry(
        at=now(), user_name=principal.name if principal else user_name, role=principal.role if principal else role,
        action=action, target=target[:128], region_code=region_code or "", detail=_jsonable(detail or {}),
        client=(client or "")[:64],
    )
    session.add(entry)
    return entry


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return v.isoformat() if hasattr(v, "isoformat") else str(v)
