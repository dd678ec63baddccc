"""``jicai import`` (load files and folders) and ``jicai quarantine`` (list the rows that were rejected)."""

from __future__ import annotations

import csv
import errno
import json
import sys
from pathlib import Path
from typing import NoReturn

import ibis
import typer
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table as RichTable
from rich.text import Text

from jicai.commands._runner import open_warehouse
from jicai.console import console, fail, fail_with, out
from jicai.console import table as result_table
from jicai.errors import BilingualError
from jicai.ingest import QUARANTINE, LoadResult, import_paths
from jicai.ingest.readers import clean_message
from jicai.ingest.schema import table_schema
from jicai.reports.tabular import csv_safe

IMPORT_HELP = "\n\n".join([
    "导入平台导出文件（CSV/XLSX/Parquet）/ import platform exports.",
    "每个文件在一个事务中导入：问题行被隔离（用 jicai quarantine 查看），其余行导入，主键相同的已有行被替换。"
    "再次导入内容相同（SHA-256 相同）的文件：若上次导入未隔离任何行，或此后仓库未导入任何新数据，则为“未变化”，"
    "不做任何事；否则重新校验并导入——例如先导入了订单、后导入医疗机构，再次导入同一订单文件，"
    "此前因医疗机构不存在而被隔离的行即可导入。该文件此前的隔离行被本次结果替换（隔离表只显示当前问题，"
    "每次导入都记录在 _load_log）。--force 总是重新校验。",
    "Each file loads in one transaction: bad rows are quarantined (list them with jicai quarantine), the "
    "others load, replacing existing rows with the same key. Importing the same bytes (same SHA-256) again "
    "is a no-op (\"unchanged\") when the earlier load quarantined nothing or nothing has been loaded into "
    "the warehouse since; otherwise the file is re-validated and re-loaded: e.g. orders imported before "
    "institutions: import the institutions, then the same orders file again, and the orders quarantined "
    "for unknown institutions load. The file's earlier quarantine rows are replaced by this run's (the "
    "quarantine shows current problems; every attempt stays in _load_log). --force always re-validates.",
])

STATUS_ZH = {"loaded": "已导入", "unchanged": "未变化", "failed": "失败"}


class RowsColumn(ProgressColumn):
    """``1,234,567 / 10,000,000 行 rows  812,345 行/秒 rows/s`` (the total is an estimate until every file is read)."""

    def render(self, task: Task) -> Text:
        total = f"{int(task.total):,}" if task.total is not None else "?"
        speed = f"{task.speed:,.0f}" if task.speed else "–"
        return Text(f"{int(task.completed):,} / {total} 行 rows  {speed} 行/秒 rows/s")


def row_progress() -> Progress:
    """The import's bar on stderr: rows done, rows per second, time left (silent when stderr is not a terminal)."""
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), RowsColumn(), TimeElapsedColumn(),
                    TextColumn("剩余 left"), TimeRemainingColumn(), console=console, transient=True,
                    disable=not console.is_terminal, speed_estimate_period=10)


def summary(results: list[LoadResult]) -> RichTable:
    t = result_table(title="导入结果 / import summary")
    for h in ("文件 file", "表 table", "状态 status", "读取 read", "导入 loaded", "隔离 quarantined"):
        t.add_column(h, justify="right" if h[0] in "读导隔" else "left", overflow="fold")
    for r in results:
        color = {"loaded": "green", "unchanged": "cyan", "failed": "red"}[r.status]
        t.add_row(r.file.name, r.table or "?", f"[{color}]{STATUS_ZH[r.status]} {r.status}[/{color}]",
                  f"{r.rows_read:,}", f"{r.rows_loaded:,}", f"{r.rows_quarantined:,}")
    return t


def _details(r: LoadResult) -> None:
    for m in r.messages:
        console.print(f"  {r.file.name}: {m}")
    for p in r.problems[:10]:
        where = " ".join(x for x in (f"工作表 {p.sheet}" if p.sheet else "", f"第{p.row}行 row {p.row}" if p.row else "",
                                     f"列 column {p.column}" if p.column else "") if x)
        console.print(f"    [yellow]{where}[/yellow] {p.value or ''}: {p.reason_zh} / {p.reason_en}")


def import_cmd(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="文件或文件夹 / files or folders"),
    table: str = typer.Option(None, "--table", help="目标表（默认按文件名）/ target table (default: from the file name)"),
    strict: bool = typer.Option(False, "--strict", help="有任何问题行则不导入该文件 / load nothing from a file with a bad row"),
    force: bool = typer.Option(False, "--force", help="即使内容未变也重新校验并导入 / re-validate and re-load even "
                                                      "a file reported unchanged"),
    hidden_sheets: bool = typer.Option(False, "--hidden-sheets", help="也导入 Excel 中隐藏的工作表（默认跳过并提示）/ "
                                                                      "also import an Excel workbook's hidden sheets "
                                                                      "(skipped with a warning by default)"),
) -> None:
    """导入平台导出文件（CSV/XLSX/Parquet）/ import platform exports (help: IMPORT_HELP)."""
    for p in paths:
        if not p.exists():
            fail(f"路径不存在：{p}", f"no such file or folder: {p}")
    with open_warehouse(ctx.obj, "write") as wh:
        try:
            with row_progress() as bar:
                results = import_paths(wh, paths, table=table, strict=strict, progress=bar, force=force,
                                       hidden_sheets=hidden_sheets)
        except BilingualError as e:  # a lock not had in time (another import, jicai serve writing), a bad setting
            fail_with(e)
        except ValueError as e:  # a message already in both languages ("中文 / English"): printed once
            fail(str(e), str(e))
        except OSError as e:  # the disk is full, a temporary file cannot be written
            disk_failure(e)
        except Exception as e:  # noqa: BLE001 — an engine error (out of memory, disk full): no traceback
            # a Spark job or the Connect channel failing mid-import is an engine error too (pyspark.errors)
            if type(e).__module__.split(".")[0] not in ("duckdb", "_duckdb", "psycopg", "pyspark"):
                raise
            if "No space left" in str(e) or "Disk full" in str(e):
                disk_failure(e)
            fail("数据仓库出错，导入中止。出错文件的事务已回滚，之前的文件已导入；处理后重新运行同一命令即可（已导入的文件会显示“未变化”）",
                 "the warehouse failed and the import stopped. The failing file's transaction was rolled back, "
                 "the files before it are loaded; fix the cause and run the same command again (loaded files "
                 "report 'unchanged')", detail=clean_message(e))
    out.print(summary(results))
    for r in results:
        _details(r)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


def disk_failure(e: BaseException) -> NoReturn:
    """The import stopped on the operating system's error (a full disk, most often): what to do, no traceback."""
    full = isinstance(e, OSError) and e.errno == errno.ENOSPC or "No space left" in str(e) or "Disk full" in str(e)
    if full:
        fail("磁盘空间不足，导入中止：出错文件的事务已回滚，之前的文件已导入。请释放数据目录和临时目录（TMPDIR）所在磁盘的空间，"
             "然后重新运行同一命令（已导入的文件会显示“未变化”）",
             "the disk is full and the import stopped: the failing file's transaction was rolled back, the files "
             "before it are loaded. Free space on the disk of the data directory and of the temporary directory "
             "(TMPDIR), then run the same command again (loaded files report 'unchanged')")
    why = e.strerror if isinstance(e, OSError) and e.strerror else type(e).__name__
    fail(f"操作系统错误，导入中止：{why}。出错文件的事务已回滚，之前的文件已导入；处理后重新运行同一命令即可",
         f"the operating system failed and the import stopped: {why}. The failing file's transaction was rolled "
         f"back, the files before it are loaded; fix the cause and run the same command again")


def quarantine_cmd(
    ctx: typer.Context,
    table: str = typer.Option(None, "--table", help="只看该表 / only this table"),
    file: str = typer.Option(None, "--file", help="文件路径或文件名 / file path or name"),
    limit: int = typer.Option(100, "--limit", help="最多行数 / at most this many rows"),
    fmt: str = typer.Option("table", "--format", help="table | csv | json"),
) -> None:
    """列出被隔离的问题行（每个文件最近一次校验的结果）/ list quarantined rows (each file's latest validation)."""
    if fmt not in ("table", "csv", "json"):
        fail(f"未知格式 {fmt}（table/csv/json）", f"unknown format {fmt!r} (table, csv, json)")
    with open_warehouse(ctx.obj, "read") as wh:
        # read-only: before the first import there is no quarantine table (the importer creates it), so no rows
        q = wh.table(QUARANTINE) if wh.has_table(QUARANTINE) else ibis.memtable(table_schema(QUARANTINE).empty_table())
        if table:
            q = q.filter(q["table"] == table)
        if file:
            q = q.filter((q.file == str(Path(file).resolve())) | q.file.endswith("/" + Path(file).name))
        rows = q.order_by([q.loaded_at.desc(), q.file, q["row"]]).limit(limit).to_pyarrow().to_pylist()
    if fmt == "json":
        out.print_json(json.dumps(rows, default=str, ensure_ascii=False))
    elif fmt == "csv":
        cols = ["batch_id", "table", "file", "sheet", "row", "column", "value", "reason_zh", "reason_en", "loaded_at"]
        w = csv.DictWriter(sys.stdout, fieldnames=cols)
        w.writeheader()
        # a rejected value is whatever the file held: quoted like every csv export (jicai.reports.tabular)
        w.writerows({k: csv_safe(v) if isinstance(v, str) else v for k, v in r.items()} for r in rows)
    else:
        t = result_table("表 table", "文件 file", "行 row", "列 column", "值 value", "原因 reason",
                  title=f"隔离行 / quarantined rows ({len(rows)})")
        for r in rows:
            name = Path(r["file"]).name + (f" [{r['sheet']}]" if r["sheet"] else "")
            t.add_row(r["table"], name, str(r["row"] or ""), r["column"] or "", r["value"] or "",
                      f"{r['reason_zh']}\n{r['reason_en']}")
        out.print(t)


def register(app: typer.Typer) -> None:
    app.command("import", help=IMPORT_HELP)(import_cmd)
    app.command("quarantine")(quarantine_cmd)
