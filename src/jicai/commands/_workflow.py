"""Opening the workflow database for the commands that manage it (``jicai db``, ``jicai users``, ``jicai
mapping``), and the warehouse service the workflow asks for, for a command (:class:`DirectWarehouse`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import typer

from jicai.commands._runner import open_warehouse
from jicai.console import fail, fail_with, out
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


class DirectWarehouse:
    """The warehouse service the workflow asks for (:class:`jicai.workflow.warehouse.WarehouseService`), for a
    command: each call opens the warehouse itself (to read, or to write)."""

    generation = 0

    def __init__(self, settings: Any):
        self.settings = settings

    def run(self, fn: Callable[[Any], Any]) -> Any:
        with open_warehouse(self.settings, "read") as wh:
            return fn(wh)

    def write(self, fn: Callable[[Any], Any]) -> Any:
        with open_warehouse(self.settings, "write") as wh:
            return fn(wh)


def deliver(wf: Any, settings: Any) -> Any:
    """Apply the warehouse writes the workflow's decisions owe (:mod:`jicai.workflow.outbox`); a failure is said
    (the decisions stand, and ``jicai db reconcile --repair`` or the server applies them later)."""
    from jicai.workflow.outbox import apply_pending

    done = apply_pending(wf, DirectWarehouse(settings).write)
    if done.error:
        out.print(f"决定已保存,但尚未写入数据仓库(稍后重试,或运行 jicai db reconcile --repair):{done.error}\n"
                  f"the decision is saved but not yet in the warehouse (retried later, or run jicai db reconcile "
                  f"--repair): {done.error}")
    return done


@contextlib.contextmanager
def workflow_session(ctx: typer.Context, url: str | None, *, decides: bool = False) -> Iterator[tuple[Any, Any]]:
    """``(workflow, session)`` of one transaction; a refused change (a BilingualError) exits in both languages,
    and the database is closed whatever happens. ``decides``: after the commit, the warehouse writes the
    decisions owe are applied (:func:`deliver`)."""
    wf = open_workflow(ctx, url)
    try:
        with wf.session() as s:
            yield wf, s
        if decides:
            deliver(wf, ctx.obj)
    except BilingualError as exc:
        fail_with(exc)
    finally:
        wf.close()
