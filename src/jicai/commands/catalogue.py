"""``jicai catalogue``: publish the 集采目录清单 of each batch as xlsx and pdf, with what changed since the last edition.

Seed 000: 汇总编印集采药品、耗材目录清单,并健全动态更新工作机制,及时对码更新维护,公示印发. The rows and the editions
are :mod:`jicai.reports.vbp_catalogue`; each published edition is kept under ``<data>/catalogue/<batch>/``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from jicai.commands._runner import OUT, parse_day, run
from jicai.console import console, out

FORMATS = ("xlsx", "pdf", "html")


def register(app: typer.Typer) -> None:
    @app.command("catalogue")
    def catalogue_cmd(
        ctx: typer.Context,
        as_of: str = typer.Option(..., "--as-of", help="清单适用日期(挂网状态按此日) / the day the catalogue applies from"),
        batch: str = typer.Option(None, "--batch", help="批次编号(默认每个批次各一份) / batch id (default: every batch)"),
        draft: bool = typer.Option(False, "--draft", help="只出草稿,不记为新版 / a draft: no new edition is recorded"),
        fmt: str = typer.Option("xlsx,pdf", "--format", help="格式:xlsx、pdf、html、all,可用逗号分隔 / formats"),
        out_path: Path = OUT,
    ) -> None:
        """发布集采目录清单:中选与备供产品、企业、价格、地区、执行期及较上一版的变更 / publish the VBP catalogue."""
        from jicai.reports.vbp_catalogue import Editions, build

        day = parse_day(as_of)
        with run(ctx, fmt, out_path, None, FORMATS, many=True) as r:
            r.require(["batches", "selected_products", "products", "enterprises"])
            wh = r.warehouse
            batches = [batch] if batch else sorted(b["batch_id"] for b in
                                                  wh.table("batches").select("batch_id").to_pyarrow().to_pylist())
            for b in batches:
                with console.status("正在生成目录清单 / building the catalogue…"):
                    report = build(wh, b, day, Editions(ctx.obj.data_dir / "catalogue", b), r.computed_at,
                                   publish=not draft)
                    paths = r.write_all(report, f"集采目录清单_{b}_{day.isoformat()}")
                out.print(report.title)
                for label, value in report.headline:
                    out.print(f"  {label}:{value}")
                for p in paths:
                    out.print(f"  文件 / file: {p}")
