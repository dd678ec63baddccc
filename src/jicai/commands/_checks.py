"""The checks of ``jicai doctor``: each looks at one thing and says how it stands and what to do.

A check only reads: it creates no file, takes no lock it has to wait for (the warehouse is opened to read with a
short timeout) and changes nothing, so it is safe beside a running ``jicai serve`` or import. Statuses: ``ok``
(正常), ``warn`` (警告: works, but act soon) and ``error`` (错误: something is or will be broken). The thresholds
are documented in docs/operations.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from jicai.errors import BilingualError
from jicai.store import locking
from jicai.store.warehouse import MEMORY_ENV, memory_limit, size_bytes

GIB = 1 << 30
DISK_FACTOR = 2  # free space wanted: twice the warehouse (an import rewrites blocks, a backup copies it whole) …
DISK_FLOOR = GIB  # … and never less than this
LOCK_PEEK = 2.0  # seconds the facts check waits for a writer before saying it could not look
SECRET_MIN = 32  # characters (what production requires, web/config.py)
SECRET_MIN_DISTINCT = 10  # a generated key has ~40 distinct characters; "k" * 40 has one
# words of a placeholder someone forgot to replace (long enough that a random key contains one ~never)
SECRET_PLACEHOLDERS = ("change", "secret", "example", "password", "jicai", "default")
MEMORY_FLOOR = 256 << 20  # below this DuckDB spills even a city's measures


@dataclass(frozen=True)
class Check:
    name_zh: str
    name_en: str
    status: str  # "ok", "warn", "error"
    zh: str
    en: str
    todo_zh: str = ""
    todo_en: str = ""


@dataclass(frozen=True)
class Place:
    """What the checks look at: the data directory, the warehouse and workflow URLs, the environment."""

    data_dir: Path
    warehouse_url: str
    workflow_url: str
    env: Mapping[str, str]

    def duckdb_file(self) -> Path | None:
        if not self.warehouse_url.startswith("duckdb://"):
            return None
        path = urlparse(self.warehouse_url).path
        return None if path in ("", "/", ":memory:") else Path(path).resolve()


def _gb(n: float) -> str:
    return f"{n / GIB:,.1f} GB" if n >= GIB / 10 else f"{n / (1 << 20):,.1f} MB"


# -- disk --------------------------------------------------------------------------------------------------
def disk(p: Place) -> Check:
    name = ("磁盘空间", "disk space")
    db = p.duckdb_file()
    where = db.parent if db is not None else p.data_dir  # the warehouse's disk, when it lives elsewhere
    while not where.exists() and where != where.parent:  # a directory not made yet: the disk it will be on
        where = where.parent
    used = sum(f.stat().st_size for f in (db, db.with_name(db.name + ".wal")) if f.exists()) if db else 0
    free = shutil.disk_usage(where).free
    need = max(DISK_FACTOR * used, DISK_FLOOR)
    zh, en = f"可用 {_gb(free)},数据仓库 {_gb(used)}", f"{_gb(free)} free, warehouse {_gb(used)}"
    if free < max(used, DISK_FLOOR // 4):
        return Check(*name, "error", zh + "(不足以再写一份数据仓库)", en + " (not enough to write the warehouse again)",
                     f"立即释放数据目录所在磁盘的空间(至少 {_gb(need)}),否则导入与备份会失败",
                     f"free space on the data directory's disk now (at least {_gb(need)}), or imports and backups "
                     f"will fail")
    if free < need:
        return Check(*name, "warn", zh + f"(建议至少 {_gb(need)})", en + f" (at least {_gb(need)} advised)",
                     f"释放空间或扩容到至少 {_gb(need)}:导入会重写数据块,备份要整份复制",
                     f"free space or grow the disk to at least {_gb(need)}: an import rewrites blocks, a backup "
                     f"copies the warehouse whole")
    return Check(*name, "ok", zh, en)


# -- the warehouse lock ------------------------------------------------------------------------------------
def lock(p: Place) -> Check:
    name = ("数据仓库锁", "warehouse lock")
    db = p.duckdb_file()
    if db is None or not db.exists():
        return Check(*name, "ok", "无本地数据仓库文件,无锁", "no local warehouse file, no lock")
    writer_file = locking.side_file(db, ".writer")
    h = locking.holder(db)
    if h is not None:
        since = str(h.get("since", "")).replace("T", " ")
        return Check(*name, "warn", f"写锁由 {h.get('command', '?')}(pid {h['pid']},自 {since} 起)持有",
                     f"held for writing by {h.get('command', '?')} (pid {h['pid']}, since {since})",
                     "等它完成(导入期间新的读取会排队);若该进程已卡住,停止它(kill " + str(h["pid"]) + ")",
                     f"let it finish (new readers queue behind it); if that process hangs, stop it (kill {h['pid']})")
    if writer_file.exists():
        try:
            dead = json.loads(writer_file.read_text(encoding="utf-8")).get("pid", "?")
        except (OSError, ValueError):
            dead = "?"
        return Check(*name, "warn", f"上次写入的进程(pid {dead})已不在,锁记录残留:该次导入未完成",
                     f"the last writer (pid {dead}) is gone and left its record: that import did not finish",
                     "锁已自动释放;用 jicai quarantine 或导入日志确认,并重新运行那次导入",
                     "the lock itself was released; check the import log (jicai quarantine) and run that import again")
    if locking.in_use(db):
        return Check(*name, "ok", "有进程在读取(例如 jicai serve)", "processes are reading it (e.g. jicai serve)")
    return Check(*name, "ok", "空闲", "free")


# -- the warehouse: its tables and compact facts -----------------------------------------------------------
def warehouse(p: Place, opener: Callable[[], object]) -> list[Check]:
    """The contract tables' columns and the compact facts' state, from one short read of the warehouse."""
    from jicai.contract import arrow
    from jicai.contract.tables import TABLES
    from jicai.ingest import facts
    from jicai.store import FACTS_PENDING, LockTimeout

    schema_name, facts_name = ("数据仓库结构", "warehouse schema"), ("紧凑事实表", "compact facts")
    db = p.duckdb_file()
    if db is not None and not db.exists():
        return [Check(*schema_name, "warn", "尚未导入任何数据", "nothing imported yet",
                      "用 jicai import 导入平台导出文件", "import the platform's exports with jicai import")]
    if _is_pg(p.warehouse_url) and (down := _pg_unreachable(p.warehouse_url)) is not None:
        # ibis's own connect has no timeout: a server that does not answer would hold the doctor for minutes
        return [Check(*schema_name, "error", f"PostgreSQL 无法连接:{down}", f"PostgreSQL unreachable: {down}",
                      "检查 JICAI_WAREHOUSE_URL、数据库服务与网络", "check JICAI_WAREHOUSE_URL, the server and the network")]
    try:
        wh = opener()
    except LockTimeout:
        todo = ("导入完成后再运行 jicai doctor", "run jicai doctor again once the import is done")
        return [Check(*n, "warn", "有写入进行中,未能检查", "a writer is at work: not checked", *todo)
                for n in (schema_name, facts_name)]
    except Exception as exc:  # noqa: BLE001 — unreachable server, a foreign program holding the file…
        zh, en = (exc.zh, exc.en) if isinstance(exc, BilingualError) else ("无法打开", type(exc).__name__)
        return [Check(*schema_name, "error", f"无法打开数据仓库:{zh}", f"cannot open the warehouse: {en}",
                      "检查 JICAI_WAREHOUSE_URL 与数据库服务", "check JICAI_WAREHOUSE_URL and the database server")]
    with contextlib.closing(wh):
        tables = set(wh.list_tables())
        lacking = {}
        for name in sorted(set(TABLES) & tables):
            missing = [c for c in arrow.schema(name).names if c not in wh.table(name).columns]
            if missing:
                lacking[name] = missing
        if lacking:
            listed = "; ".join(f"{t}: {', '.join(c)}" for t, c in lacking.items())
            schema = Check(*schema_name, "warn", f"表缺少契约列:{listed}", f"tables lack contract columns: {listed}",
                           "以当前版本的 jicai import 重新导入这些表", "import those tables again with this jicai")
        else:
            schema = Check(*schema_name, "ok", f"{len(set(TABLES) & tables)} 张契约表结构完整",
                           f"{len(set(TABLES) & tables)} contract tables, every column present")
        orders = wh.table("orders").count().to_pyarrow().as_py() if "orders" in tables else 0
        if not orders:
            state = Check(*facts_name, "ok", "尚无订单明细", "no order lines yet")
        elif facts.complete(wh):
            state = Check(*facts_name, "ok", "完整(与全部订单明细一致)", "complete (kept with every order line)")
        elif FACTS_PENDING in tables:
            months = sorted({str(r["part_month"])[:7] for r in wh.table(FACTS_PENDING).to_pyarrow().to_pylist()})
            shown = ", ".join(months[:12]) + (" …" if len(months) > 12 else "")
            state = Check(*facts_name, "warn", f"待重算的月份:{shown}(计算改读原始明细,较慢)",
                          f"months waiting to be recomputed: {shown} (measures read the raw lines, slower)",
                          "运行 jicai db facts(或重新运行未完成的文件夹导入)",
                          "run jicai db facts (or run the unfinished folder import again)")
        else:
            state = Check(*facts_name, "warn", "未建立或已过期(计算改读原始明细,较慢)",
                          "absent or stale (measures read the raw lines, slower)",
                          "运行 jicai db facts", "run jicai db facts")
    return [schema, state]


# -- the workflow database ---------------------------------------------------------------------------------
def workflow(p: Place) -> Check:
    """The workflow database's Alembic revision against this jicai's, read without opening it through SQLAlchemy
    (which would switch a SQLite file to WAL: the doctor changes nothing)."""
    import sqlite3

    from alembic.script import ScriptDirectory

    from jicai.store.workflow_db import pg_revision, sqlite_path, sqlite_revision, workflow_kind
    from jicai.workflow.db import alembic_config

    name = ("工作流数据库结构", "workflow schema")
    try:
        kind = workflow_kind(p.workflow_url)
    except BilingualError as exc:
        return Check(*name, "error", exc.zh, exc.en, "检查 JICAI_WORKFLOW_URL", "check JICAI_WORKFLOW_URL")
    if kind == "postgresql":
        if (down := _pg_unreachable(p.workflow_url)) is not None:
            return Check(*name, "error", f"PostgreSQL 无法连接:{down}", f"PostgreSQL unreachable: {down}",
                         "检查 JICAI_WORKFLOW_URL、数据库服务与网络", "check JICAI_WORKFLOW_URL, the server and the network")
        current = pg_revision(p.workflow_url)
    else:
        path = sqlite_path(p.workflow_url)
        if path is None or not path.exists():
            return Check(*name, "warn", "尚未建立(还没有用户)", "not created yet (no users)",
                         "运行 jicai db upgrade,再用 jicai users add 添加管理员",
                         "run jicai db upgrade, then add an admin with jicai users add")
        try:
            current = sqlite_revision(path)
        except sqlite3.DatabaseError as exc:
            return Check(*name, "error", f"无法读取:{exc}", f"cannot be read: {exc}",
                         "从备份恢复(jicai restore)", "restore it from a backup (jicai restore)")
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    if current == head:
        return Check(*name, "ok", f"最新(版本 {head})", f"up to date (revision {head})")
    if current is None:
        return Check(*name, "warn", "空数据库", "an empty database", "运行 jicai db upgrade", "run jicai db upgrade")
    if current not in {s.revision for s in script.walk_revisions()}:
        return Check(*name, "error", f"版本 {current} 比此 jicai 新(最新 {head})",
                     f"revision {current} is newer than this jicai knows (head {head})",
                     "升级 jicai 到写入该数据库的版本", "upgrade jicai to the version that wrote the database")
    return Check(*name, "warn", f"版本 {current},落后于 {head}", f"revision {current}, behind {head}",
                 "运行 jicai db upgrade(jicai serve 启动时也会升级)", "run jicai db upgrade (jicai serve does at start)")


# -- the secret key ----------------------------------------------------------------------------------------
def secret(p: Place) -> Check:
    name = ("密钥", "secret key")
    production = p.env.get("JICAI_ENV", "").lower() == "production"
    key, where = p.env.get("JICAI_SECRET_KEY", ""), "JICAI_SECRET_KEY"
    file = p.data_dir / "secret_key"
    if not key and production:  # production reads the variable only (web/config.py), never the file
        return Check(*name, "error", "生产环境未设置 JICAI_SECRET_KEY", "JICAI_SECRET_KEY is not set in production",
                     *_GENERATE)
    if not key and file.exists():
        key, where = file.read_text(encoding="utf-8").strip(), str(file.name)
    if not key:
        return Check(*name, "ok", "开发环境:首次启动时生成", "development: made at the first start")
    weak = _weakness(key)
    if weak is not None:
        return Check(*name, "error", f"{where} 太弱:{weak[0]}", f"{where} is weak: {weak[1]}", *_GENERATE)
    if where != "JICAI_SECRET_KEY" and file.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        return Check(*name, "warn", "密钥文件可被其他用户读取", "the key file is readable by other users",
                     f"chmod 600 {file}", f"chmod 600 {file}")
    return Check(*name, "ok", f"{where}:{len(key)} 个字符", f"{where}: {len(key)} characters")


_GENERATE = ("设置 JICAI_SECRET_KEY 为随机值:python -c \"import secrets; print(secrets.token_urlsafe(48))\"(更换后所有人需重新登录)",
             "set JICAI_SECRET_KEY to a random value: python -c \"import secrets; print(secrets.token_urlsafe(48))\" "
             "(everyone signs in again after a change)")


def _weakness(key: str) -> tuple[str, str] | None:
    if len(key) < SECRET_MIN:
        return (f"只有 {len(key)} 个字符,至少需要 {SECRET_MIN} 个", f"{len(key)} characters, at least {SECRET_MIN} needed")
    low = key.lower()
    for word in SECRET_PLACEHOLDERS:
        if word in low:
            return (f"含有占位词 {word!r}", f"it contains the placeholder {word!r}")
    if len(set(key)) < SECRET_MIN_DISTINCT:
        return (f"只用了 {len(set(key))} 种字符,不像随机值", f"only {len(set(key))} distinct characters: not random")
    return None


# -- the memory limit --------------------------------------------------------------------------------------
def memory(p: Place) -> Check:
    name = ("内存上限", "memory limit")
    total = _physical_memory()
    try:
        value = memory_limit(p.env)
    except BilingualError as exc:
        return Check(*name, "error", exc.zh, exc.en, f"改正 {MEMORY_ENV},例如 2GB", f"correct {MEMORY_ENV}, e.g. 2GB")
    if value is None:
        return Check(*name, "ok", f"未设置:DuckDB 每个连接最多用内存的 80%(本机 {_gb(total)})",
                     f"not set: DuckDB may use 80 % of memory per connection (this machine: {_gb(total)})")
    size = size_bytes(value)  # memory_limit() has checked it is a size
    if total and size > total:
        return Check(*name, "warn", f"{MEMORY_ENV}={value} 超过本机内存 {_gb(total)}",
                     f"{MEMORY_ENV}={value} exceeds this machine's {_gb(total)}",
                     f"调低 {MEMORY_ENV}(例如本机内存的一半)", f"lower {MEMORY_ENV} (e.g. half the machine's memory)")
    if size < MEMORY_FLOOR:
        return Check(*name, "warn", f"{MEMORY_ENV}={value} 过小,计算会大量落盘或失败",
                     f"{MEMORY_ENV}={value} is too small: measures spill heavily or fail",
                     f"调高 {MEMORY_ENV}(至少 1GB)", f"raise {MEMORY_ENV} (1GB or more)")
    return Check(*name, "ok", f"{MEMORY_ENV}={value}(本机 {_gb(total)})", f"{MEMORY_ENV}={value} (machine: {_gb(total)})")


def _physical_memory() -> int:
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return 0


# -- PostgreSQL --------------------------------------------------------------------------------------------
def postgres(p: Place) -> Check:
    name = ("PostgreSQL", "PostgreSQL")
    urls = [(zh, en, u) for zh, en, u in (("数据仓库", "warehouse", p.warehouse_url),
                                          ("工作流数据库", "workflow database", p.workflow_url))
            if _is_pg(u)]
    if not urls:
        return Check(*name, "ok", "未使用", "not configured")
    for zh, en, url in urls:
        if (down := _pg_unreachable(url)) is not None:
            return Check(*name, "error", f"{zh}无法连接:{down}", f"the {en} is unreachable: {down}",
                         "检查数据库服务、地址、端口与口令", "check the server, its address, port and password")
    return Check(*name, "ok", "可连接:" + "、".join(zh for zh, _, _ in urls),
                 "reachable: " + ", ".join(en for _, en, _ in urls))


def _is_pg(url: str) -> bool:
    return url.split("://", 1)[0].split("+", 1)[0] in ("postgres", "postgresql")


def _pg_unreachable(url: str) -> str | None:
    """None when a PostgreSQL server answers at ``url``, else the first line of why not (no password in it)."""
    import psycopg

    from jicai.store.workflow_db import pg_connect, pg_error

    try:
        with pg_connect(url, timeout=3):
            return None
    except psycopg.Error as exc:
        return pg_error(exc)
