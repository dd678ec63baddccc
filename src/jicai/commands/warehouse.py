"""``jicai warehouse copy --to URL``: move every table of the current warehouse to another engine (DuckDB →
PostgreSQL → Spark Connect and back), streamed, each table verified by row count and checksum and published
whole, resumable (how: jicai.store.copy; the upgrade path: docs/operations.md, "Moving a warehouse")."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import typer

from jicai.console import console, fail, fail_with, out, table
from jicai.errors import BilingualError


def _same_warehouse(a: str, b: str) -> bool:
    """Whether URLs ``a`` and ``b`` name one warehouse (``sc://`` ones are told apart by their lakes, once open)."""
    if a.startswith("sc://") or b.startswith("sc://"):
        return False
    if a.startswith("duckdb://") and b.startswith("duckdb://"):
        pa, pb = urlparse(a).path, urlparse(b).path
        return pa not in ("", "/", ":memory:") and Path(pa).resolve() == Path(pb).resolve()
    return a.rstrip("/") == b.rstrip("/")


def _open_destination(url: str, lake: str | None):
    from jicai.store import connect
    from jicai.store.copy import redact

    shown = redact(url)
    try:
        return connect(url, "write", **({"lake": lake} if lake else {}))
    except BilingualError as exc:
        fail_with(exc)
    except ValueError as exc:  # an unknown scheme: the store's message is already bilingual
        fail(f"目标数据仓库地址无效:{shown}", f"invalid destination warehouse URL: {shown}", detail=str(exc))
    except Exception as exc:  # noqa: BLE001 - a server down, a wrong password, a folder not writable
        fail(f"无法打开目标数据仓库 {shown}:请检查地址、服务器是否在运行、用户名密码与权限",
             f"cannot open the destination warehouse {shown}: check the URL, that its server is running, the user, "
             f"password and permissions", detail=str(exc).strip())


def register(app: typer.Typer) -> None:
    wh_app = typer.Typer(help="数据仓库的迁移 / moving the warehouse between engines.", no_args_is_help=True)
    app.add_typer(wh_app, name="warehouse")

    @wh_app.command("copy")
    def copy_cmd(
        ctx: typer.Context,
        to: str = typer.Option(..., "--to", help="目标数据仓库地址 / destination warehouse URL (duckdb:///…, "
                                                 "postgres://…, sc://host:15002)"),
        to_lake: str | None = typer.Option(None, "--to-lake", help="目标为 sc:// 时的数据湖(缺省:地址中的 ;lake= "
                                                                   "或 JICAI_LAKE)/ the lake of an sc:// destination "
                                                                   "(default: the URL's ;lake=, else JICAI_LAKE)"),
        tables: str | None = typer.Option(None, "--tables", help="只复制这些表(逗号分隔;缺省:全部)/ only these "
                                                                 "tables, comma-separated (default: all)"),
        resume: bool = typer.Option(False, "--resume", help="继续被中断的复制:跳过已复制并校验的表 / go on with "
                                                            "an interrupted copy: skip the tables already copied "
                                                            "and verified"),
    ) -> None:
        """复制数据仓库的全部表到另一引擎(逐表校验行数与校验和,可续传)/ copy every table of the warehouse to
        another engine, each verified by row count and checksum; resumable."""
        from jicai.commands._runner import open_warehouse
        from jicai.store.copy import CopyError, TableCopy, copy_warehouse, redact
        from jicai.store.copy_engines import destination_for

        settings = ctx.obj
        if _same_warehouse(settings.warehouse_url, to):
            fail(f"目标与当前数据仓库相同:{redact(to)}", f"the destination is the current warehouse: {redact(to)}")
        names = [t.strip() for t in tables.split(",") if t.strip()] if tables else None
        with open_warehouse(settings, "read") as src:
            if names is None and not src.list_tables():
                fail(f"当前数据仓库没有表:{redact(src.url)}(请先 jicai import)",
                     f"the current warehouse has no tables: {redact(src.url)} (run jicai import first)")
            dst = _open_destination(to, to_lake)
            try:
                if getattr(src, "uses_lake", False) and getattr(dst, "uses_lake", False) \
                        and src.lake.spark_uri("tables") == dst.lake.spark_uri("tables"):
                    fail(f"目标与当前数据仓库使用同一数据湖:{dst.lake.url}(用 --to-lake 指定另一个)",
                         f"the destination uses the current warehouse's lake: {dst.lake.url} (give another with "
                         f"--to-lake)")
                if not destination_for(dst).streamed:
                    fail(f"不能复制到 {redact(to)}(进程内会话,随命令结束):请复制到 DuckDB、PostgreSQL 或 sc://",
                         f"cannot copy into {redact(to)} (an in-process session that ends with the command): copy "
                         f"to DuckDB, PostgreSQL or sc://")
                console.print(f"复制 / copying {redact(src.url)} → {redact(to)}")
                current = {"table": ""}
                status = console.status("")

                def on_rows(name: str, rows: int) -> None:
                    current["table"] = name
                    status.update(f"{name}: {rows:,} 行 / rows…")

                def on_table(t: TableCopy) -> None:
                    if t.skipped:
                        console.print(f"  {t.name}: {t.rows:,} 行 / rows,已复制过,跳过 / copied before, skipped")
                        return
                    rate = t.rows / t.seconds if t.seconds > 0 else 0.0
                    console.print(f"  {t.name}: {t.rows:,} 行 / rows,{t.seconds:.1f} s,{rate:,.0f} 行/秒 / rows/s,"
                                  f"已校验 / verified")

                try:
                    with status:
                        results = copy_warehouse(src, dst, names, resume=resume, on_rows=on_rows, on_table=on_table)
                except CopyError as exc:
                    fail_with(exc)
                except Exception as exc:  # noqa: BLE001 - the destination lost mid-copy, a disk full
                    where = current["table"] or "?"
                    fail(f"复制表 {where} 时出错;已完成的表已记录,排除故障后加 --resume 重新运行即可继续",
                         f"the copy failed at table {where}; the tables done are recorded: fix the cause and run "
                         f"again with --resume to go on", detail=str(exc).strip())
            finally:
                dst.close()
        _summary(results)
        out.print(f"复制完成并逐表校验 / copied and verified, table by table: {redact(to)}")
        lake = f" JICAI_LAKE='{to_lake}'" if to_lake else ""
        out.print(f"  切换到新数据仓库 / to use it: export JICAI_WAREHOUSE_URL='{redact(to)}'{lake}")


def _summary(results) -> None:
    t = table("表 / table", "行数 / rows", "校验和 / checksum", "秒 / seconds", "状态 / status",
              title="复制结果 / copy summary")
    for r in results:
        status = "跳过(此前已复制)/ skipped (copied before)" if r.skipped else "已复制并校验 / copied, verified"
        t.add_row(r.name, f"{r.rows:,}", r.checksum, f"{r.seconds:.1f}", status)
    out.print(t)
