"""Users of the platform: creating, disabling and authenticating them.

A user has one role (admin, bureau, institution, enterprise, auditor) and a scope: a region-code prefix for
the regional roles (blank = the whole province), an institution code (H/P + region + 5 digits) for an
institution, a unified social credit code for an enterprise. Passwords are argon2id hashes; a hash made with
other parameters than the workflow's hasher is replaced at the next successful login. Changing a password or
disabling a user bumps ``session_version``, which ends every API token issued before, and deletes the user's
page sessions (:mod:`jicai.workflow.sessions`), which ends them on every server process at once.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from jicai.contract.codes import PROVINCE_PREFIXES, institution_problem, uscc_problem
from jicai.contract.roles import REGIONAL, ROLES, Principal
from jicai.errors import BilingualError
from jicai.workflow.audit import record
from jicai.workflow.db import Workflow, now
from jicai.workflow.models import User
from jicai.workflow.sessions import close_all

MIN_PASSWORD = 8
_NAME = re.compile(r"^[\w.@-]{1,64}$")


class UserError(BilingualError, ValueError):
    """A refused user change, with the reason in Chinese and English."""


def scope_problem(role: str, scope: str) -> tuple[str, str] | None:
    """Why ``scope`` does not fit ``role`` (zh, en), or None."""
    if role not in ROLES:
        return (f"未知角色 {role!r},应为 {'/'.join(ROLES)}", f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if role == "institution":
        if not scope:
            return ("医疗机构用户须指定机构编码(--scope)", "an institution user needs its institution code (--scope)")
        return institution_problem(scope)
    if role == "enterprise":
        if not scope:
            return ("企业用户须指定统一社会信用代码(--scope)", "an enterprise user needs its USCC (--scope)")
        return uscc_problem(scope)
    assert role in REGIONAL
    if scope and not (scope.isdigit() and len(scope) in (2, 4, 6) and scope[:2] in PROVINCE_PREFIXES):
        return ("区域范围应为行政区划代码前缀(2、4 或 6 位数字,如 35、3505)",
                "a regional scope is a region-code prefix of 2, 4 or 6 digits (e.g. 35, 3505)")
    return None


def password_problem(password: str) -> tuple[str, str] | None:
    if len(password) < MIN_PASSWORD:
        return (f"密码至少 {MIN_PASSWORD} 个字符", f"the password needs at least {MIN_PASSWORD} characters")
    return None


def _check(name: str, role: str, scope: str, password: str) -> None:
    if not _NAME.match(name):
        raise UserError("用户名为 1–64 个字母、数字、汉字或 . @ - _", "a user name is 1–64 letters, digits, . @ - _")
    for problem in (scope_problem(role, scope), password_problem(password)):
        if problem:
            raise UserError(*problem)


def could_be_name(name: str) -> bool:
    """Whether ``name`` has the form every user name has (a login with another cannot match anyone)."""
    return bool(_NAME.match(name))


def find_user(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


def add_user(workflow: Workflow, session: Session, name: str, role: str, scope: str, password: str, *,
             actor: str = "cli") -> User:
    """Create a user (refused if the name is taken or the role, scope or password does not fit)."""
    scope = (scope or "").strip()
    _check(name, role, scope, password)
    if find_user(session, name) is not None:
        raise UserError(f"用户 {name} 已存在", f"user {name} already exists")
    user = User(name=name, password_hash=workflow.hasher.hash(password), role=role, scope=scope, active=True,
                session_version=1, created_at=now())
    session.add(user)
    session.flush()
    record(session, "user.add", user_name=actor, target=f"user:{name}", detail={"role": role, "scope": scope})
    return user


def ensure_user(workflow: Workflow, name: str, role: str, scope: str, password: str, *, actor: str = "demo") -> User:
    """The user ``name`` with this role, scope and password, active — created or updated (for the demo)."""
    scope = (scope or "").strip()
    _check(name, role, scope, password)
    with workflow.session() as s:
        user = find_user(s, name)
        if user is None:
            return add_user(workflow, s, name, role, scope, password, actor=actor)
        changed = (user.role, user.scope, user.active) != (role, scope, True) or not _verify(
            workflow.hasher, user.password_hash, password)
        if changed:
            user.role, user.scope, user.active = role, scope, True
            user.password_hash = workflow.hasher.hash(password)
            user.session_version += 1
            close_all(s, user.id)
            record(s, "user.update", user_name=actor, target=f"user:{name}", detail={"role": role, "scope": scope})
        return user


def set_password(workflow: Workflow, session: Session, name: str, password: str, *, actor: str = "cli") -> User:
    user = _existing(session, name)
    if problem := password_problem(password):
        raise UserError(*problem)
    user.password_hash = workflow.hasher.hash(password)
    user.session_version += 1
    close_all(session, user.id)
    record(session, "user.passwd", user_name=actor, target=f"user:{name}")
    return user


def disable_user(session: Session, name: str, *, actor: str = "cli") -> User:
    user = _existing(session, name)
    user.active = False
    user.session_version += 1
    close_all(session, user.id)
    record(session, "user.disable", user_name=actor, target=f"user:{name}")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def _existing(session: Session, name: str) -> User:
    user = find_user(session, name)
    if user is None:
        raise UserError(f"用户 {name} 不存在", f"no user named {name}")
    return user


_dummy: dict[int, str] = {}


def authenticate(workflow: Workflow, session: Session, name: str, password: str) -> User | None:
    """The active user with this name and password, else None. Rehashes an outdated hash.

    An unknown name costs one full verification too (against a dummy hash made with the same parameters), so
    that the answer's timing does not tell which names exist. That is affordable because the web calls this
    only under its argon2 concurrency limit and after the failure budgets (:mod:`jicai.web.auth`): the cost
    of a flood of unknown names is bounded by those, not by skipping the hash."""
    user = find_user(session, name)
    if user is None:
        hasher = workflow.hasher
        dummy = _dummy.setdefault(id(hasher), hasher.hash("jicai-no-such-user"))
        _verify(hasher, dummy, password)
        return None
    if not _verify(workflow.hasher, user.password_hash, password) or not user.active:
        return None
    if workflow.hasher.check_needs_rehash(user.password_hash):
        user.password_hash = workflow.hasher.hash(password)
    return user


def _verify(hasher: PasswordHasher, stored: str, password: str) -> bool:
    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def principal_of(user: User) -> Principal:
    return Principal(user_id=user.id, name=user.name, role=user.role, scope=user.scope)


def active_user(session: Session, user_id: int, session_version: int) -> User | None:
    """The user a session or token names, if still active and not re-keyed since it was issued."""
    user = session.get(User, user_id)
    if user is None or not user.active or user.session_version != session_version:
        return None
    return user
