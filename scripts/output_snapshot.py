"""Snapshot every jicai command's csv/json output on the demo province, and compare two snapshots.

Why: issue 11 (one shape for every measure) rewrites the commands, the report writers and the money
arithmetic, and its acceptance is that the csv/json outputs of every command on the demo province are
byte-identical before and after, except where money is now rounded. This script takes the "before" and
"after" snapshots with the same fixed arguments and says where they differ.

Take a snapshot (the code run is whichever ``jicai`` comes first on PYTHONPATH of the interpreter that runs
this script; every command runs as a subprocess of ``sys.executable`` that runs ``jicai.cli`` as
``__main__``, like ``-m jicai.cli``, with ``JICAI_DATA_DIR`` set)::

    cp -a /work/snapshot-data-pristine /tmp/copy        # the snapshot changes its data dir, see below
    PYTHONPATH=src .venv/bin/python scripts/output_snapshot.py --data-dir /tmp/copy --out /tmp/outputs

or let the script make (and remove) the fresh copy itself: ``--data-dir PRISTINE --copy``.

The data dir is changed by a snapshot: ``monitor`` and ``assess`` store their results in the warehouse
(``monitor_results``, ``assessment_results``), replacing the rows of the same as-of date or batch and year.
Their csv/json are computed before they are stored, and no other command reads those tables, but run every
snapshot on a fresh copy of the same pristine data dir so that two runs start from the same bytes. The
commands run one at a time in the fixed order of ``CASES``.

Each command is run once with ``--format csv`` and once with ``--format json`` and writes
``OUT/<command>_<args>.<fmt>`` (plus the side files some csv outputs write beside it, e.g.
``..._summary.csv``), its stdout in ``OUT/<command>_<args>.<fmt>.stdout`` and, when it fails, its stderr in
``.stderr``. ``OUT/index.tsv`` lists every run, its exit code and its files. Commands whose csv/json goes to
stdout (``quarantine``, ``policy show``) have it saved as the output file. ``simulate`` writes a csv folder.

Repeatable: every command runs with DuckDB on one thread (``--threads 1``, the default), because on several
threads HEAD's output is not repeatable: ``monitor`` writes its rows in no defined order, and float sums of
yuan change in their last bits (1342329.0800000003 one run, 1342329.08 the next). Normalised, because they
legitimately change from run to run: the ``computed_at``/``generated_at`` values (json keys and csv
columns), the absolute paths of the data dir and of the output folder (printed in stdout as ``<DATA>`` and
``<OUT>``) and the elapsed seconds ``simulate`` prints. Nothing else is touched.

Left out: xlsx everywhere, and the commands with no csv/json: ``report monthly|quarterly|annual``
(xlsx/html/pdf), ``demo`` (simulates, imports and writes an xlsx: it made the data dir), ``import``,
``import-announcement``, ``policy install|validate|list``, ``users``, ``db`` and ``serve`` (they change
state or serve; they compute no figures).

Compare two snapshots: ``python scripts/output_snapshot.py --compare BEFORE AFTER`` prints each file as
identical or differs, and for a file that differs its first differing lines and, for csv and json, the columns
whose values differ: how many cells, the largest absolute difference of numeric cells, tagged "float noise"
(relative ≤ 1e-12) or "≤ half a fen". Rows whose order changed are matched on their text columns (codes,
names, months) and a file that differs only in its row order says so. A summary line ends; exit 1 if any
file differs or is only on one side.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# the demo province (jicai demo, seed 2024, 300 institutions, 2024-01-01 .. 2024-12-31): two batches,
# GJ-YP-JX (drugs, from 2024-01-01; volume reports for cycle year 2) and LM-GG-2024 (reagents, from
# 2024-02-26, with imported prepayments). Arguments from the README "Using it on your own data" and the
# demo's printed suggestions, plus a few variants (a batch filter, an earlier as-of, a provisional year)
# that reach other branches of the same commands.


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    formats: tuple[str, ...] = ("csv", "json")
    how: str = "file"  # file: --out FILE; stdout: the output is stdout; folder: --out DIR


CASES: tuple[Case, ...] = (
    Case(("monitor", "--as-of", "2024-06-30")),
    Case(("monitor", "--as-of", "2024-12-31")),
    Case(("monitor", "--as-of", "2024-12-31", "--batch", "LM-GG-2024")),
    Case(("audit-volume", "--batch", "GJ-YP-JX", "--year", "2")),
    Case(("assess", "--batch", "GJ-YP-JX", "--year", "1")),
    Case(("assess", "--batch", "LM-GG-2024", "--year", "1")),
    Case(("assess", "--batch", "GJ-YP-JX", "--year", "1", "--as-of", "2024-06-30")),
    Case(("prepayment", "--batch", "GJ-YP-JX", "--year", "1")),
    Case(("prepayment", "--batch", "LM-GG-2024", "--year", "1")),
    Case(("prepayment", "--batch", "LM-GG-2024", "--year", "1", "--as-of", "2024-06-30")),
    Case(("onboarding", "--as-of", "2024-03-31")),
    Case(("onboarding", "--as-of", "2024-12-31")),
    Case(("listing", "--as-of", "2024-06-30")),
    Case(("supply", "--month", "2024-09")),
    Case(("supply", "--month", "2024-06", "--batch", "GJ-YP-JX")),
    Case(("supply-alerts", "--month", "2024-09")),
    Case(("supply-alerts", "--month", "2024-09", "--months", "3")),
    Case(("supply-periods", "--as-of", "2024-06-30")),
    Case(("supply-periods", "--as-of", "2024-12-31")),
    Case(("supply-continuity", "--batch", "LM-GG-2024")),
    Case(("supply-continuity", "--batch", "LM-GG-2024", "--all")),
    Case(("capitation", "--period", "2024")),
    Case(("pharmacy", "--month", "2024-07")),
    Case(("budget", "--quarter", "2024Q3")),
    Case(("budget", "--as-of", "2024-12-31")),
    Case(("quarantine", "--limit", "100000"), how="stdout"),
    Case(("policy", "show"), formats=("json",), how="stdout"),
    Case(("simulate", "--institutions", "40", "--months", "3", "--seed", "1"), formats=("csv",), how="folder"),
)

# a run's own stamps: the value is replaced, the key or column stays
# DuckDB runs a query on several threads by default; then rows without an ORDER BY (monitor's csv/json) come
# out in a different order on each run, and float sums (money in yuan) differ in their last bits
# (1342329.0800000003 one run, 1342329.08 the next). A snapshot pins DuckDB to one thread, the same for the
# code before and after: this wraps duckdb.connect (through which ibis opens every DuckDB connection),
# then runs ``python -m jicai.cli`` unchanged.
ONE_THREAD = """\
import runpy, duckdb
_connect = duckdb.connect
def connect(database=":memory:", *args, config=None, **kw):
    config = dict(config or {})
    config["threads"] = 1
    return _connect(database, *args, config=config, **kw)
duckdb.connect = connect
runpy.run_module("jicai.cli", run_name="__main__", alter_sys=True)
"""

STAMP_KEYS = ("computed_at", "generated_at")
STAMP = "<normalised>"
ELAPSED = re.compile(r"用时 \d+(?:\.\d+)? 秒")


def case_name(case: Case) -> str:
    """``monitor --as-of 2024-06-30 --batch X`` → ``monitor_as-of-2024-06-30_batch-X``."""
    i = next((k for k, a in enumerate(case.args) if a.startswith("-")), len(case.args))
    command = "-".join(case.args[:i])
    parts: list[str] = []
    for a in case.args[i:]:
        if a.startswith("--"):
            parts.append(a[2:])
        else:
            parts[-1] += f"-{a}"
    return "_".join([command, *parts])


# ---------------------------------------------------------------------------------------------- normalising

def _replace_paths(text: str, paths: list[tuple[str, str]]) -> str:
    for raw, label in paths:
        text = text.replace(raw, label)
    return text


def _stamp_json(text: str) -> str:
    keys = "|".join(STAMP_KEYS)
    return re.sub(rf'("(?:{keys})"\s*:\s*)"[^"]*"', rf'\1"{STAMP}"', text)


def _stamp_csv(text: str) -> str:
    """Blank the stamp columns' cells; the file is rewritten only when it has such a column."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom):]
    header = next(csv.reader(io.StringIO(body)), [])
    cols = [k for k, name in enumerate(header) if name in STAMP_KEYS]
    if not cols:
        return text
    newline = "\r\n" if "\r\n" in body else "\n"
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=newline)
    for n, row in enumerate(csv.reader(io.StringIO(body))):
        if n:
            row = [STAMP if k in cols and v else v for k, v in enumerate(row)]
        writer.writerow(row)
    return bom + buf.getvalue()


def normalise(path: Path, paths: list[tuple[str, str]]) -> None:
    """Rewrite ``path`` without its run-dependent parts (see the module docstring); binary files stay."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return
    text = _replace_paths(text, paths)
    if path.suffix == ".json":
        text = _stamp_json(text)
    elif path.suffix == ".csv":
        text = _stamp_csv(text)
    elif path.suffix in (".stdout", ".stderr"):
        text = ELAPSED.sub("用时 <秒> 秒", text)
    if text.encode("utf-8") != raw:
        path.write_bytes(text.encode("utf-8"))


# ------------------------------------------------------------------------------------------------ snapshot

def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def child_env(data_dir: Path) -> dict[str, str]:
    """The environment of every command: this interpreter's PYTHONPATH made absolute, no inherited JICAI_*
    setting (a warehouse URL would send the commands elsewhere), the data dir, plain terminal output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JICAI_")}
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in env["PYTHONPATH"].split(os.pathsep) if p)
    env.update(JICAI_DATA_DIR=str(data_dir), PYTHONHASHSEED="0", NO_COLOR="1", TERM="dumb", COLUMNS="200")
    return env


def run_case(case: Case, fmt: str, out: Path, data_dir: Path, env: dict[str, str],
             paths: list[tuple[str, str]], threads: int) -> tuple[str, int, list[str]]:
    name = f"{case_name(case)}.{fmt}"
    cli = ["-c", ONE_THREAD] if threads == 1 else ["-m", "jicai.cli"]
    argv = [sys.executable, *cli, *case.args, "--format", fmt]
    target = out / name
    if case.how in ("file", "folder"):
        argv += ["--out", str(target)]
    before = _files(out)
    done = subprocess.run(argv, env=env, cwd=data_dir, capture_output=True)
    if case.how == "stdout":
        target.write_bytes(done.stdout)
    else:
        (out / f"{name}.stdout").write_bytes(done.stdout)
    if done.returncode != 0:
        (out / f"{name}.stderr").write_bytes(done.stderr)
    new = sorted(_files(out) - before)
    for p in new:
        normalise(p, paths)
    shown = " ".join(["jicai", *case.args, "--format", fmt] + (["--out", f"<OUT>/{name}"] if case.how != "stdout" else []))
    return shown, done.returncode, [str(p.relative_to(out)) for p in new]


def snapshot(data_dir: Path, out: Path, only: list[str] | None, threads: int) -> int:
    if out.exists() and any(out.iterdir()):
        sys.exit(f"output folder is not empty: {out} (the snapshot tells its files by what each run adds)")
    out.mkdir(parents=True, exist_ok=True)
    data_dir, out = data_dir.resolve(), out.resolve()
    # longest first, so that a folder inside another is replaced before its parent
    paths = sorted({(str(out), "<OUT>"), (str(data_dir), "<DATA>"), (os.path.realpath(data_dir), "<DATA>"),
                    (os.path.realpath(out), "<OUT>")}, key=lambda p: -len(p[0]))
    env = child_env(data_dir)
    where = subprocess.run([sys.executable, "-c", "import jicai; print(jicai.__file__)"], env=env,
                           capture_output=True, text=True).stdout.strip()
    print(f"jicai from {where}; data dir {data_dir}; output {out}; DuckDB threads: "
          f"{'1' if threads == 1 else 'engine default'}", file=sys.stderr)
    index = ["name\tformat\texit\tcommand\tfiles"]
    failed = 0
    t_all = time.perf_counter()
    for case in CASES:
        if only and case.args[0] not in only:
            continue
        for fmt in case.formats:
            t0 = time.perf_counter()
            shown, code, files = run_case(case, fmt, out, data_dir, env, paths, threads)
            failed += code != 0
            index.append(f"{case_name(case)}\t{fmt}\t{code}\t{shown}\t{' '.join(files)}")
            print(f"{time.perf_counter() - t0:6.1f} s  exit {code}  {shown}", file=sys.stderr)
    (out / "index.tsv").write_text("\n".join(index) + "\n", encoding="utf-8")
    print(f"{len(index) - 1} runs, {failed} failed, {time.perf_counter() - t_all:.0f} s", file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------------------------- compare

HALF_FEN = 0.005
FLOAT_NOISE = 1e-12  # relative: the last bits of a float sum taken in another order


@dataclass
class Column:
    cells: int = 0  # differing cells
    numeric: int = 0  # of which both sides are numbers
    max_abs: float = 0.0
    max_rel: float = 0.0
    other: list[str] = field(default_factory=list)  # a few non-numeric examples

    def add(self, a, b) -> None:
        self.cells += 1
        x, y = _number(a), _number(b)
        if x is not None and y is not None:
            self.numeric += 1
            d = 0.0 if math.isnan(x) and math.isnan(y) else abs(x - y)
            self.max_abs = max(self.max_abs, d)
            self.max_rel = max(self.max_rel, d / max(abs(x), abs(y)) if d else 0.0)
        elif len(self.other) < 2:
            self.other.append(f"{a!r} → {b!r}")

    def line(self, name: str) -> str:
        text = f"    column {name}: {self.cells} cells differ"
        if self.numeric:
            tag = (" (float noise)" if self.max_rel <= FLOAT_NOISE
                   else " (≤ half a fen)" if self.max_abs <= HALF_FEN + 1e-9 else "")
            text += f", {self.numeric} numeric, max abs diff {self.max_abs:.6g}{tag}"
        if self.other:
            text += f"; e.g. {'; '.join(self.other)}"
        return text


def _number(v) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(v) if isinstance(v, str) and v.strip() else None
    except ValueError:
        return None


def _key_columns(ra: list[dict], rb: list[dict]) -> list[str]:
    """Columns that can match rows whose order changed: text (codes, names, months) in every row of both,
    holding the same values in A and B. A value that changed (a reworded text) takes its column out."""
    from collections import Counter

    common = [c for c in ra[0] if all(c in r for r in ra) and all(c in r for r in rb)]

    def text(rows: list[dict], c: str) -> bool:
        vals = [r[c] for r in rows if r[c] not in (None, "")]
        return bool(vals) and all(isinstance(v, str) and _number(v) is None for v in vals)

    return [c for c in common if text(ra, c) and text(rb, c)
            and Counter(r[c] for r in ra) == Counter(r[c] for r in rb)]


def _pairs(ra: list[dict], rb: list[dict], path: str, notes: list[str]) -> list[tuple[dict, dict]]:
    """The rows of A and B to compare: by position, or by key columns when the order changed."""
    if len(ra) == len(rb) and all(x == y for x, y in zip(ra, rb, strict=True)):
        return list(zip(ra, rb, strict=True))
    keys = _key_columns(ra, rb) if ra and rb else []
    ka = [tuple(r[c] for c in keys) for r in ra]
    kb = [tuple(r[c] for c in keys) for r in rb]
    if keys and len(set(ka)) == len(ka) and len(set(kb)) == len(kb):
        if ka != kb:
            notes.append(f"{path or 'rows'}: rows in another order; matched on {', '.join(keys)}")
        by_key = dict(zip(kb, rb, strict=True))
        return [(r, by_key[k]) for k, r in zip(ka, ra, strict=True)]
    if len(ra) != len(rb):
        notes.append(f"{path or 'rows'}: {len(ra)} rows in A, {len(rb)} in B; compared by position")
    return list(zip(ra, rb, strict=False))  # unequal lengths are noted above


def _walk(a, b, path: str, cols: dict[str, Column], notes: list[str]) -> None:
    """Differences of two parsed documents, by column path (list items collapse to ``[]``)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            p = f"{path}.{k}" if path else k
            if k not in b or k not in a:
                if f"column {p} only in" not in " ".join(notes):
                    notes.append(f"column {p} only in {'A' if k in a else 'B'}")
            else:
                _walk(a[k], b[k], p, cols, notes)
    elif isinstance(a, list) and isinstance(b, list):
        if a and b and all(isinstance(x, dict) for x in a + b):
            pairs = _pairs(a, b, path, notes)
        else:
            if len(a) != len(b):
                notes.append(f"{path or '(top)'}: {len(a)} items in A, {len(b)} in B")
            pairs = list(zip(a, b, strict=False))  # unequal lengths are noted above
        for x, y in pairs:
            _walk(x, y, f"{path}[]", cols, notes)
    elif a != b and not (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)):
        cols.setdefault(path or "(top)", Column()).add(a, b)


def _csv_records(text: str) -> tuple[list[str], list[dict]]:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header = rows[0] if rows else []
    return header, [dict(zip(header, r, strict=False)) for r in rows[1:]]


def _first_lines(a: str, b: str, n: int) -> list[str]:
    diff = difflib.unified_diff(a.splitlines(), b.splitlines(), "A", "B", n=0, lineterm="")
    lines = [line for line in diff if not line.startswith(("---", "+++"))]
    cut = [line if len(line) <= 240 else line[:240] + " …" for line in lines[:n]]
    return cut + ([f"… {len(lines) - n} more diff lines"] if len(lines) > n else [])


def describe(fa: Path, fb: Path, n_lines: int) -> tuple[list[str], bool]:
    """What differs between two versions of a file, and whether it is the row order alone."""
    ta, tb = fa.read_bytes().decode("utf-8", "replace"), fb.read_bytes().decode("utf-8", "replace")
    cols: dict[str, Column] = {}
    notes: list[str] = []
    if fa.suffix == ".csv":
        (ha, ra), (hb, rb) = _csv_records(ta), _csv_records(tb)
        if ha != hb and sorted(ha) == sorted(hb):
            notes.append("the same columns in another order")
        _walk(ra, rb, "", cols, notes)
        for c in [c for c in ha if c not in hb] + [c for c in hb if c not in ha]:
            notes.append(f"column {c} only in {'A' if c in ha else 'B'}")
    elif fa.suffix == ".json":
        try:
            _walk(json.loads(ta), json.loads(tb), "", cols, notes)
        except json.JSONDecodeError as exc:
            notes.append(f"not json: {exc}")
    order_only = bool(notes) and not cols and all("another order" in x for x in notes)
    lines = [] if order_only else [f"    {line}" for line in _first_lines(ta, tb, n_lines)]
    lines += [f"    note: {x}" for x in notes[:10]]
    lines += [c.line(name.removeprefix("[].")) for name, c in cols.items()]  # a csv's rows are the top list
    return lines, order_only


def compare(a: Path, b: Path, n_lines: int) -> int:
    fa = {str(p.relative_to(a)): p for p in _files(a)}
    fb = {str(p.relative_to(b)): p for p in _files(b)}
    counts = {"identical": 0, "differs": 0, "only in A": 0, "only in B": 0}
    order_only = 0
    for rel in sorted(set(fa) | set(fb)):
        if rel not in fb:
            kind = "only in A"
        elif rel not in fa:
            kind = "only in B"
        elif fa[rel].read_bytes() == fb[rel].read_bytes():
            kind = "identical"
        else:
            kind = "differs"
        counts[kind] += 1
        if kind != "differs":
            print(f"{kind:<10} {rel}")
            continue
        lines, reordered = describe(fa[rel], fb[rel], n_lines)
        order_only += reordered
        print(f"{kind:<10} {rel}" + ("  (row order only)" if reordered else ""))
        print("\n".join(lines))
    total = sum(counts.values())
    print(f"{total} files: " + ", ".join(f"{v} {k}" for k, v in counts.items())
          + f" (of which {order_only} in row order only)")
    return 0 if counts["identical"] == total else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, help="data dir with the demo province imported (it is changed)")
    ap.add_argument("--copy", action="store_true", help="run on a fresh temporary copy of --data-dir")
    ap.add_argument("--out", type=Path, help="an empty or new folder for the snapshot")
    ap.add_argument("--only", nargs="*", help="only these commands (first word), for a quick check")
    ap.add_argument("--threads", type=int, choices=(0, 1), default=1,
                    help="1 (default): DuckDB on one thread, so that runs are repeatable; 0: the engine's default")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"), help="compare two snapshot folders")
    ap.add_argument("--lines", type=int, default=8, help="differing lines shown per file (--compare)")
    args = ap.parse_args()
    if args.compare:
        return compare(*args.compare, args.lines)
    if not args.data_dir or not args.out:
        ap.error("--data-dir and --out are needed (or --compare A B)")
    if not (args.data_dir / "jicai.duckdb").exists():
        ap.error(f"no jicai.duckdb in {args.data_dir}")
    if not args.copy:
        return snapshot(args.data_dir, args.out, args.only, args.threads)
    with tempfile.TemporaryDirectory(prefix="jicai-snapshot-") as tmp:
        copy = Path(tmp) / "data"
        shutil.copytree(args.data_dir, copy, symlinks=True)
        return snapshot(copy, args.out, args.only, args.threads)


if __name__ == "__main__":
    sys.exit(main())
