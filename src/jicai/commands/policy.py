"""``jicai policy list|show|validate|install``: the policy files a bureau runs with.

Also :func:`policy_for`, the one place commands turn ``--policy``/``--batch`` into a policy (or a clear
error): the batch's ``policy_id`` picks an installed policy unless ``--policy FILE`` overrides it.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from jicai.commands._runner import open_warehouse
from jicai.console import fail, fail_with, out
from jicai.errors import BilingualError


def policy_for(settings, wh, batch_id: str | None, policy_path: Path | None):
    """The policy for a command run, or exit with a bilingual message."""
    from jicai.policy.registry import resolve_policy

    try:
        return resolve_policy(settings.data_dir, wh, batch_id, policy_path)
    except FileNotFoundError:
        fail(f"政策文件不存在:{policy_path}", f"policy file not found: {policy_path}")
    except BilingualError as exc:  # no such batch or policy, an invalid installed file
        fail_with(exc)
    except Exception as exc:  # noqa: BLE001 - a validation error, shown to the user
        fail("政策文件无效", "invalid policy", detail=str(exc))


def policy_table(p) -> Table:
    """The policy as a reader sees it (the rows of the policy page): Chinese names, values with units, tiers
    as ``档 → 比例`` lines, the document and clause, the dates in force."""
    from jicai.policy.display import policy_rows

    t = Table(title=f"{p.label}", show_lines=True)
    for col in ("参数", "取值", "说明", "依据(文件与条款)", "生效"):
        t.add_column(col, overflow="fold")
    for r in policy_rows(p):
        value = "\n".join(f"{r.tier_heads[0]} {a} → {r.tier_heads[1]} {b}" for a, b in r.tiers) or r.value
        source = r.source + (f"\n注:{r.note}" if r.note else "")
        t.add_row(r.zh, value, r.meaning_zh, source, r.in_force)
    if p.document:
        t.caption = "依据文件:" + ";".join(f"{d.short} = {d.title}" for d in p.document)
    return t


def register(app: typer.Typer) -> None:
    policy_app = typer.Typer(help="政策文件:查看、校验、安装 / policy files: show, validate, install.",
                             no_args_is_help=True)
    app.add_typer(policy_app, name="policy")

    @policy_app.command("validate")
    def validate_cmd(path: Path = typer.Argument(..., help="政策文件 / policy TOML")) -> None:
        """校验政策文件 / validate a policy file (exit 1 when invalid)."""
        from jicai.policy import load_policy

        try:
            p = load_policy(path)
        except FileNotFoundError:
            fail(f"政策文件不存在:{path}", f"policy file not found: {path}")
        except Exception as exc:  # noqa: BLE001 - the message is the result
            fail(f"政策文件无效:{path}", f"invalid policy file: {path}", code=1, detail=str(exc))
        out.print(f"有效 / valid: {path} — {p.label},{len(p.parameter)} 条参数(编号 {p.id},内容指纹 {p.version})")

    @policy_app.command("show")
    def show_cmd(
        ctx: typer.Context,
        path: Path = typer.Argument(None, help="政策文件(缺省按 --id 查找) / policy TOML (default: by --id)"),
        policy_id: str = typer.Option(None, "--id", help="政策编号(缺省:各批次执行的政策,无批次时为 default) / "
                                                        "policy id (default: the one the batches name, else default)"),
        fmt: str = typer.Option("table", "--format", help="table 或 json / table or json"),
    ) -> None:
        """显示政策参数、单位、出处与生效期 / show a policy's parameters with units, sources and dates."""
        from jicai.policy import load_policy
        from jicai.policy.registry import DEFAULT_ID, PolicyRegistry, batch_policy_ids

        if path is None and policy_id is None:  # the policy this data directory's batches run with
            with open_warehouse(ctx.obj, "read") as wh:
                named = sorted(set(batch_policy_ids(wh).values()))
            policy_id = named[0] if len(named) == 1 else DEFAULT_ID
        try:
            p = load_policy(path) if path else PolicyRegistry(ctx.obj.data_dir).get(policy_id)
        except BilingualError as exc:
            fail_with(exc)
        except FileNotFoundError:
            fail(f"政策文件不存在:{path}", f"policy file not found: {path}")
        except Exception as exc:  # noqa: BLE001
            fail("政策文件无效", "invalid policy", code=1, detail=str(exc))
        if fmt == "json":
            out.print_json(json.dumps({"id": p.id, "version": p.version, "label": p.label, **p.model_dump(mode="json")},
                                      ensure_ascii=False))
            return
        if fmt != "table":
            fail(f"不支持的格式 {fmt}(可选 table/json)", f"unsupported format {fmt} (table/json)")
        out.print(policy_table(p))

    @policy_app.command("list")
    def list_cmd(ctx: typer.Context) -> None:
        """列出可用政策及执行各政策的批次 / list the available policies and the batches naming each."""
        from jicai.policy.registry import PolicyRegistry, batch_policy_ids

        try:
            files = PolicyRegistry(ctx.obj.data_dir).files()
        except BilingualError as exc:
            fail_with(exc)
        with open_warehouse(ctx.obj, "read") as wh:
            batches = batch_policy_ids(wh)
        t = Table()
        for col in ("编号 id", "名称与版本 name", "内容指纹 hash", "文件 file", "批次 batches"):
            t.add_column(col, overflow="fold")
        for pid, f in sorted(files.items()):
            named = [b for b, p in sorted(batches.items()) if p == pid]
            t.add_row(pid, f.policy.label, f.policy.version, "(内置 bundled)" if f.bundled else str(f.path),
                      ", ".join(named) or "—")
        out.print(t)
        unknown = sorted({p for p in batches.values() if p not in files})
        if unknown:
            out.print(f"[red]批次引用了未安装的政策 / batches name policies not installed: {', '.join(unknown)}[/red]")
            raise typer.Exit(1)

    @policy_app.command("install")
    def install_cmd(
        ctx: typer.Context,
        path: Path = typer.Argument(..., help="政策文件 / policy TOML"),
        replace: bool = typer.Option(False, "--replace", help="替换同编号的已安装政策 / replace an installed policy of the same id"),
    ) -> None:
        """校验并安装政策文件,供批次按 policy_id 引用 / validate and install a policy for batches to name."""
        from jicai.policy.registry import PolicyRegistry

        try:
            f = PolicyRegistry(ctx.obj.data_dir).install(path, replace=replace)
        except FileNotFoundError:
            fail(f"政策文件不存在:{path}", f"policy file not found: {path}")
        except BilingualError as exc:  # installed with other content, or an installed file is invalid
            fail_with(exc)
        except Exception as exc:  # noqa: BLE001
            fail("政策文件无效", "invalid policy", code=1, detail=str(exc))
        out.print(f"已安装 / installed: {f.policy.label}(编号 {f.id},内容指纹 {f.policy.version})→ {f.path}")
