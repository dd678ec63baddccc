"""Alembic environment of the workflow database, run programmatically by :mod:`jicai.workflow.db`.

No alembic.ini: the caller puts an open connection in ``config.attributes["connection"]``. SQLite gets
batch mode (it cannot alter a table in place); on PostgreSQL an advisory lock serialises the upgrade, so
that several workers starting at once do not race to create the same tables.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from jicai.workflow.models import Base

# any constant: the lock only has to be the same in every jicai process
PG_MIGRATION_LOCK = 0x6A696361


def run() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_MIGRATION_LOCK})
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("the workflow migrations run online only (jicai db upgrade)")
run()
