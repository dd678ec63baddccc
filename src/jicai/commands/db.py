"""``jicai db``: the workflow database's schema — upgrade to the newest, downgrade, show the current revision —
and ``jicai db facts``: rebuild the warehouse's compact facts from every order line.

The server upgrades the schema itself when it starts; run ``jicai db upgrade`` by hand in production before
starting several workers, and ``jicai db current`` to see where a database stands.
"""

from __future__ import annotations

import typer

from jicai.commands._workflow import URL, open_workflow
from jicai.console import fail, out


def register(app: typer.Typer) -> None:
    db_app = typer.Typer(help="工作流数据库结构 / the workflow database's schema (Alembic migrations).",
                         no_args_is_help=True)
    app.add_typer(db_app, name="db")

    def _run(ctx: typer.Context, url: str | None, action: str, revision: str) -> None:
        wf = open_workflow(ctx, url, upgrade=False)
        try:
            before = wf.current()
            getattr(wf, action)(revision)
            after = wf.current()
        except Exception as exc:  # noqa: BLE001
            fail("迁移失败", "migration failed", detail=str(exc))
        finally:
            wf.close()
        out.print(f"{wf.url}: {before or '(空 / empty)'} → {after or '(空 / empty)'}")

    @db_app.command("upgrade")
    def upgrade_cmd(ctx: typer.Context, revision: str = typer.Argument("head", help="目标版本 / target revision"),
                    url: str | None = URL) -> None:
        """升级到最新(或指定)版本 / upgrade to the newest (or the given) revision."""
        _run(ctx, url, "upgrade", revision)

    @db_app.command("downgrade")
    def downgrade_cmd(ctx: typer.Context,
                      revision: str = typer.Argument(..., help="目标版本,base 为清空 / target revision (base = empty)"),
                      yes: bool = typer.Option(False, "--yes", help="确认(降级会删除表和数据) / confirm: a downgrade "
                                                                    "drops tables and their rows"),
                      url: str | None = URL) -> None:
        """降级到指定版本 / downgrade to a revision (drops what later revisions added)."""
        if not yes:
            fail("降级会删除表和数据,请加 --yes 确认", "a downgrade drops tables and their rows: add --yes to confirm")
        _run(ctx, url, "downgrade", revision)

    @db_app.command("current")
    def current_cmd(ctx: typer.Context, url: str | None = URL) -> None:
        """当前版本 / the database's current revision and the newest one."""
        from jicai.workflow import Workflow

        wf = open_workflow(ctx, url, upgrade=False)
        try:
            current = wf.current()
        finally:
            wf.close()
        head = Workflow.head()
        state = "最新 / up to date" if current == head else "需升级 / needs upgrade (jicai db upgrade)"
        out.print(f"{wf.url}: {current or '(空 / empty)'} (head {head}) {state}")

    @db_app.command("facts")
    def facts_cmd(ctx: typer.Context) -> None:
        """重建数据仓库的紧凑事实表 / rebuild the warehouse's compact facts from every order line.

        导入会在同一事务中维护它们；仅当原始表由其他方式写入后才需要重建。/ Imports keep them in the same
        transaction; rebuild only after the raw tables were written some other way."""
        from jicai.ingest import facts

        with ctx.obj.warehouse("write") as wh:
            facts.rebuild(wh)
            rows = {f.name: wh.table(f.name).count().to_pyarrow().as_py() for f in facts.FACTS}
        for name, n in rows.items():
            out.print(f"{name}: {n:,} 行 / rows")
