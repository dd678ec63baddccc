"""``jicai backup DEST`` and ``jicai restore SRC``: the warehouse and the workflow database together, consistent
and checked by SHA-256 (the folder's layout and why it is consistent: jicai.store.backup; the restore's order of
work: jicai.store.restore). Documented in docs/operations.md."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer

from jicai.console import fail, fail_with, out
from jicai.errors import BilingualError

WORKFLOW_URL = typer.Option(None, "--workflow-url",
                            help="工作流数据库地址(缺省:JICAI_WORKFLOW_URL,否则数据目录中的 SQLite)/ workflow "
                                 "database URL (default: JICAI_WORKFLOW_URL, else SQLite in the data directory)")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TB"


def known_revision(revision: str | None) -> bool:
    """Whether this jicai's migrations know ``revision`` (a backup from a newer jicai has one it does not)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from jicai.workflow.db import alembic_config

    if revision is None:
        return True
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def _accept(manifest: dict) -> None:
    revision = manifest["workflow"].get("revision")
    if not known_revision(revision):
        raise BilingualError(f"备份的工作流数据库版本 {revision} 比此版本 jicai 新(备份自 jicai "
                             f"{manifest.get('jicai_version')}):请先升级 jicai",
                             f"the backup's workflow schema {revision} is newer than this jicai knows (backed up by "
                             f"jicai {manifest.get('jicai_version')}): upgrade jicai first")


def register(app: typer.Typer) -> None:
    @app.command("backup")
    def backup_cmd(
        ctx: typer.Context,
        dest: Path = typer.Argument(..., help="备份文件夹(须不存在或为空)/ backup folder (must not exist or be empty)"),
        workflow_url: str | None = WORKFLOW_URL,
    ) -> None:
        """备份数据仓库与工作流数据库(一致、带校验和)/ back up the warehouse and the workflow database together."""
        from jicai import __version__
        from jicai.store.backup import Source, take
        from jicai.web.config import default_workflow_url

        settings = ctx.obj
        url = workflow_url or os.environ.get("JICAI_WORKFLOW_URL") or default_workflow_url(settings.data_dir)
        t0 = time.perf_counter()
        try:
            manifest = take(Source(settings.data_dir, settings.warehouse_url, url), dest, jicai_version=__version__)
        except BilingualError as exc:
            fail_with(exc)
        except OSError as exc:  # a full disk, a folder not writable: say which, not a traceback
            fail(f"备份失败:{exc.strerror or exc}", f"backup failed: {exc.strerror or exc}")
        total = sum(f["size"] for f in manifest["files"])
        v = manifest["data_version"]
        out.print(f"备份完成 / backup written: {Path(dest).resolve()}")
        out.print(f"  文件 / files: {len(manifest['files'])},共 / total {_size(total)},"
                  f"用时 / took {time.perf_counter() - t0:.1f} s")
        out.print(f"  数据版本 / data version: {v['number']};工作流版本 / workflow revision: "
                  f"{manifest['workflow']['revision'] or '(空 / empty)'};数据表 / tables: "
                  f"{len(manifest['warehouse']['tables'])}")

    @app.command("restore")
    def restore_cmd(
        ctx: typer.Context,
        src: Path = typer.Argument(..., help="jicai backup 写出的备份文件夹 / a folder written by jicai backup"),
        data_dir: Path | None = typer.Option(None, "--data-dir",
                                             help="恢复到的数据目录(缺省:当前数据目录)/ data directory to restore "
                                                  "into (default: the current one)"),
        force: bool = typer.Option(False, "--force", help="替换非空的数据目录(原目录改名保留)/ replace a non-empty "
                                                          "data directory (the old one is renamed aside)"),
        workflow_url: str | None = typer.Option(
            None, "--workflow-url", help="仅当备份的工作流数据库来自 PostgreSQL:恢复到的空数据库 / only for a "
                                         "PostgreSQL workflow dump: the empty database to restore it into"),
        check: bool = typer.Option(False, "--check", help="只校验备份,不写入任何数据 / verify the backup only, "
                                                          "write nothing"),
    ) -> None:
        """校验并恢复备份到数据目录 / verify a backup, then restore it as a data directory."""
        from jicai.store.restore import restore, verify

        if check:
            try:
                m = verify(src)
                _accept(m)
            except BilingualError as exc:
                fail_with(exc)
            total = sum(f["size"] for f in m["files"])
            out.print(f"备份完好 / the backup is whole: {len(m['files'])} 个文件 / files, {_size(total)};备份于 / "
                      f"backed up at {m['created_at'].replace('T', ' ')},jicai {m['jicai_version']},数据版本 / data "
                      f"version {m['data_version']['number']}")
            return
        target = data_dir or ctx.obj.data_dir
        try:
            done = restore(src, target, force=force, workflow_url=workflow_url, accept=_accept)
        except BilingualError as exc:
            fail_with(exc)
        except OSError as exc:
            fail(f"恢复失败:{exc.strerror or exc}(目标目录未改动)",
                 f"restore failed: {exc.strerror or exc} (the target directory is unchanged)")
        m = done["manifest"]
        total = sum(f["size"] for f in m["files"])
        out.print(f"恢复完成 / restored: {Path(target).resolve()}(校验 / verified {len(m['files'])} 个文件 / files, "
                  f"{_size(total)};备份于 / backed up at {m['created_at'].replace('T', ' ')},jicai {m['jicai_version']})")
        if done["replaced"] is not None:
            out.print(f"  原目录已改名保留 / the old directory was kept as: {done['replaced']}")
        if m["workflow"]["engine"] == "sqlite":
            out.print(f"  工作流数据库 / workflow database: {Path(target).resolve() / 'workflow.sqlite'}"
                      f"(如设置了 JICAI_WORKFLOW_URL,请改为它或取消设置 / if JICAI_WORKFLOW_URL is set, point it "
                      f"there or unset it)")
        out.print(f"  启动 / start: jicai --data-dir {target} serve(密钥不在备份中:开发环境会生成新密钥,用户需重新登录 / "
                  f"the secret key is not in the backup: a development server makes a new one, users sign in again)")
