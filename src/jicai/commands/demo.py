"""``jicai demo``: simulate a province, import it through the validating importer, monitor, report."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import typer

from jicai import clock
from jicai.console import console, out, progress


def run_demo(data_dir: Path, warehouse, institutions: int, months: int, seed: int) -> dict:
    """The demo's steps; returns where everything is and the summary lines (tests call this too)."""
    from jicai.commands.monitor import monitor_report, stored_rows
    from jicai.ingest import import_paths
    from jicai.policy.registry import resolve_policy
    from jicai.reports.output import write
    from jicai.reports.summary_zh import ddd_factors, monitoring_summary
    from jicai.simulate import simulate

    demo_dir = data_dir / "demo"
    dataset = demo_dir / "dataset"
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    with progress(transient=True) as p:
        task = p.add_task("模拟 / simulate", total=None)
        manifest = simulate(dataset, institutions=institutions, months=months, seed=seed, start=date(2024, 1, 1),
                            progress=lambda done, total: p.update(task, completed=done, total=total))
    timings["simulate"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with progress(transient=True) as p:
        loads = import_paths(warehouse, [dataset], progress=p)
    timings["import"] = time.perf_counter() - t0
    failed = [r for r in loads if r.status == "failed"]
    if failed:
        raise RuntimeError(f"demo import failed: {failed[0].file}: {failed[0].messages}")

    t0 = time.perf_counter()
    as_of = date.fromisoformat(str(manifest.as_of))
    policy = resolve_policy(data_dir, warehouse, None, None)  # the Fujian policy the simulated batches name
    computed_at = clock.stamp()
    report = monitor_report(warehouse, as_of, None, policy, computed_at)
    xlsx = write(report, "xlsx", demo_dir / "月度监测.xlsx")
    varieties = warehouse.table("varieties").select("variety_id", "unit").to_pyarrow().to_pylist()
    batches = warehouse.table("batches").select("batch_id", "name").to_pyarrow().to_pylist()
    summary = monitoring_summary(stored_rows(warehouse, as_of, None), as_of,
                                 units={v["variety_id"]: v["unit"] for v in varieties},
                                 batch_names={b["batch_id"]: b["name"] for b in batches},
                                 ddd=ddd_factors(warehouse))  # each quantity still to buy in DDDs beside it
    timings["monitor"] = time.perf_counter() - t0
    return {
        "dataset": dataset, "xlsx": xlsx, "as_of": as_of, "summary": summary, "timings": timings,
        "rows": len(report.table("rows").rows), "loads": loads, "quarantined": sum(r.rows_quarantined for r in loads),
        "manifest": manifest,
    }


DEMO_PASSWORD = "jicai-demo"


def demo_logins(manifest) -> list[tuple[str, str, str, str]]:
    """One login per role on the demo province: (name, role, scope, what to look at). The hospital is the
    sentinel that reported the verified shortage; the enterprise is the one whose product ran short."""
    short = manifest.of_kind("shortage")[0]
    hospital = short.institution_codes[0]
    return [
        ("admin", "admin", "", "全部页面与数据导入 / everything, imports"),
        ("bureau", "bureau", "", "全省医保局 / the provincial bureau"),
        ("quanzhou", "bureau", "3505", "泉州市医保局(区划 3505) / the Quanzhou bureau (region 3505)"),
        ("hospital", "institution", hospital, f"医疗机构 {hospital}(哨点) / a sentinel hospital"),
        ("supplier", "enterprise", short.enterprise_codes[0], "供应短缺的中选企业 / the selected enterprise short of supply"),
        ("auditor", "auditor", "", "审计(只读) / read-only auditor"),
    ]


def create_demo_users(settings, manifest) -> list[tuple[str, str, str, str]]:
    from jicai.web.config import WebConfig
    from jicai.workflow.db import Workflow
    from jicai.workflow.users import ensure_user

    logins = demo_logins(manifest)
    wf = Workflow.open(WebConfig.resolve(settings).workflow_url)
    try:
        for name, role, scope, _ in logins:
            ensure_user(wf, name, role, scope, DEMO_PASSWORD)
    finally:
        wf.close()
    return logins


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        ctx: typer.Context,
        institutions: int = typer.Option(300, help="机构数 / institutions"),
        months: int = typer.Option(12, help="月数 / months of data"),
        seed: int = typer.Option(2024, help="随机种子 / random seed"),
        serve: bool = typer.Option(True, "--serve/--no-serve", help="最后启动网页服务 / end by serving the pages"),
        port: int = typer.Option(8000, "--port", help="网页服务端口 / port of the web server"),
    ) -> None:
        """演示：模拟一个省的数据，导入、监测并生成月度监测报表 / the demo province, end to end."""
        settings = ctx.obj
        console.print(f"[bold]jicai 演示[/bold]：模拟 {institutions} 家机构 × {months} 个月，导入，监测…")
        with settings.warehouse() as wh:
            r = run_demo(settings.data_dir, wh, institutions, months, seed)
        t = r["timings"]
        orders = r["manifest"].tables.get("orders", 0)
        out.print()
        out.print("\n".join(r["summary"]))
        out.print()
        out.print(f"模拟数据 / simulated dataset : {r['dataset']}  （订单明细 {orders:,} 行，{t['simulate']:.1f} 秒）")
        out.print(f"数据仓库 / warehouse        : {settings.warehouse_url}  （导入 {t['import']:.1f} 秒，隔离 {r['quarantined']} 行）")
        out.print(f"月度监测报表 / report        : {r['xlsx']}  （{r['rows']:,} 行，{t['monitor']:.1f} 秒）")
        out.print(f"预埋情形 / planted situations: {r['dataset'] / 'manifest.json'}")
        out.print("命令行 / CLI: jicai report monthly --as-of 2024-12-31 ; jicai assess --batch GJ-YP-JX --year 1 ; "
                  "jicai supply --month 2024-09 ; jicai supply-alerts --month 2024-09 ; "
                  "jicai supply-periods --as-of 2024-06-30 ; jicai capitation --period 2024 ; "
                  "jicai pharmacy --month 2024-07 ; jicai budget --quarter 2024Q3 ; jicai --help")
        logins = create_demo_users(settings, r["manifest"])
        out.print()
        if not serve:  # nothing listens: no address to open, no logins to type yet — say how to start it
            out.print(f"网页未启动(--no-serve)。启动网页 / to serve the pages: jicai --data-dir {settings.data_dir} "
                      f"serve --port {port};演示账号 {len(logins)} 个已创建,见 jicai users list / "
                      f"{len(logins)} demo logins created, see jicai users list")
            return
        out.print(f"网页 / web: http://127.0.0.1:{port}/   演示账号 / demo logins (密码 / password: {DEMO_PASSWORD}):")
        for name, role, scope, what in logins:
            out.print(f"  {name:<9} {role:<11} {scope:<18} {what}")
        if serve:
            import uvicorn

            from jicai.web.app import create_app
            from jicai.web.config import WebConfig

            out.print("按 Ctrl+C 停止 / press Ctrl+C to stop")
            uvicorn.run(create_app(WebConfig.resolve(settings)), host="127.0.0.1", port=port, log_level="warning")
