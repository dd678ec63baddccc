"""``jicai report monthly|quarterly|annual|summary``: the reports a bureau sends, as xlsx, HTML and PDF.

每月监测、季度通报、年度考核 (seed 003 四(五)). Each subcommand builds one report document from the
measures and writes it in the formats asked for into ``--out`` (default ``<data>/reports/``). ``summary`` is
the one-page summary of one institution or region (:mod:`jicai.reports.summary`).
"""

from __future__ import annotations

import typer

from jicai.commands._runner import Run, computing_command, parse_day
from jicai.console import console, out
from jicai.errors import BilingualError

FORMATS = ("xlsx", "html", "pdf")

report_app = typer.Typer(help="报告：月度监测、季度通报、年度考核、一页摘要 / official reports (xlsx, html, pdf).",
                         no_args_is_help=True)


def _write(r: Run, build, stem: str, batch: str | None, text: bool = False) -> None:
    """Build the report (``build(wh, policy)``) with ``--policy`` or the policy the batch names, write each
    format asked for, print where the files are; ``text``: print its paragraphs too (the one-page summary,
    which a director may read in the terminal as well)."""
    policy = r.policy(batch)
    with console.status("正在生成报告 / building the report…"):
        report = build(r.warehouse, policy)
    with console.status("正在写出报告 / writing the report…"):
        paths = r.write_all(report, stem)
    out.print(f"{report.title}（{report.period}，数据截至 {report.as_of.isoformat()}，执行政策 {report.policy_label or report.policy_version}）")
    for label, value in report.headline:
        out.print(f"  {label}：{value}")
    for p in report.paragraphs if text else ():
        out.print(f"  {p}")
    for p in paths:
        out.print(f"  报告 / report: {p}")


def _document(name: str):
    return computing_command(report_app, name, formats=FORMATS, many=True)


@_document("monthly")
def monthly_cmd(
    r: Run,
    as_of: str = typer.Option(..., "--as-of", help="监测日期(含当日) / as-of date, YYYY-MM-DD"),
    batch: str = typer.Option(None, "--batch", help="批次编号(默认全部) / batch id (default: all)"),
) -> None:
    """月度监测报告：主要指标、零采购/低于序时进度/非中选超量/未进院/逾期回款名单、图表 / monthly report."""
    from jicai.reports.monthly import monthly_report

    d = parse_day(as_of)
    stem = f"月度监测_{d.isoformat()}" + (f"_{batch}" if batch else "")
    _write(r, lambda wh, policy: monthly_report(wh, d, batch, policy, r.computed_at), stem, batch)


@_document("quarterly")
def quarterly_cmd(
    r: Run,
    year: int = typer.Option(..., "--year", help="年份 / calendar year"),
    quarter: int = typer.Option(..., "--quarter", help="季度 1–4 / quarter (as of its last day)"),
    batch: str = typer.Option(None, "--batch", help="批次编号(默认全部) / batch id (default: all)"),
) -> None:
    """季度通报：进度落后机构排名、逾期回款排名、通报正文 / quarterly notice."""
    from jicai.reports.quarterly import quarterly_report

    if quarter not in (1, 2, 3, 4):
        raise BilingualError(f"季度应为 1–4：{quarter}", f"quarter must be 1–4: {quarter}")
    stem = f"季度通报_{year}Q{quarter}" + (f"_{batch}" if batch else "")
    _write(r, lambda wh, policy: quarterly_report(wh, year, quarter, batch, policy, r.computed_at), stem, batch)


@_document("annual")
def annual_cmd(
    r: Run,
    batch: str = typer.Option(..., "--batch", help="批次编号 / batch id"),
    year: int = typer.Option(..., "--year", help="采购年度 k / cycle year k (1, 2, …)"),
    as_of: str = typer.Option(None, "--as-of", help="预考核截止日(默认年度末) / provisional as-of date"),
) -> None:
    """年度考核结果：合格与否及原因、得分与同级排名、结余留用奖励 / annual assessment report."""
    from jicai.reports.annual import annual_report

    d = parse_day(as_of) if as_of else None
    stem = f"年度考核_{batch}_第{year}年度" + (f"_{d.isoformat()}" if d else "")
    _write(r, lambda wh, policy: annual_report(wh, batch, year, policy, d, r.computed_at), stem, batch)


@_document("summary")
def summary_cmd(
    r: Run,
    as_of: str = typer.Option(..., "--as-of", help="数据截至日(含当日) / as-of date, YYYY-MM-DD"),
    institution: str = typer.Option(None, "--institution", help="机构编码 / institution code"),
    region: str = typer.Option(None, "--region", help="行政区划代码(如 350100) / region code"),
) -> None:
    """一页摘要：机构或地区的最好与最差指标、同级十分位、改善情况、预警与涉及金额 / one-page summary of an institution or region."""
    from jicai.reports.summary import summary_report

    d = parse_day(as_of)
    stem = f"一页摘要_{institution or region}_{d.isoformat()}"
    _write(r, lambda wh, policy: summary_report(wh, d, institution, region, policy, r.computed_at), stem, None,
           text=True)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
