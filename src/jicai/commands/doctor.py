"""``jicai doctor``: check a data directory's health — disk, lock, schemas, facts, secret, memory, PostgreSQL —
and say what to do (the checks: jicai.commands._checks; the thresholds: docs/operations.md).

Exit status, for a monitoring system to read: 0 when every check is 正常 (OK), 1 when the worst is 警告
(a warning), 2 when any is 错误 (an error).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from jicai.commands import _checks as checks
from jicai.console import out

STATUS = {"ok": ("正常", "OK"), "warn": ("警告", "WARNING"), "error": ("错误", "ERROR")}
EXIT = {"ok": 0, "warn": 1, "error": 2}


def run_checks(place: checks.Place) -> list[checks.Check]:
    from jicai.store import connect

    def opener():
        return connect(place.warehouse_url, "read", timeout=checks.LOCK_PEEK)

    return [checks.disk(place), checks.lock(place), *checks.warehouse(place, opener), checks.workflow(place),
            checks.secret(place), checks.memory(place), checks.postgres(place)]


def register(app: typer.Typer) -> None:
    @app.command("doctor")
    def doctor_cmd(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="以 JSON 输出(供监控系统读取)/ print JSON (for a "
                                                           "monitoring system)"),
    ) -> None:
        """体检:磁盘、锁、数据结构、事实表、密钥、内存、PostgreSQL / check disk, lock, schemas, facts, secret,
        memory and PostgreSQL, and say what to do."""
        from jicai.web.config import default_workflow_url

        settings = ctx.obj
        env = dict(os.environ)
        place = checks.Place(Path(settings.data_dir), settings.warehouse_url,
                             env.get("JICAI_WORKFLOW_URL") or default_workflow_url(settings.data_dir), env)
        found = run_checks(place)
        worst = max((c.status for c in found), key=EXIT.__getitem__)
        if as_json:
            out.print_json(json.dumps({"status": worst, "checks": [vars(c) for c in found]}, ensure_ascii=False))
        else:
            for c in found:
                zh, en = STATUS[c.status]
                out.print(f"{zh} / {en:<7} {c.name_zh} / {c.name_en}:{c.zh} / {c.en}", markup=False)
                if c.todo_zh:
                    out.print(f"    → 处理 / to do:{c.todo_zh} / {c.todo_en}", markup=False)
            zh, en = STATUS[worst]
            out.print(f"结论 / verdict: {zh} / {en}({sum(c.status != 'ok' for c in found)} 项需处理 / to act on)",
                      markup=False)
        raise typer.Exit(EXIT[worst])
