"""``jicai import-announcement FILE…`` — load national VBP announcement workbooks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from jicai.settings import Settings

KIND_ZH = {"results": "中选结果", "volumes": "约定采购量", "volume_totals": "采购量合计（核对用）",
           "enterprise_names": "企业名称对照", "skipped": "跳过"}
SHOW_PROBLEMS = 15
SHOW_UNRESOLVED = 10


def register(app: typer.Typer) -> None:
    @app.command("import-announcement")
    def import_announcement_cmd(
        ctx: typer.Context,
        files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                           help="中选结果表、约定采购量表 (.xlsx) / results and agreed-volume workbooks"),
        dry_run: bool = typer.Option(False, "--dry-run", help="只解析不入库 / parse and resolve, load nothing"),
        out: Path = typer.Option(None, "--out", help="另存标准化文件到此目录 / also keep the canonical files here"),
        strict: bool = typer.Option(False, "--strict", help="有问题行则整体不导入 / refuse the load on any bad row"),
    ) -> None:
        """导入国家集采中选结果与约定采购量 / import national VBP announcement workbooks."""
        from jicai.ingest.announcement import import_announcement, prepare, write_tables

        settings: Settings = ctx.obj
        console = Console()
        with settings.warehouse() as wh:
            if dry_run:
                report = prepare(wh, files)
                if out:
                    write_tables(report.tables, out)
            else:
                try:
                    report = import_announcement(wh, files, strict=strict, keep_dir=out)
                except RuntimeError as exc:
                    console.print(f"[red]{exc}[/red]")
                    raise typer.Exit(2) from None
        print_summary(console, report, loaded=not dry_run)


def print_summary(console: Console, report, *, loaded: bool) -> None:
    ann, res = report.announcement, report.resolution
    s = ann.summary
    t = Table(title="工作表 / sheets")
    for col in ("文件 file", "工作表 sheet", "内容 kind", "批次 batch", "读入行 rows read", "采用行 rows used", "说明 note"):
        t.add_column(col, overflow="fold")
    for sh in s.sheets:
        t.add_row(sh.file, sh.sheet, f"{KIND_ZH.get(sh.kind, sh.kind)} / {sh.kind}", sh.batch_id or "",
                  str(sh.rows_read), str(sh.rows_used), sh.note)
    console.print(t)

    tables = ann.tables
    bt = Table(title="批次 / batches")
    for col in ("批次 batch", "品种 varieties", "投标行 bids", "中选行 winning", "约定量行 volume rows",
                "中选产品 selected products", "未匹配 unresolved"):
        bt.add_column(col, overflow="fold")
    var = Counter(tables["varieties"].column("batch_id").to_pylist())
    bids = Counter(r["batch_id"] for r in ann.results)
    wins = Counter(r["batch_id"] for r in ann.results if r["won"])
    vols = Counter(tables["vbp_agreed_volumes"].column("batch_id").to_pylist())
    sel = Counter(res.selected_products.column("batch_id").to_pylist())
    unr = Counter(u.batch_id for u in res.unresolved)
    for b in sorted(set(bids) | set(vols)):
        bt.add_row(b, str(var[b]), str(bids[b]), str(wins[b]), str(vols[b]), str(sel[b]), str(unr[b]))
    console.print(bt)

    console.print(f"中选行 {res.winning_rows}，已匹配为中选产品的行 {res.winning_rows - len(res.unresolved)}，"
                  f"未匹配 {len(res.unresolved)} / winning rows {res.winning_rows}, resolved "
                  f"{res.winning_rows - len(res.unresolved)}, unresolved {len(res.unresolved)}")
    if res.unresolved:
        reasons = Counter((u.reason_zh, u.reason_en) for u in res.unresolved)
        for (zh, en), n in reasons.most_common():
            console.print(f"  {n} × {zh} / {en}")
        names = list(dict.fromkeys(u.enterprise_name for u in res.unresolved))
        console.print(f"  未匹配企业（前 {min(SHOW_UNRESOLVED, len(names))} 个）/ first unresolved enterprises: "
                      + "、".join(names[:SHOW_UNRESOLVED]))
    for name, n in report.kept_existing.items():
        if n:
            console.print(f"{name}: 库中已有 {n} 行，保留原值 / {n} rows already in the warehouse kept as they are")

    levels = Counter(p.level for p in s.problems)
    console.print(f"问题 / problems: 错误 errors {levels['error']}，警告 warnings {levels['warning']}，"
                  f"提示 info {levels['info']}")
    shown = sorted(s.problems, key=lambda p: {"error": 0, "warning": 1, "info": 2}[p.level])[:SHOW_PROBLEMS]
    for p in shown:
        console.print(f"  {p.level}: {p.text('zh')}\n         {p.text('en')}", highlight=False)
    if len(s.problems) > SHOW_PROBLEMS:
        console.print(f"  … 另有 {len(s.problems) - SHOW_PROBLEMS} 条 / {len(s.problems) - SHOW_PROBLEMS} more")

    if loaded:
        status_zh = {"loaded": "已导入", "unchanged": "未变化", "failed": "失败"}
        for lr in report.loads:
            console.print(f"入库 / load {lr.table}: {status_zh.get(lr.status, lr.status)} / {lr.status}，"
                          f"读入 read {lr.rows_read}，导入 loaded {lr.rows_loaded}，隔离 quarantined "
                          f"{lr.rows_quarantined}", highlight=False)
            for m in lr.messages:
                console.print(f"    {m}", highlight=False)
    else:
        console.print("仅解析，未入库 / dry run: nothing loaded")
