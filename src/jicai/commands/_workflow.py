"""Opening the workflow database for the commands that manage it (``jicai db``, ``jicai users``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import typer

from jicai.console import fail, fail_with
from jicai.errors import BilingualError

URL = typer.Option(None, "--url", help="工作流数据库地址 / workflow database URL (default: JICAI_WORKFLOW_URL or SQLite "
                                      "in the data directory)")


def open_workflow(ctx: typer.Context, url: str | None, upgrade: bool = True):
    """The workflow database at ``url`` (else the configured one), or a bilingual exit saying why not.

    ``upgrade``: bring its schema to the head first (``jicai db`` manages the schema itself and passes False).
    """
    from jicai.web.config import ConfigError, WebConfig
    from jicai.workflow import Workflow

    if not url:
        try:
            url = WebConfig.resolve(ctx.obj).workflow_url
        except ConfigError as exc:
            fail_with(exc)
    try:
        return Workflow.open(url, upgrade=upgrade)
    except Exception as exc:  # noqa: BLE001 — any driver error: say which database and why
        fail("无法打开工作流数据库", "cannot open the workflow database", detail=str(exc))


@contextlib.contextmanager
def workflow_session(ctx: typer.Context, url: str | None) -> Iterator[tuple[Any, Any]]:
    """``(workflow, session)`` of one transaction; a refused change (a BilingualError) exits in both languages,
    and the database is closed whatever happens."""
    wf = open_workflow(ctx, url)
    try:
        with wf.session() as s:
            yield wf, s
    except BilingualError as exc:
        fail_with(exc)
    finally:
        wf.close()
