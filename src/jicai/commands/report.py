"""``jicai report monthly|quarterly|annual``: the reports a bureau sends, as xlsx, HTML and PDF.

每月监测、季度通报、年度考核 (seed 003 四(五)). Each subcommand builds one report document from the
measures and writes it in the formats asked for into ``--out`` (default ``<data>/reports/``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from jicai import clock
from jicai.console import console, fail, out

FORMATS = ("xlsx", "html", "pdf")

report_app = typer.Typer(help="报告：月度监测、季度通报、年度考核 / official reports (xlsx, html, pdf).",
                         no_args_is_help=True)


def _formats(fmt: str) -> list[str]:
    chosen = list(FORMATS) if fmt == "all" else [f.strip() for f in fmt.split(",") if f.strip()]
    bad = [f for f in chosen if f not in FORMATS]
    if bad or not chosen:
        fail(f"不支持的格式 {fmt}（可选 xlsx、html、pdf、all，可用逗号分隔）",
             f"unsupported format {fmt} (xlsx, html, pdf, all, or a comma-separated list)")
    return chosen


def _write(ctx: typer.Context, build, stem: str, fmt: str, out_dir: Path | None, batch: str | None,
           policy_path: Path | None) -> None:
    """Build the report (``build(wh, policy)``) with ``--policy`` or the policy the batch names, write each
    format, print where the files are."""
    from jicai.commands.policy import policy_for
    from jicai.reports.documents import ReportError
    from jicai.reports.output import write_report

    formats = _formats(fmt)
    folder = out_dir or ctx.obj.data_dir / "reports"
    wh = ctx.obj.warehouse()
    try:
        policy = policy_for(ctx.obj, wh, batch, policy_path)
        with console.status("正在生成报告 / building the report…"):
            report = build(wh, policy)
    except ReportError as exc:
        fail(exc.zh, exc.en)
    finally:
        wh.close()
    try:
        with console.status("正在写出报告 / writing the report…"):
            paths = write_report(report, folder, stem, formats)
    except ReportError as exc:
        fail(exc.zh, exc.en)
    out.print(f"{report.title}（{report.period}，数据截至 {report.as_of.isoformat()}，政策 {report.policy_version}）")
    for label, value in report.headline:
        out.print(f"  {label}：{value}")
    for p in paths:
        out.print(f"  报告 / report: {p}")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"日期格式应为 YYYY-MM-DD：{text}", f"date must be YYYY-MM-DD: {text}")
        raise  # unreachable: fail exits


FMT_HELP = "输出格式 / format: xlsx, html, pdf, all (或逗号分隔 / or comma-separated)"
OUT_HELP = "输出目录 / output folder (default: <data>/reports/)"
POLICY_HELP = "政策文件(缺省:批次指定的政策) / policy TOML (default: the policy the batch names)"


@report_app.command("monthly")
def monthly_cmd(
    ctx: typer.Context,
    as_of: str = typer.Option(..., "--as-of", help="监测日期(含当日) / as-of date, YYYY-MM-DD"),
    batch: str = typer.Option(None, "--batch", help="批次编号(默认全部) / batch id (default: all)"),
    fmt: str = typer.Option("all", "--format", help=FMT_HELP),
    out_dir: Path = typer.Option(None, "--out", help=OUT_HELP),
    policy_path: Path = typer.Option(None, "--policy", help=POLICY_HELP),
) -> None:
    """月度监测报告：主要指标、零采购/低于序时进度/非中选超量/未进院/逾期回款名单、图表 / monthly report."""
    from jicai.reports.monthly import monthly_report

    d = _day(as_of)
    computed_at = clock.stamp()
    stem = f"月度监测_{d.isoformat()}" + (f"_{batch}" if batch else "")
    _write(ctx, lambda wh, policy: monthly_report(wh, d, batch, policy, computed_at), stem, fmt, out_dir, batch,
           policy_path)


@report_app.command("quarterly")
def quarterly_cmd(
    ctx: typer.Context,
    year: int = typer.Option(..., "--year", help="年份 / calendar year"),
    quarter: int = typer.Option(..., "--quarter", help="季度 1–4 / quarter (as of its last day)"),
    batch: str = typer.Option(None, "--batch", help="批次编号(默认全部) / batch id (default: all)"),
    fmt: str = typer.Option("all", "--format", help=FMT_HELP),
    out_dir: Path = typer.Option(None, "--out", help=OUT_HELP),
    policy_path: Path = typer.Option(None, "--policy", help=POLICY_HELP),
) -> None:
    """季度通报：进度落后机构排名、逾期回款排名、通报正文 / quarterly notice."""
    from jicai.reports.quarterly import quarterly_report

    if quarter not in (1, 2, 3, 4):
        fail(f"季度应为 1–4：{quarter}", f"quarter must be 1–4: {quarter}")
    computed_at = clock.stamp()
    stem = f"季度通报_{year}Q{quarter}" + (f"_{batch}" if batch else "")
    _write(ctx, lambda wh, policy: quarterly_report(wh, year, quarter, batch, policy, computed_at), stem, fmt,
           out_dir, batch, policy_path)


@report_app.command("annual")
def annual_cmd(
    ctx: typer.Context,
    batch: str = typer.Option(..., "--batch", help="批次编号 / batch id"),
    year: int = typer.Option(..., "--year", help="采购年度 k / cycle year k (1, 2, …)"),
    as_of: str = typer.Option(None, "--as-of", help="预考核截止日(默认年度末) / provisional as-of date"),
    fmt: str = typer.Option("all", "--format", help=FMT_HELP),
    out_dir: Path = typer.Option(None, "--out", help=OUT_HELP),
    policy_path: Path = typer.Option(None, "--policy", help=POLICY_HELP),
) -> None:
    """年度考核结果：合格与否及原因、得分与同级排名、结余留用奖励 / annual assessment report."""
    from jicai.reports.annual import annual_report

    d = _day(as_of) if as_of else None
    computed_at = clock.stamp()
    stem = f"年度考核_{batch}_第{year}年度" + (f"_{d.isoformat()}" if d else "")
    _write(ctx, lambda wh, policy: annual_report(wh, batch, year, policy, d, computed_at), stem, fmt, out_dir,
           batch, policy_path)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
