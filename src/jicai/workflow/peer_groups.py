"""Peer groups saved per user (自选对比组): the institutions a user ranks its institutions against.

A user names a group ("三级综合医院-省属") and lists institution codes; the measures that rank institutions
(``institution-deciles``, and the cost-per-DDD savings ``ddd-savings`` and its sums by class, institution and
region) then compute against the group instead of the level (``--peers NAME``, ``?peers=NAME``). The rules:

* **who** — bureau users (admin, bureau, a district bureau) and institution users save groups; auditors and
  enterprises do not (an auditor changes nothing; an enterprise sees no institution ranking). A user sees,
  edits and removes only its own groups. A bureau user may mark a group ``shared``: the other regional users
  (admin, bureau, auditor) may then use it by name (``owner/name`` when two owners share one name), never
  change it. Institution users' groups are never shared.
* **an institution user's group** always holds its own institution (added when left out), and at least
  :data:`MIN_OTHERS_FOR_INSTITUTION` other institutions: the figures it sees of the group (count, median, best
  tenth) then rest on five others at least, and scope shows it its own rows only — never another
  institution's name or value.
* **checked input** — a name of 1–40 characters (letters, digits, spaces and ``-_()（）·.``; no ``/``, which
  names a shared group's owner), unique per owner; 1 to :data:`MAX_MEMBERS` members, each an institution code
  the warehouse holds. Every refusal is a bilingual :class:`PeerGroupError`.

Every change is written to the audit log in its own transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jicai.analytics.deciles import PeerGroup
from jicai.contract.roles import REGIONAL, Principal
from jicai.errors import BilingualError
from jicai.workflow.audit import record
from jicai.workflow.db import now
from jicai.workflow.models import PeerGroupRow, User

NAME_MAX = 40
MAX_MEMBERS = 1000  # a province's 三级 hospitals are a few hundred; a group of every institution is the level
MIN_OTHERS_FOR_INSTITUTION = 5
CREATORS = ("admin", "bureau", "institution")
SHARERS = ("admin", "bureau")
_NAME = re.compile(r"^[\w \-()（）·.]+$")
_CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z\-_.]{0,63}$")
_SPLIT = re.compile(r"[\s,;，；、]+")


class PeerGroupError(BilingualError, ValueError):
    """A refused peer group (a bad name or member, a duplicate, a group of someone else)."""


class PeerGroupNotFound(PeerGroupError):
    """No group of this name (or id) the user may use: 404 in the web."""


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise PeerGroupError("对比组名称不能为空", "the peer group needs a name")
    if len(name) > NAME_MAX:
        raise PeerGroupError(f"对比组名称最多 {NAME_MAX} 个字符(现有 {len(name)} 个)",
                             f"a peer group name has at most {NAME_MAX} characters ({len(name)} given)")
    if not _NAME.match(name):
        raise PeerGroupError("对比组名称只能包含文字、数字、空格和 -_()（）·.(不能含 /)",
                             "a peer group name may hold letters, digits, spaces and -_()（）·. only (no /)")
    return name


def parse_members(raw: str | Iterable[str]) -> list[str]:
    """Institution codes from text (separated by spaces, commas, semicolons, 、 or new lines) or a list:
    stripped, in order, each once."""
    items = _SPLIT.split(raw) if isinstance(raw, str) else [str(x) for x in raw]
    codes = list(dict.fromkeys(c.strip() for c in items if c and c.strip()))
    if not codes:
        raise PeerGroupError("对比组至少需要一家机构", "a peer group needs at least one institution")
    if len(codes) > MAX_MEMBERS:
        raise PeerGroupError(f"对比组最多 {MAX_MEMBERS} 家机构(给出 {len(codes)} 家)",
                             f"a peer group holds at most {MAX_MEMBERS} institutions ({len(codes)} given)")
    bad = [c for c in codes if not _CODE.match(c)]
    if bad:
        shown = "、".join(c[:24] for c in bad[:5])
        raise PeerGroupError(f"机构编码格式不正确:{shown}", f"malformed institution codes: {', '.join(c[:24] for c in bad[:5])}")
    return codes


def _checked_members(principal: Principal, raw: str | Iterable[str], known: Mapping[str, Any]) -> list[str]:
    codes = parse_members(raw)
    unknown = [c for c in codes if c not in known]
    if unknown:
        more = f" 等 {len(unknown)} 家" if len(unknown) > 5 else ""
        raise PeerGroupError(f"数据仓库中没有这些机构:{'、'.join(unknown[:5])}{more}",
                             f"institutions not in the warehouse: {', '.join(unknown[:5])}"
                             + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
    if principal.role == "institution":
        others = [c for c in codes if c != principal.scope]
        if len(others) < MIN_OTHERS_FOR_INSTITUTION:
            raise PeerGroupError(
                f"医疗机构的对比组除本机构外至少需要 {MIN_OTHERS_FOR_INSTITUTION} 家机构(现有 {len(others)} 家),"
                "以免从中位值推知其他机构的数据",
                f"an institution's peer group needs at least {MIN_OTHERS_FOR_INSTITUTION} institutions besides its own "
                f"({len(others)} given), so that no other institution's figure can be read off the median")
        codes = [principal.scope, *others]
    return sorted(codes)


def _may_create(principal: Principal) -> None:
    if principal.role not in CREATORS:
        raise PeerGroupError("只有医保局和医疗机构用户可以保存对比组", "only bureau and institution users save peer groups")


def _row_dict(g: PeerGroupRow, owner: str, names: Mapping[str, Any] | None = None, mine: bool = True) -> dict:
    return {"id": g.id, "name": g.name, "owner": owner, "mine": mine, "shared": g.shared, "size": len(g.members),
            "members": [{"institution_code": c, "institution_name": (names or {}).get(c) or ""} for c in g.members],
            "created_at": g.created_at.isoformat(), "updated_at": g.updated_at.isoformat()}


def save(session: Session, principal: Principal, name: str, members: str | Iterable[str], known: Mapping[str, Any],
         *, shared: bool = False, group_id: int | None = None) -> PeerGroupRow:
    """Create a group (``group_id`` None) or replace one of the user's own; ``known``: the warehouse's
    institution codes (→ names)."""
    _may_create(principal)
    name = check_name(name)
    if shared and principal.role not in SHARERS:
        raise PeerGroupError("只有医保局用户可以共享对比组", "only bureau users share peer groups")
    codes = _checked_members(principal, members, known)
    clash = session.scalar(select(PeerGroupRow).where(PeerGroupRow.owner_id == principal.user_id,
                                                      PeerGroupRow.name == name))
    if clash is not None and clash.id != group_id:
        raise PeerGroupError(f"已有同名对比组:{name}", f"you already have a peer group named {name}")
    if group_id is None:
        g = PeerGroupRow(owner_id=principal.user_id, name=name, members=codes, shared=shared, created_at=now(),
                         updated_at=now())
        session.add(g)
        action = "peer_group_add"
    else:
        g = own(session, principal, group_id)
        g.name, g.members, g.shared, g.updated_at = name, codes, shared, now()
        action = "peer_group_update"
    session.flush()
    record(session, action, principal=principal, target=f"peer-group:{g.id}",
           detail={"name": name, "members": len(codes), "shared": shared})
    return g


def own(session: Session, principal: Principal, group_id: int) -> PeerGroupRow:
    """One of the user's own groups by id (another user's is not found: ids do not leak)."""
    g = session.get(PeerGroupRow, group_id)
    if g is None or g.owner_id != principal.user_id:
        raise PeerGroupNotFound("对比组不存在或不属于您", "no such peer group of yours")
    return g


def own_by_name(session: Session, principal: Principal, name: str) -> PeerGroupRow:
    g = session.scalar(select(PeerGroupRow).where(PeerGroupRow.owner_id == principal.user_id,
                                                  PeerGroupRow.name == (name or "").strip()))
    if g is None:
        raise PeerGroupNotFound(f"您没有名为 {str(name)[:NAME_MAX]} 的对比组", f"you have no peer group named {str(name)[:NAME_MAX]}")
    return g


def remove(session: Session, principal: Principal, group: PeerGroupRow) -> None:
    record(session, "peer_group_remove", principal=principal, target=f"peer-group:{group.id}",
           detail={"name": group.name})
    session.delete(group)
    session.flush()


def listing(session: Session, principal: Principal, names: Mapping[str, Any] | None = None) -> list[dict]:
    """The user's own groups, then (regional users) the groups other bureau users share."""
    mine = session.scalars(select(PeerGroupRow).where(PeerGroupRow.owner_id == principal.user_id)
                           .order_by(PeerGroupRow.name)).all()
    out = [_row_dict(g, principal.name, names) for g in mine]
    if principal.role in REGIONAL:
        rows = session.execute(select(PeerGroupRow, User.name).join(User, User.id == PeerGroupRow.owner_id)
                               .where(PeerGroupRow.shared, PeerGroupRow.owner_id != principal.user_id)
                               .order_by(PeerGroupRow.name, User.name)).all()
        out += [_row_dict(g, owner, names, mine=False) for g, owner in rows]
    return out


def resolve(session: Session, principal: Principal, name: str) -> PeerGroup:
    """The members of the group ``name`` for the user asking: its own group of that name, else (regional users)
    a shared one (``owner/name`` to choose between two owners). An institution user's own institution is
    always a member."""
    raw = (name or "").strip()[:NAME_MAX * 2 + 1]
    g = session.scalar(select(PeerGroupRow).where(PeerGroupRow.owner_id == principal.user_id,
                                                  PeerGroupRow.name == raw))
    if g is None and principal.role in REGIONAL:
        q = select(PeerGroupRow).join(User, User.id == PeerGroupRow.owner_id).where(PeerGroupRow.shared)
        owner, _, group = raw.rpartition("/")
        q = q.where(PeerGroupRow.name == group, User.name == owner) if owner else q.where(PeerGroupRow.name == raw)
        found = session.scalars(q).all()
        if len(found) > 1:
            raise PeerGroupError(f"有多个名为 {raw} 的共享对比组,请写作 用户名/{raw}",
                                 f"several shared peer groups are named {raw}: write owner/{raw}")
        g = found[0] if found else None
    if g is None:
        raise PeerGroupNotFound(f"没有名为 {raw} 的对比组(请先保存:jicai peers add 或 /peers 页面)",
                                f"no peer group named {raw} (save one first: jicai peers add, or the /peers page)")
    members = list(g.members)
    if principal.role == "institution":
        others = [c for c in members if c != principal.scope]
        if len(others) < MIN_OTHERS_FOR_INSTITUTION:  # a group saved before the rule, or shrunk by hand
            raise PeerGroupError(f"对比组 {g.name} 除本机构外不足 {MIN_OTHERS_FOR_INSTITUTION} 家机构",
                                 f"peer group {g.name} has fewer than {MIN_OTHERS_FOR_INSTITUTION} other institutions")
        members = [principal.scope, *others]
    return PeerGroup.of(g.name, members)
