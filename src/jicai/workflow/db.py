"""Open the workflow database: ``Workflow.open(url)`` upgrades its schema and hands out sessions.

SQLite by default (a file in the data directory; foreign keys on, WAL so that readers do not block the
writer), PostgreSQL in production (``postgresql+psycopg://`` — ``postgres://`` and ``postgresql://`` URLs are
accepted and given the psycopg 3 driver). Opening runs the Alembic migrations to head, which does nothing
when the schema is current; ``jicai db`` runs them by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from argon2 import PasswordHasher
from sqlalchemy import MetaData, Table, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from jicai import clock

MIGRATIONS = Path(__file__).with_name("migrations")


def now() -> datetime:
    """Local time (Asia/Shanghai), naive — the data contract's convention, kept to the second."""
    return clock.stamp()


def normalize_url(url: str) -> str:
    """``postgres://`` / ``postgresql://`` → ``postgresql+psycopg://`` (psycopg 3); other URLs unchanged."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str) -> Engine:
    u = make_url(normalize_url(url))
    if u.get_backend_name() != "sqlite":
        return create_engine(u, pool_pre_ping=True)
    memory = u.database in (None, "", ":memory:")
    if not memory:
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(u, connect_args={"check_same_thread": False},
                           **({"poolclass": StaticPool} if memory else {}))

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_con, _record) -> None:  # noqa: ANN001
        cur = dbapi_con.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        if not memory:
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA busy_timeout = 5000")
        cur.close()

    return engine


def alembic_config(connection=None) -> Config:  # noqa: ANN001
    """The Alembic configuration, built in code (no alembic.ini at run time)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


class Workflow:
    """The workflow database: an engine, a session factory, and the password hasher of its users."""

    def __init__(self, engine: Engine, hasher: PasswordHasher | None = None) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=True)
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        # argon2id with the library's recommended parameters; tests may swap in a cheaper one. A stored
        # hash made with other parameters is rehashed at the user's next login.
        self.hasher = hasher or PasswordHasher()

    @classmethod
    def open(cls, url: str, *, upgrade: bool = True) -> Workflow:
        wf = cls(make_engine(url))
        if upgrade:
            wf.upgrade()
        return wf

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on an exception."""
        with self.sessions() as s, s.begin():
            yield s

    def close(self) -> None:
        self.engine.dispose()

    # -- migrations ----------------------------------------------------------------------------
    def upgrade(self, revision: str = "head") -> None:
        with self.engine.begin() as con:
            command.upgrade(alembic_config(con), revision)

    def downgrade(self, revision: str) -> None:
        """Downgrade to ``revision``; at ``base`` the version table goes too, leaving an empty database."""
        with self.engine.begin() as con:
            command.downgrade(alembic_config(con), revision)
            if MigrationContext.configure(con).get_current_revision() is None:
                Table("alembic_version", MetaData()).drop(con, checkfirst=True)

    def current(self) -> str | None:
        """The schema's revision (None when the database is empty)."""
        with self.engine.connect() as con:
            return MigrationContext.configure(con).get_current_revision()

    @staticmethod
    def head() -> str:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(alembic_config()).get_current_head()
