"""``jicai db``: the workflow database's schema — upgrade to the newest, downgrade, show the current revision —,
``jicai db facts``: rebuild the warehouse's compact facts from every order line, and ``jicai db reconcile``:
compare the workflow's decisions with the warehouse (and repair).

The server upgrades the schema itself when it starts; run ``jicai db upgrade`` by hand in production before
starting several workers, and ``jicai db current`` to see where a database stands.
"""

from __future__ import annotations

import typer

from jicai.commands._workflow import URL, DirectWarehouse, open_workflow
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

    @db_app.command("reconcile")
    def reconcile_cmd(ctx: typer.Context, repair: bool = typer.Option(
            False, "--repair", help="把差异写回数据仓库 / write the decisions' rows back into the warehouse"),
            url: str | None = URL) -> None:
        """核对工作流的决定与数据仓库 / compare the workflow's decisions with the warehouse.

        列出缺少、不一致和多出的行(供应问题、特殊品种认定、对码);--repair 按决定修复。仍有差异时退出码为 1。/
        Lists rows missing, different or extra (supply problems, exemptions, mappings); --repair applies the
        decisions. Exits 1 while differences remain."""
        from jicai.workflow.outbox import pending
        from jicai.workflow.reconcile import differences
        from jicai.workflow.reconcile import repair as fix

        wf = open_workflow(ctx, url)
        direct = DirectWarehouse(ctx.obj)
        try:
            with wf.session() as s:
                found = differences(s, direct.run)
                owed = pending(s)
            _say(found, owed)
            if repair and (found or owed):
                done = fix(wf, found, direct.write)
                if done.error:
                    out.print(f"修复失败(数据仓库写入出错):{done.error} / repair failed (the warehouse write "
                              f"failed): {done.error}")
                with wf.session() as s:
                    found = differences(s, direct.run)
                    owed = pending(s)
                out.print("修复后 / after the repair:")
                _say(found, owed)
        finally:
            wf.close()
        if found or owed:
            raise typer.Exit(1)


def _say(found: list, owed: int) -> None:
    for d in found:
        zh, en = d.text()
        out.print(f"{zh} / {en}", markup=False)
    if owed:
        out.print(f"另有 {owed} 项决定尚未写入数据仓库 / {owed} decision write(s) not yet applied to the warehouse")
    if not found and not owed:
        out.print("工作流的决定与数据仓库一致 / the workflow's decisions and the warehouse agree")
    else:
        out.print(f"共 {len(found)} 处差异 / {len(found)} difference(s); 用 --repair 修复 / --repair fixes them")
