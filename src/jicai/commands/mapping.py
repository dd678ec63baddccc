"""``jicai mapping``: 对码 — hospitals' own product codes to national product codes (seed 000: 及时对码更新维护).

The bureau imports each hospital's dictionary as ``local_products`` (``jicai import``), reads the proposals
(``suggest``), confirms or rejects them (``confirm``, ``confirm-exact``, ``reject``; the /mapping page does the
same), then ``apply`` re-imports the order files whose lines were quarantined for an unmapped code. The rules
are :mod:`jicai.workflow.mapping` and :mod:`jicai.ingest.matching`; docs/mapping.md explains them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import typer

from jicai.commands._runner import open_warehouse
from jicai.commands._workflow import URL, DirectWarehouse, workflow_session
from jicai.console import fail, out

STATUS = typer.Option("open", "--status", help="open 待对码 / confirmed 已对码 / rejected 不予对码 / all 全部")


def _operator() -> Any:
    import getpass

    from jicai.contract.roles import Principal

    try:
        name = f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 — no login name in some containers
        name = "cli"
    # whoever runs the command holds the data directory: the province-wide administrator
    return Principal(0, name, "admin", "")


@contextlib.contextmanager
def _context(ctx: typer.Context, url: str | None) -> Iterator[Any]:
    from jicai.workflow.decisions import Context

    with workflow_session(ctx, url, decides=True) as (_wf, s):
        yield Context(s, _operator(), DirectWarehouse(ctx.obj), "cli")


def _status(raw: str) -> str | None:
    from jicai.workflow.mapping import STATUS_ZH

    if raw == "all":
        return None
    if raw not in STATUS_ZH:
        fail(f"--status 应为 open/confirmed/rejected/all:{raw}", f"--status is open, confirmed, rejected or all: {raw}")
    return raw


def register(app: typer.Typer) -> None:
    mapping_app = typer.Typer(help="对码:本地编码与医保编码 / map local product codes to national ones.",
                              no_args_is_help=True)
    app.add_typer(mapping_app, name="mapping")

    @mapping_app.command("suggest")
    def suggest_cmd(ctx: typer.Context, status: str = STATUS, scope: str = typer.Option(
            None, "--scope", help="只看一个编码来源(机构编码或 platform) / one scope only")) -> None:
        """列出本地编码及其医保编码候选(精确优先,再模糊,带得分) / local codes and their proposals with scores."""
        from jicai.workflow.mapping import METHOD_ZH, STATUS_ZH, local_codes

        codes = [c for c in local_codes(DirectWarehouse(ctx.obj), _operator(), _status(status))
                 if scope is None or c.scope == scope]
        if not codes:
            out.print("没有符合条件的本地编码 / no local codes match")
            return
        for c in codes:
            what = " ".join(x for x in (c.name, c.spec, c.manufacturer) if x)
            out.print(f"{c.source} {c.local_code} {what}:{STATUS_ZH[c.status]}"
                      + (f" → {c.product_name}({c.product_code})" if c.product_code else ""))
            for x in c.candidates:
                out.print(f"    候选 {x.product_code} {x.label} {x.score:.1f}分({METHOD_ZH[x.method]})")
            if c.status == "open" and not c.candidates:
                out.print("    没有得分 ≥ 60 的候选,请人工指定 / no proposal scores 60 or more: map it by hand")

    @mapping_app.command("confirm")
    def confirm_cmd(ctx: typer.Context,
                    scope: str = typer.Argument(..., help="编码来源:机构编码或 platform / institution code or platform"),
                    local_code: str = typer.Argument(..., help="本地编码 / local code"),
                    product_code: str = typer.Argument(..., help="医保编码 / national product code"),
                    url: str | None = URL) -> None:
        """确认本地编码对应的医保编码 / confirm the national product of a local code."""
        from jicai.workflow.mapping import METHOD_ZH, confirm

        with _context(ctx, url) as c:
            row = confirm(c, scope, local_code, product_code)
        out.print(f"已对码 / mapped:{scope} {local_code} → {product_code}(得分 {row['score']:.1f},"
                  f"{METHOD_ZH[row['method']]});用 jicai mapping apply 重新导入被隔离的订单")

    @mapping_app.command("confirm-exact")
    def confirm_exact_cmd(ctx: typer.Context, url: str | None = URL) -> None:
        """确认所有唯一精确匹配的本地编码 / confirm every local code with exactly one exact match."""
        from jicai.workflow.mapping import confirm_exact

        with _context(ctx, url) as c:
            rows = confirm_exact(c)
        out.print(f"已确认精确匹配 {len(rows)} 个 / confirmed {len(rows)} exact match(es)")

    @mapping_app.command("reject")
    def reject_cmd(ctx: typer.Context, scope: str = typer.Argument(..., help="编码来源 / scope"),
                   local_code: str = typer.Argument(..., help="本地编码 / local code"), url: str | None = URL) -> None:
        """不予对码:该本地编码没有对应的医保产品 / decide that a local code has no national product."""
        from jicai.workflow.mapping import reject

        with _context(ctx, url) as c:
            reject(c, scope, local_code)
        out.print(f"不予对码 / rejected:{scope} {local_code};其订单明细仍隔离")

    @mapping_app.command("apply")
    def apply_cmd(ctx: typer.Context) -> None:
        """重新导入因未对码而隔离的订单文件 / re-import the order files whose lines wait for a mapping."""
        from pathlib import Path

        from jicai.ingest import QUARANTINE, import_paths

        def files(wh: Any) -> list[str]:
            if not wh.has_table(QUARANTINE):
                return []
            t = wh.table(QUARANTINE)
            t = t.filter((t["table"] == "orders") & (t["column"] == "product_code"))
            return sorted({r["file"] for r in t.select("file").distinct().to_pyarrow().to_pylist()})

        waiting = DirectWarehouse(ctx.obj).run(files)
        present = [Path(f) for f in waiting if Path(f).is_file()]
        for f in waiting:
            if not Path(f).is_file():
                out.print(f"文件已不在原处,跳过 / file no longer there, skipped: {f}")
        if not present:
            out.print("没有等待对码的订单文件 / no order file waits for a mapping")
            return
        with open_warehouse(ctx.obj, "write") as wh:
            results = import_paths(wh, present, table="orders", force=True)
        for r in results:
            out.print(f"{r.file.name}:导入 {r.rows_loaded} 行,隔离 {r.rows_quarantined} 行 / loaded {r.rows_loaded}, "
                      f"quarantined {r.rows_quarantined}")
