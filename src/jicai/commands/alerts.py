"""``jicai alerts``: the month's alerts into the inbox, and their digests out by e-mail and group robots.

``jicai alerts send --month 2024-04`` computes the ``alerts`` measure as of the month's last day (or
``--as-of``), keeps the new alerts in the workflow database's inbox (each once, by its stable key) and sends
every subscription the alerts of the month it has not had yet. Run it again and nothing is sent twice; a
refused send is retried by the next run. ``jicai alerts subscribe`` says where a recipient's digest goes.
The alert rows themselves are ``jicai alerts-list --as-of D`` (the measure's generated command).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from jicai.commands._workflow import URL, open_workflow, workflow_session
from jicai.console import fail, fail_with, out
from jicai.errors import BilingualError


def register(app: typer.Typer) -> None:
    alerts_app = typer.Typer(help="预警月报:收件箱与发送 / alert digests: the inbox, e-mail and group robots.",
                             no_args_is_help=True)
    app.add_typer(alerts_app, name="alerts")

    @alerts_app.command("send")
    def send_cmd(
        ctx: typer.Context,
        month: str = typer.Option(..., "--month", help="月份 / month (YYYY-MM)"),
        as_of: str = typer.Option(None, "--as-of", help="截至日期(缺省:月末)/ as-of date inside the month "
                                                        "(default: its last day)"),
        policy_path: Path = typer.Option(None, "--policy", help="政策文件 / policy TOML (default: the batches')"),
        inbox_only: bool = typer.Option(False, "--inbox-only", help="只写收件箱,不发送 / fill the inbox, send nothing"),
        url: str | None = URL,
    ) -> None:
        """生成当月预警并发送月报 / build the month's alerts and send the digests."""
        from jicai import clock
        from jicai.commands._runner import open_warehouse
        from jicai.commands.policy import policy_for
        from jicai.measures.registry import Args, measure
        from jicai.workflow import alert_delivery, alert_inbox

        try:
            alert_inbox.parse_month(month)
            end = alert_inbox.month_end(month)
            day = end if not as_of else _day(as_of)
            if day.strftime("%Y-%m") != month:
                raise alert_inbox.AlertsError(f"截至日期 {day} 不在 {month} 内", f"as-of date {day} is not in {month}")
            alert_inbox.thresholds()  # a bad setting stops here, before anything is computed
            quiet = alert_inbox.in_quiet_hours(clock.local_now().hour)
        except BilingualError as exc:
            fail_with(exc)
        m = measure("alerts")
        with open_warehouse(ctx.obj, "read") as wh:
            missing = [t for t in m.inputs if not wh.has_table(t)]
            if missing:
                fail(f"数据仓库缺少表:{', '.join(missing)}(请先 jicai import)",
                     f"warehouse lacks tables: {', '.join(missing)} (run jicai import first)")
            policy = policy_for(ctx.obj, wh, None, policy_path)
            with out.status("正在计算预警 / computing the alerts…"):
                rows = m.rows(wh, Args(policy, as_of=day)).to_pyarrow().to_pylist()
        with workflow_session(ctx, url) as (_wf, s):
            added = alert_inbox.store(s, month, rows)
        out.print(f"{month}:预警 {len(rows)} 条,新入收件箱 {added} 条 / {len(rows)} alerts, {added} new in the inbox")
        if inbox_only or quiet:
            if quiet:
                out.print("免打扰时段,本次不发送 / quiet hours: nothing sent (run again later)")
            return
        wf = open_workflow(ctx, url)
        try:
            outcomes = alert_inbox.deliver(wf, month, alert_delivery.send)
        finally:
            wf.close()
        sent = [d for d, e in outcomes if e is None]
        for d, e in outcomes:
            sub = d.subscription
            status = "已发送 sent" if e is None else f"失败 failed: {e}"
            out.print(f"  {sub.channel} {sub.target}:{len(d.items)} 条 / alerts — {status}")
        out.print(f"发送月报 {len(sent)} 份,失败 {len(outcomes) - len(sent)} 份 / {len(sent)} digests sent, "
                  f"{len(outcomes) - len(sent)} failed")
        if len(sent) < len(outcomes):
            raise typer.Exit(1)

    @alerts_app.command("subscribe")
    def subscribe_cmd(
        ctx: typer.Context,
        recipient: str = typer.Option(..., "--recipient", help="bureau|institution|enterprise"),
        code: str = typer.Option("", "--code", help="区划前缀、机构编码或企业代码 / region prefix, institution code "
                                                    "or enterprise code"),
        channel: str = typer.Option(..., "--channel", help="email|wecom|dingtalk"),
        target: str = typer.Option(..., "--target", help="邮箱地址或机器人 webhook 地址 / e-mail address or robot URL"),
        url: str | None = URL,
    ) -> None:
        """登记月报接收方式 / say where a recipient's digest goes."""
        from jicai.workflow import alert_inbox

        with workflow_session(ctx, url) as (_wf, s):
            sub = alert_inbox.subscribe(s, recipient, code.strip(), channel, target.strip())
            out.print(f"已登记 / subscribed: #{sub.id} {recipient} {code} {channel} {target}")


def _day(raw: str) -> date:
    from jicai.workflow.alert_inbox import AlertsError

    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise AlertsError(f"日期格式应为 YYYY-MM-DD:{raw}", f"a date is YYYY-MM-DD: {raw}") from None
