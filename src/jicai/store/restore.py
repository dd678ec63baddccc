"""``jicai restore``: check a backup folder (store/backup.py) whole, then put it in place as a data directory.

Order of work, so that a bad backup or a refused target never leaves anything half written:
1. the manifest's own checksum, then every file's size and SHA-256 — the first damaged or missing file is named
   and nothing is written;
2. the target: a data directory that holds anything is refused unless ``force``; with ``force`` nothing may use
   it — its warehouse locks and its workflow database are probed without waiting (a ``jicai serve`` keeps the
   workflow database open even while idle: it must be stopped first);
3. the files are copied into a folder beside the target (each hashed again as it is written: a backup that
   changed after the check is still caught), the workflow database included;
4. one rename puts the folder in place. A replaced directory is renamed aside (``<dir>.replaced-<time>``), not
   deleted: the operator removes it once the restored data is checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from jicai import clock
from jicai.store import locking
from jicai.store.backup import (
    FORMAT,
    MANIFEST,
    MANIFEST_SUM,
    WAREHOUSE_FILE,
    WORKFLOW_PGDUMP,
    WORKFLOW_SQLITE,
    BackupError,
    copy_hashed,
    file_hash,
)
from jicai.store.workflow_db import pg_env, pg_revision, pg_tool, run_pg, sqlite_in_use


class BackupCorrupt(BackupError):
    """A file of the backup is missing, truncated or altered: the backup is refused whole."""


def read_manifest(src: Path) -> dict:
    """The manifest of backup folder ``src``, checked against its own checksum."""
    src = Path(src)
    if not (src / MANIFEST).is_file():
        raise BackupCorrupt(f"不是 jicai 备份(缺少 {MANIFEST}):{src.name}",
                            f"not a jicai backup (no {MANIFEST}): {src.name}")
    raw = (src / MANIFEST).read_bytes()
    try:
        expected = (src / MANIFEST_SUM).read_text(encoding="utf-8").strip()
    except OSError:
        expected = ""
    if hashlib.sha256(raw).hexdigest() != expected:
        raise BackupCorrupt(f"备份已损坏:{MANIFEST} 与其校验和不符(文件被改动或截断),未写入任何数据",
                            f"the backup is damaged: {MANIFEST} does not match its checksum (altered or "
                            f"truncated); nothing was written")
    manifest = json.loads(raw)
    if manifest.get("format") != FORMAT:
        raise BackupError(f"备份格式 {manifest.get('format')} 不受此版本 jicai 支持(支持 {FORMAT})",
                          f"backup format {manifest.get('format')} is not supported by this jicai (it reads {FORMAT})")
    return manifest


def verify(src: Path) -> dict:
    """Check every file of backup folder ``src`` (size, then SHA-256); the manifest, or the first bad file named."""
    src = Path(src)
    manifest = read_manifest(src)
    for f in manifest["files"]:
        path = src / f["path"]
        if not path.is_file():
            raise BackupCorrupt(f"备份不完整:缺少文件 {f['path']},未写入任何数据",
                                f"the backup is incomplete: {f['path']} is missing; nothing was written")
        size, digest = file_hash(path)
        if size != f["size"] or digest != f["sha256"]:
            how_zh, how_en = ("被截断或增长", "truncated or grown") if size != f["size"] else ("内容被改动", "altered")
            raise BackupCorrupt(f"备份已损坏:{f['path']} 的校验和不符({how_zh}),未写入任何数据",
                                f"the backup is damaged: {f['path']} fails its checksum ({how_en}); nothing was written")
    return manifest


def _occupied(target: Path) -> bool:
    return target.exists() and (not target.is_dir() or any(target.iterdir()))


def _check_target(target: Path, force: bool) -> None:
    if not _occupied(target):
        return
    if not force:
        raise BackupError(f"目标数据目录非空:{target.name};如确要替换,请加 --force(原目录会改名保留)",
                          f"the target data directory is not empty: {target.name}; add --force to replace it "
                          f"(the old directory is renamed aside, not deleted)")
    if locking.in_use(target / WAREHOUSE_FILE) or sqlite_in_use(target / WORKFLOW_SQLITE):
        raise BackupError("目标数据目录的数据仓库正被使用(例如 jicai serve 或导入):请先停止它们",
                          "the target directory's warehouse is in use (e.g. jicai serve or an import): stop them first")


def restore(src: Path, target: Path, *, force: bool = False, workflow_url: str | None = None,
            accept: Callable[[dict], None] | None = None) -> dict:
    """Restore backup folder ``src`` as data directory ``target`` (see the module doc). A PostgreSQL workflow dump
    goes into the empty database ``workflow_url``. ``accept(manifest)`` may refuse the verified backup (by raising)
    before anything is written. Returns what was done: ``{"manifest", "replaced"}``."""
    src, target = Path(src).resolve(), Path(target).resolve()
    manifest = verify(src)
    if accept is not None:
        accept(manifest)
    _check_target(target, force)
    pgdump = f"workflow/{WORKFLOW_PGDUMP}"
    has_pgdump = any(f["path"] == pgdump for f in manifest["files"])
    if has_pgdump:
        _check_pg_target(workflow_url)
    stage = target.with_name(f".{target.name}.restore-{os.getpid()}")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    replaced: Path | None = None
    try:
        for f in manifest["files"]:
            dst = _place(stage, f["path"])
            if dst is None:
                continue
            size, digest = copy_hashed(src / f["path"], dst)
            if (size, digest) != (f["size"], f["sha256"]):
                raise BackupCorrupt(f"备份在恢复过程中被改动:{f['path']},未写入任何数据",
                                    f"the backup changed during the restore: {f['path']}; nothing was written")
        v = manifest["data_version"]
        # one more than the backup's: a server started on the restored directory computes its figures afresh
        (stage / f"{WAREHOUSE_FILE}.version").write_text(json.dumps(
            {"version": int(v["number"]) + 1, "at": clock.stamp().isoformat(), "by": "jicai restore"},
            ensure_ascii=False), encoding="utf-8")
        if has_pgdump:
            run_pg([pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
                    f"--dbname={_libpq_dbname(workflow_url)}", str(src / pgdump)], workflow_url,
                   "工作流数据库恢复(pg_restore)", "restoring the workflow database (pg_restore)")
        if _occupied(target):
            replaced = target.with_name(f"{target.name}.replaced-{clock.stamp():%Y%m%d-%H%M%S}")
            os.replace(target, replaced)
        elif target.exists():
            target.rmdir()
        os.replace(stage, target)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return {"manifest": manifest, "replaced": replaced}


def _place(stage: Path, rel: str) -> Path | None:
    """Where a backup file goes in the data directory (None: restored another way)."""
    if rel.startswith("warehouse/"):
        return stage / rel.removeprefix("warehouse/")
    if rel == f"workflow/{WORKFLOW_SQLITE}":
        return stage / WORKFLOW_SQLITE
    if rel.startswith("files/"):
        return stage / rel.removeprefix("files/")
    return None  # the PostgreSQL dump: pg_restore reads it from the backup


def _libpq_dbname(url: str) -> str:
    """The database name alone: host, user and password reach pg_restore through the environment (pg_env)."""
    return pg_env(url)["PGDATABASE"]


def _check_pg_target(workflow_url: str | None) -> None:
    if not workflow_url or workflow_url.split("://", 1)[0].split("+", 1)[0] not in ("postgres", "postgresql"):
        raise BackupError("此备份的工作流数据库来自 PostgreSQL:请用 --workflow-url 指定一个空的 PostgreSQL 数据库",
                          "this backup's workflow database is a PostgreSQL dump: give an empty PostgreSQL database "
                          "with --workflow-url")
    pg_tool("pg_restore")
    if pg_revision(workflow_url) is not None:  # unreachable: pg_revision's own bilingual error
        raise BackupError("--workflow-url 指定的数据库已有工作流数据,恢复只写入空数据库",
                          "the database of --workflow-url already holds a workflow: a restore writes into "
                          "an empty database only")
