"""Alembic migrations of the workflow database (a package so that the revisions ship in the wheel)."""
