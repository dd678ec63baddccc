"""Page sessions kept in the workflow database, so that ending one ends it everywhere at once.

The session cookie is signed, but a signature cannot be taken back: without a row here a copied cookie would
work until it expired. So a session is valid only while its row exists and has not expired. Logout deletes the
row; a password change or disabling the user deletes every row of the user (:mod:`jicai.workflow.users`); a
new login prunes the rows past their expiry. Only the SHA-256 of the random session id is stored: a copy of
the table (a backup, a read-only account) logs nobody in. Times are epoch seconds, the web clock's.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from jicai.workflow.models import User, WebSession


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def open_session(session: Session, user: User, sid: str, now: float, max_age: float) -> None:
    """Record a new session ``sid`` of ``user`` valid for ``max_age`` seconds (and prune the expired ones)."""
    session.execute(delete(WebSession).where(WebSession.expires <= now))
    session.add(WebSession(sid_hash=_hash(sid), user_id=user.id, created=now, expires=now + max_age))


def is_open(session: Session, sid: str, user_id: int, now: float) -> bool:
    """Whether session ``sid`` of user ``user_id`` is still open (its row exists and has not expired)."""
    row = session.scalar(select(WebSession.id).where(WebSession.sid_hash == _hash(sid),
                                                     WebSession.user_id == user_id, WebSession.expires > now))
    return row is not None


def close_session(session: Session, sid: str) -> None:
    session.execute(delete(WebSession).where(WebSession.sid_hash == _hash(sid)))


def close_all(session: Session, user_id: int) -> int:
    """End every session of ``user_id``; returns how many were open."""
    return session.execute(delete(WebSession).where(WebSession.user_id == user_id)).rowcount or 0
