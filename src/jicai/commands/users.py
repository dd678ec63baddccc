"""``jicai users``: the platform's logins — add, list, disable, change a password.

Passwords are read from standard input (``--password-stdin``, one line), never from the command line where
the shell history and the process list would keep them. Scopes are checked against the code formats: an
institution user's scope is an institution code, an enterprise user's a unified social credit code, a
regional user's a region-code prefix (blank = the whole province).
"""

from __future__ import annotations

import sys

import typer

from jicai.commands._workflow import URL, workflow_session
from jicai.console import fail, out

ROLE_HELP = "admin|bureau|institution|enterprise|auditor"




def _read_password(enabled: bool) -> str:
    if not enabled:
        fail("请用 --password-stdin 从标准输入提供密码", "give the password on standard input with --password-stdin")
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def _actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 — no login name in some containers
        return "cli"




def register(app: typer.Typer) -> None:
    users_app = typer.Typer(help="用户与权限 / users and their roles and scopes.", no_args_is_help=True)
    app.add_typer(users_app, name="users")

    @users_app.command("add")
    def add_cmd(
        ctx: typer.Context,
        name: str = typer.Argument(..., help="用户名 / user name"),
        role: str = typer.Option(..., "--role", help=f"角色 / role: {ROLE_HELP}"),
        scope: str = typer.Option("", "--scope", help="范围:机构编码、统一社会信用代码或区划前缀 / scope: institution "
                                                      "code, USCC, or region prefix"),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="从标准输入读取密码 / read the password "
                                                                             "from stdin"),
        url: str | None = URL,
    ) -> None:
        """新增用户 / add a user."""
        from jicai.workflow.users import add_user

        password = _read_password(password_stdin)
        with workflow_session(ctx, url) as (wf, s):
            user_id = add_user(wf, s, name, role, scope, password, actor=_actor()).id
        out.print(f"已新增用户 / added user {name} (id {user_id}, {role}{', ' + scope if scope else ''})")

    @users_app.command("list")
    def list_cmd(ctx: typer.Context, url: str | None = URL) -> None:
        """列出用户 / list the users."""
        from jicai.workflow.users import list_users

        with workflow_session(ctx, url) as (_wf, s):
            rows = [(u.name, u.role, u.scope, u.active, u.created_at) for u in list_users(s)]
        if not rows:
            out.print("没有用户 / no users (jicai users add NAME --role … --password-stdin)")
        for name, role, scope, active, created in rows:
            state = "启用 active" if active else "停用 disabled"
            out.print(f"{name}\t{role}\t{scope or '-'}\t{state}\t{created:%Y-%m-%d %H:%M}")

    @users_app.command("disable")
    def disable_cmd(ctx: typer.Context, name: str = typer.Argument(..., help="用户名 / user name"),
                    url: str | None = URL) -> None:
        """停用用户(其会话与令牌立即失效) / disable a user (its sessions and tokens end at once)."""
        from jicai.workflow.users import disable_user

        with workflow_session(ctx, url) as (_wf, s):
            disable_user(s, name, actor=_actor())
        out.print(f"已停用 / disabled {name}")

    @users_app.command("passwd")
    def passwd_cmd(
        ctx: typer.Context,
        name: str = typer.Argument(..., help="用户名 / user name"),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="从标准输入读取新密码 / read the new "
                                                                             "password from stdin"),
        url: str | None = URL,
    ) -> None:
        """修改密码(旧会话与令牌失效) / change a password (older sessions and tokens end)."""
        from jicai.workflow.users import set_password

        password = _read_password(password_stdin)
        with workflow_session(ctx, url) as (wf, s):
            set_password(wf, s, name, password, actor=_actor())
        out.print(f"已修改密码 / password changed for {name}")
