"""Revisions of the workflow database, oldest first."""
