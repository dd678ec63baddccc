"""``jicai peers``: peer groups saved per user, and ``jicai institution-deciles`` against the level or a group.

``jicai peers add 三级综合医院-省属 --user 张三 --members "H35010200001,H35010200002,…"`` saves a group of the
user (``--members -`` reads the codes from standard input, one or more a line); ``list`` and ``remove`` do what
they say, for that user only. ``jicai institution-deciles --as-of D [--peers NAME --user U]`` ranks every
institution on every ranking measure within its level, or within the user's group (the rules:
:mod:`jicai.workflow.peer_groups`; the figures: :mod:`jicai.analytics.institution_deciles`).
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import typer

from jicai.commands._workflow import URL, workflow_session
from jicai.console import fail, out

USER = typer.Option(..., "--user", help="用户名(对比组的所有者)/ the user whose peer groups these are")


def _principal(s, name: str):
    from jicai.workflow.users import find_user, principal_of

    user = find_user(s, name)
    if user is None or not user.active:
        fail(f"用户 {name} 不存在或已停用", f"no active user named {name}")
    return principal_of(user)


def _institutions(settings) -> dict[str, str]:
    from jicai.commands._runner import open_warehouse

    with open_warehouse(settings, "read") as wh:
        if not wh.has_table("institutions"):
            fail("数据仓库没有机构表(请先 jicai import)", "the warehouse has no institutions (run jicai import first)")
        rows = wh.table("institutions").select("institution_code", "name").to_pyarrow().to_pylist()
    return {r["institution_code"]: r["name"] or "" for r in rows}


def resolve_group(settings, peers: str | None, user: str | None, url: str | None):
    """The members of the saved group ``peers`` as ``user`` may use it (its own group, or one a bureau user
    shares: :func:`jicai.workflow.peer_groups.resolve`); None (the same level) when ``peers`` is not given."""
    if peers is None:
        return None
    if not user:
        fail("使用 --peers 时须用 --user 指定对比组所有者", "--peers needs --user: whose peer group it is")
    from jicai.workflow import peer_groups

    with workflow_session(SimpleNamespace(obj=settings), url) as (_, s):
        return peer_groups.resolve(s, _principal(s, user), peers)


def register(app: typer.Typer) -> None:
    peers_app = typer.Typer(help="自选对比组 / peer groups saved per user.", no_args_is_help=True)
    app.add_typer(peers_app, name="peers")

    @peers_app.command("add")
    def add_cmd(
        ctx: typer.Context,
        name: str = typer.Argument(..., help="对比组名称 / group name"),
        user: str = USER,
        members: str = typer.Option(..., "--members", help="机构编码,逗号、空格或换行分隔;- 从标准输入读取 / "
                                                           "institution codes, comma/space/line separated; - reads stdin"),
        shared: bool = typer.Option(False, "--shared", help="共享给其他医保局用户 / share with the other bureau users"),
        replace: bool = typer.Option(False, "--replace", help="替换同名对比组 / replace the user's group of this name"),
        url: str | None = URL,
    ) -> None:
        """保存对比组 / save a peer group."""
        from jicai.workflow import peer_groups

        text = sys.stdin.read() if members == "-" else members
        known = _institutions(ctx.obj)
        with workflow_session(ctx, url) as (_, s):
            p = _principal(s, user)
            gid = None
            if replace:
                try:
                    gid = peer_groups.own_by_name(s, p, name).id
                except peer_groups.PeerGroupNotFound:
                    gid = None
            g = peer_groups.save(s, p, name, text, known, shared=shared, group_id=gid)
            out.print(f"已保存对比组 {g.name}({len(g.members)} 家机构{',共享' if g.shared else ''}) / saved "
                      f"peer group {g.name} ({len(g.members)} institutions)")

    @peers_app.command("list")
    def list_cmd(ctx: typer.Context, user: str = USER, url: str | None = URL) -> None:
        """列出用户的对比组 / list the user's peer groups (and those shared with a bureau user)."""
        from jicai.workflow import peer_groups

        with workflow_session(ctx, url) as (_, s):
            groups = peer_groups.listing(s, _principal(s, user))
        if not groups:
            out.print(f"{user} 没有对比组 / {user} has no peer groups")
        for g in groups:
            whose = "" if g["mine"] else f"(共享自 {g['owner']} / shared by {g['owner']})"
            codes = ", ".join(m["institution_code"] for m in g["members"][:8]) + (" …" if g["size"] > 8 else "")
            out.print(f"{g['name']}{whose}:{g['size']} 家 — {codes}")

    @peers_app.command("remove")
    def remove_cmd(ctx: typer.Context, name: str = typer.Argument(..., help="对比组名称 / group name"),
                   user: str = USER, url: str | None = URL) -> None:
        """删除用户的对比组 / remove one of the user's peer groups."""
        from jicai.workflow import peer_groups

        with workflow_session(ctx, url) as (_, s):
            p = _principal(s, user)
            peer_groups.remove(s, p, peer_groups.own_by_name(s, p, name))
        out.print(f"已删除对比组 {name} / removed peer group {name}")

    from jicai.commands._runner import POLICY_OF_BATCH, computing_command, measure_report

    @computing_command(app, "institution-deciles", policy=POLICY_OF_BATCH)
    def deciles_cmd(r, as_of: str = typer.Option(..., "--as-of", help="截至日期 / as-of date (YYYY-MM-DD)"),
                    peers: str = typer.Option(None, "--peers", help="对比组名称(缺省:同级)/ peer group name "
                                                                     "(default: the same level)"),
                    user: str = typer.Option(None, "--user", help="对比组所有者(用 --peers 时必填)/ the group's "
                                                                    "owner (with --peers)"),
                    url: str | None = URL) -> None:
        """机构十分位排名:每项排名指标在同级或自选对比组中的排名与十分位 / institution deciles on every ranking
        measure, within the level or a saved peer group."""
        from jicai.commands._runner import measure_rows, parse_day
        from jicai.measures.registry import Args, measure

        day = parse_day(as_of)
        group = resolve_group(r.settings, peers, user, url)
        m = measure("institution-deciles")
        r.require(m.inputs)
        args = Args(r.policy(None), as_of=day, peers=group)
        rows = measure_rows(r, m, args)
        stem = f"institution_deciles_{day.isoformat()}" + (f"_{group.digest}" if group else "")
        report = measure_report(m, rows, args, r.computed_at)
        # the report names the group, not its members' digest (str of a PeerGroup: the figures' cache key)
        report.params["peers"] = group.name if group else None
        report.period = f"截至日期 {day}" + (f",对比组 {group.name}" if group else "")
        path = r.write(report, stem)
        basis = f"对比组 {group.name}({len(group.members)} 家)" if group else "同级机构"
        out.print(f"{m.title_zh} 截至 {day}(比较范围:{basis}):{len(rows)} 行")
        out.print(f"  报表:{path}")

