"""``jicai simulate``: write a synthetic province (every contract table + manifest.json) to a directory."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path

import typer

from jicai.console import console, fail, out, progress


def register(app: typer.Typer) -> None:
    @app.command("simulate", help="生成模拟省份数据（含预埋问题）/ generate a synthetic province with planted situations.")
    def simulate_cmd(
        out_dir: Path = typer.Option(..., "--out", "-o", help="输出目录 / output directory"),
        institutions: int = typer.Option(300, "--institutions", "-n", help="医疗机构数 / number of institutions"),
        months: int = typer.Option(12, "--months", "-m", help="月数 / months of data"),
        seed: int = typer.Option(1, "--seed", help="随机种子 / random seed"),
        order_lines: int = typer.Option(None, "--order-lines", help="目标订单明细行数 / target number of order lines"),
        start: str = typer.Option("2024-01-01", "--start", help="起始日期 / first day (YYYY-MM-DD, a month start)"),
        fmt: str = typer.Option("parquet", "--format", help="parquet 或 csv / parquet or csv"),
        chunk_rows: int = typer.Option(200_000, "--chunk-rows", help="每块订单行数 / order lines per chunk"),
    ) -> None:
        from jicai.simulate import simulate

        try:
            first = datetime.strptime(start, "%Y-%m-%d").date()
        except ValueError:
            fail(f"起始日期格式错误：{start}", f"bad start date: {start} (want YYYY-MM-DD)")
            return
        t0 = time.perf_counter()  # a duration, not a date: the monotonic clock
        with progress() as p:
            task = p.add_task("生成订单 / orders", total=None)

            def tick(done: int, total: int) -> None:
                p.update(task, completed=done, total=total)

            try:
                manifest = simulate(out_dir, institutions=institutions, months=months, seed=seed,
                                    order_lines=order_lines, start=date(first.year, first.month, 1), fmt=fmt,
                                    progress=tick, chunk_rows=chunk_rows)
            except ValueError as exc:
                fail("参数错误", "bad argument", detail=str(exc))
                return
        secs = time.perf_counter() - t0
        out.print(f"已写入 {out_dir}（{len(manifest.tables)} 张表，订单明细 {manifest.tables['orders']:,} 行，"
                  f"预埋情形 {len(manifest.planted)} 项，用时 {secs:.1f} 秒）")
        console.print(f"wrote {out_dir}: {len(manifest.tables)} tables, {manifest.tables['orders']:,} order lines, "
                      f"{len(manifest.planted)} planted situations, {secs:.1f} s; see manifest.json")
