"""Opening the workflow database for the commands that manage it (``jicai db``, ``jicai users``)."""

from __future__ import annotations

import typer

from jicai.console import fail, fail_with

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
        fail(f"无法打开工作流数据库:{exc}", f"cannot open the workflow database: {exc}")
