"""The login failure budgets, counted in the workflow database (one row per attempt in ``login_attempts``).

Three budgets, all over the same sliding window; an attempt is refused, before any password is checked, when
one of them is spent:

- **name at address** — failures of one name from one client address since that pair's last success (a user
  who mistypes is stopped, and cleared by logging in);
- **address** — failures from one client address, whatever the names (spraying one password over many names);
- **platform** — failures from everywhere (a spray spread over many addresses). When it is spent, logins pause
  for everyone *except* a name at an address it logged in from within ``known_for`` (30 days): an attacker
  with many addresses can pause new logins, but cannot lock the bureau's staff out of their own offices.

Kept in the database, not in memory, so that a restart does not forgive the failures and several server
processes share one count. The check and the count are two statements, not one lock: processes racing each
other may let a few attempts (at most the argon2 concurrency of each) past a budget — a bounded overshoot.
Rows are pruned as attempts are noted: failures once they leave the window, successes after ``known_for``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from jicai.workflow.models import LoginAttempt

KNOWN_FOR = 30 * 86400.0  # seconds a successful login makes its address "known" for its name


@dataclass(frozen=True)
class Budgets:
    name: int  # failures of a name from one address (since its last success)
    address: int  # failures from one address
    platform: int  # failures from everywhere
    window: float  # seconds a failure counts
    known_for: float = KNOWN_FOR


def spent(session: Session, name: str, client: str, now: float, budgets: Budgets) -> str | None:
    """The budget this attempt would exceed — "name", "address" or "platform" — or None."""
    since = now - budgets.window
    failures = select(func.count()).select_from(LoginAttempt).where(LoginAttempt.ok.is_(False),
                                                                     LoginAttempt.at > since)
    last_ok = session.scalar(select(func.max(LoginAttempt.at)).where(
        LoginAttempt.name == name, LoginAttempt.client == client, LoginAttempt.ok.is_(True),
        LoginAttempt.at > now - budgets.known_for))
    pair_since = max(since, last_ok or since)
    if session.scalar(failures.where(LoginAttempt.name == name, LoginAttempt.client == client,
                                     LoginAttempt.at > pair_since)) >= budgets.name:
        return "name"
    if session.scalar(failures.where(LoginAttempt.client == client)) >= budgets.address:
        return "address"
    if last_ok is None and session.scalar(failures) >= budgets.platform:
        return "platform"
    return None


def note(session: Session, name: str, client: str, ok: bool, now: float, budgets: Budgets) -> None:
    """Count an attempt (``name`` already capped to the column's 64 characters) and prune the old rows."""
    session.execute(delete(LoginAttempt).where(or_(
        LoginAttempt.at <= now - budgets.known_for,
        (LoginAttempt.ok.is_(False)) & (LoginAttempt.at <= now - budgets.window))))
    session.add(LoginAttempt(at=now, name=name[:64], client=client[:64], ok=ok))
