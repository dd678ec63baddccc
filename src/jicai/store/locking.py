"""One writer or many readers of a DuckDB warehouse file, across processes.

DuckDB lets many processes open a file read-only at once, but a read-write connection shuts every other
process out (and a reader that tries then fails with a lock error). So every jicai process that opens the file
first takes an OS lock beside it (``fcntl.flock`` on ``<file>.lock``): shared while a read-only connection is
open, exclusive while a read-write one is. Connections are short-lived, so the CLI and ``jicai serve`` take
turns instead of failing.

Writers are preferred: a writer first takes a second lock, the *turnstile* (``<file>.turnstile``), exclusively
and keeps it until it is done; a reader passes through the turnstile (takes it shared for an instant) before
taking its own shared lock. Once a writer is queued no new reader gets in, the readers inside finish, and the
writer goes next — a stream of short readers (the web's background jobs) cannot starve an import.

The writer holding the turnstile records who it is (pid, command, since) in ``<file>.writer`` so that a
waiting process can say whom it waits for. When it closes, it increments the *data version* in
``<file>.version`` (while still holding the lock, so a reader always reads the version of the data it sees):
``jicai serve`` watches that number to recompute its figures after an import.

Within one process DuckDB shares one database instance per file and refuses a read-only connection while a
read-write one is open. So while this process holds the write lock, further connections of the same process
join that hold (and open read-write) instead of waiting for themselves.

The OS drops the locks of a process that dies; a stale ``.writer`` file names a dead pid and is ignored.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jicai import clock
from jicai.errors import BilingualError

DEFAULT_TIMEOUT = 600.0  # seconds; an import of a province's month can take minutes
TIMEOUT_ENV = "JICAI_LOCK_TIMEOUT"


class LockTimeout(BilingualError, TimeoutError):
    """Waited longer than the lock timeout for the warehouse."""


class LockError(BilingualError, RuntimeError):
    """The lock cannot be taken at all (this thread would wait for itself)."""


def lock_timeout(env: dict[str, str] | None = None) -> float:
    """``$JICAI_LOCK_TIMEOUT`` in seconds (default 600); a bad value is a bilingual error, not a traceback."""
    raw = (os.environ if env is None else env).get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise LockError(f"{TIMEOUT_ENV} 应为非负秒数:{raw}", f"{TIMEOUT_ENV} must be a number of seconds ≥ 0: {raw}")
    return value


def side_file(db: Path, suffix: str) -> Path:
    return db.with_name(db.name + suffix)


def this_command() -> str:
    """What this process is, as a user would recognise it: ``jicai import``, ``jicai serve``…"""
    argv = sys.argv or ["python"]
    words = [Path(argv[0]).name] + [a for a in argv[1:] if not a.startswith("-")][:1]
    return " ".join(words)


# -- the data version -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataVersion:
    number: int  # 0: never written under a lock
    at: str  # when the writer finished (Beijing time, ISO), "" if unknown
    by: str  # the writer's command


def read_version(db: Path) -> DataVersion:
    """The data version recorded beside ``db`` (cheap: one small file; written by rename, so never torn)."""
    try:
        d = json.loads(side_file(db, ".version").read_text(encoding="utf-8"))
        return DataVersion(int(d["version"]), str(d.get("at", "")), str(d.get("by", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return DataVersion(0, "", "")


def _bump_version(db: Path) -> None:
    v = read_version(db)
    _write_json(side_file(db, ".version"),
                {"version": v.number + 1, "at": clock.stamp().isoformat(), "by": this_command()})


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


# -- who holds it ----------------------------------------------------------------------------------------
def holder(db: Path) -> dict | None:
    """The writer recorded beside ``db`` if its process is alive: ``{"pid", "command", "since"}``."""
    try:
        d = json.loads(side_file(db, ".writer").read_text(encoding="utf-8"))
        pid = int(d["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid != os.getpid():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, another user's
    return d


def _who(db: Path) -> tuple[str, str]:
    h = holder(db)
    if h is None:
        return ("其他进程正在读取", "other processes reading it")
    since = str(h.get("since", ""))[11:16]
    return (f"{h.get('command', '?')},pid {h['pid']},自 {since} 起",
            f"{h.get('command', '?')}, pid {h['pid']}, since {since}")


def waiting_message(db: Path) -> str:
    zh, en = _who(db)
    return f"等待数据仓库锁({zh})… / waiting for the warehouse lock ({en})…"


def timeout_error(db: Path, seconds: float) -> LockTimeout:
    zh, en = _who(db)
    return LockTimeout(
        f"等待数据仓库锁超时({seconds:g} 秒;{zh}):请稍后重试,或调大 {TIMEOUT_ENV}",
        f"timed out after {seconds:g} s waiting for the warehouse lock ({en}): retry later, or raise {TIMEOUT_ENV}")


# -- the lock itself -------------------------------------------------------------------------------------
@dataclass
class _Writer:
    """This process's write hold on one file (shared by nested connections of the same process)."""

    fds: tuple[int, int]
    count: int = 1


@dataclass
class _Process:
    lock: threading.Lock = field(default_factory=threading.Lock)
    writers: dict[Path, _Writer] = field(default_factory=dict)
    readers: dict[Path, dict[int, int]] = field(default_factory=dict)  # thread id → read locks it holds


_PROCESS = _Process()


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:  # a read-only data directory: a lock file someone made is still usable to read
        return os.open(path, os.O_RDONLY)


def _poll(fd: int, op: int, deadline: float, on_wait: Callable[[], None]) -> bool:
    """Take ``flock(fd, op)``, polling until ``deadline``; ``on_wait`` once when it has to wait."""
    delay, waited = 0.005, False
    while True:
        try:
            fcntl.flock(fd, op | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        if not waited:
            waited = True
            on_wait()
        now = time.monotonic()
        if now >= deadline:
            return False
        time.sleep(min(delay, deadline - now))
        delay = min(delay * 2, 0.2)


class Lock:
    """A held lock on one warehouse file; :meth:`release` once (closing the warehouse does)."""

    def __init__(self, db: Path, mode: str, fds: tuple[int, ...], joined: bool) -> None:
        self.db, self.mode, self._fds, self._joined = db, mode, fds, joined
        self._released = False

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        p = _PROCESS
        if self.mode == "read":
            with p.lock:
                threads = p.readers.get(self.db, {})
                me = threading.get_ident()
                threads[me] = threads.get(me, 1) - 1
                if not threads[me]:
                    del threads[me]
            _close(self._fds)
            return
        with p.lock:
            w = p.writers[self.db]
            w.count -= 1
            if w.count:
                return
            del p.writers[self.db]
        # still exclusive: readers that get in next read the new version with the new data
        with contextlib.suppress(OSError):
            _bump_version(self.db)
        with contextlib.suppress(OSError):
            side_file(self.db, ".writer").unlink()
        _close(w.fds)  # the lock first, then the turnstile


def _close(fds: tuple[int, ...]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        with contextlib.suppress(OSError):
            os.close(fd)


def acquire(db: Path, mode: str, timeout: float | None = None, *,
            notify: Callable[[str], None] | None = None, join: bool = True) -> Lock:
    """Lock warehouse file ``db`` for ``mode`` ("read": shared, "write": exclusive), waiting at most ``timeout``
    seconds (default :func:`lock_timeout`). ``notify`` gets the waiting message once (default: stderr);
    :class:`LockTimeout` when the time is up. ``join=False``: while this process writes, wait for the write to
    end like another process would, instead of joining it (a thread that must not share the writer's database)."""
    if mode not in ("read", "write"):
        raise ValueError(f"mode must be 'read' or 'write', not {mode!r}")
    db = Path(db).resolve()
    timeout = lock_timeout() if timeout is None else timeout
    say = notify or (lambda msg: print(msg, file=sys.stderr, flush=True))
    told = []

    def on_wait() -> None:
        if not told:
            told.append(True)
            say(waiting_message(db))

    p = _PROCESS
    me = threading.get_ident()
    with p.lock:
        w = p.writers.get(db) if join else None
        if w is not None:  # this process writes it: join (DuckDB shares the instance within a process)
            w.count += 1
            return Lock(db, "write", w.fds, joined=True)
        if mode == "write" and p.readers.get(db, {}).get(me):
            raise LockError("本线程仍打开着该数据仓库的只读连接,不能再以写方式打开",
                            "this thread still has a read-only connection to the warehouse open: close it first")
    deadline = time.monotonic() + timeout
    turn = _open(side_file(db, ".turnstile"))
    main = _open(side_file(db, ".lock"))
    try:
        if mode == "read":
            if not (_poll(turn, fcntl.LOCK_SH, deadline, on_wait) and _poll(main, fcntl.LOCK_SH, deadline, on_wait)):
                raise timeout_error(db, timeout)
            fcntl.flock(turn, fcntl.LOCK_UN)
            os.close(turn)
            turn = -1
            with p.lock:
                threads = p.readers.setdefault(db, {})
                threads[me] = threads.get(me, 0) + 1
            return Lock(db, "read", (main,), joined=False)
        if not _poll(turn, fcntl.LOCK_EX, deadline, on_wait):
            raise timeout_error(db, timeout)
        with contextlib.suppress(OSError):  # queued first: new readers wait for us from here on
            _write_json(side_file(db, ".writer"),
                        {"pid": os.getpid(), "command": this_command(), "since": clock.stamp().isoformat()})
        if not _poll(main, fcntl.LOCK_EX, deadline, on_wait):
            with contextlib.suppress(OSError):
                side_file(db, ".writer").unlink()
            raise timeout_error(db, timeout)
        with p.lock:
            p.writers[db] = _Writer((main, turn))
        return Lock(db, "write", (main, turn), joined=False)
    except BaseException:
        _close(tuple(fd for fd in (main, turn) if fd >= 0))
        raise


def in_use(db: Path) -> bool:
    """Whether any process holds (or is queued for) a lock on ``db``, asked without waiting and without taking
    anything a writer would leave a trace of (no ``.writer`` record, no version bump). For tools that must not
    act under a running server: ``jicai restore --force``, ``jicai doctor``."""
    for suffix in (".lock", ".turnstile"):
        try:
            fd = os.open(side_file(Path(db), suffix), os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
    return False
