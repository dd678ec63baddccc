"""The one runner every computing command goes through (a module with ``_``: not a command of its own).

It owns what the commands used to copy: the shared options (``--format``, ``--out``, ``--policy``), parsing
dates, months and cycle years, opening the warehouse once and closing it whatever happens, checking the input
tables, resolving the policy, writing a :class:`~jicai.reports.documents.Report` through the one output
pipeline, and turning any :class:`~jicai.errors.BilingualError` into the bilingual exit. A computing command is
then a few lines: parse, call the measure, hand rows to the pipeline.

:func:`measure_command` goes one step further: it makes the whole ``jicai <measure>`` command from a registered
measure's declaration, so a measure added through the registry has its command without a line of CLI code.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer

from jicai import calendar, clock
from jicai.console import console, fail, fail_with, out
from jicai.errors import BilingualError
from jicai.measures.registry import PARAMS, Args, Measure
from jicai.reports.documents import Report, measure_table

FORMATS = ("xlsx", "csv", "json")


def format_option(formats: tuple[str, ...] = FORMATS) -> Any:
    return typer.Option(None, "--format", help=f"输出格式(缺省:--out 的扩展名,否则 {formats[0]}) / output format: "
                                               f"{', '.join(formats)} (default: the --out suffix, else {formats[0]})")


OUT = typer.Option(None, "--out", help="输出文件 / output file (default: <data>/reports/)")
POLICY_OF_BATCH = typer.Option(None, "--policy", help="政策文件(缺省:批次指定的政策) / policy TOML "
                                                      "(default: the policy the batch names)")
POLICY = typer.Option(None, "--policy", help="政策文件(缺省:内置政策) / policy TOML (default: bundled)")


def option(name: str, default: Any = ..., zh: str | None = None) -> Any:
    """The ``--option`` of measure parameter ``name`` (:data:`PARAMS`): required unless a ``default`` is given;
    ``zh`` says what it means for this command when the parameter's own label is too general."""
    p = PARAMS[name]
    return typer.Option(default, p.option, help=f"{zh or p.zh} / {p.en}")


# Days a measure can compute as of: the engines' date arithmetic (a day after, a cycle year ahead) overflows near
# 9999-12-31 and 0001-01-01; no procurement data lies outside these years.
DAY_RANGE = (date(1900, 1, 1), date(2999, 12, 31))


def parse_day(text: str, option: str = "--as-of") -> date:
    """A day from the option ``option`` (``YYYY-MM-DD``, within :data:`DAY_RANGE`); the calendar's bilingual error,
    naming the option."""
    try:
        day = calendar.parse_day(text)
    except calendar.CalendarError as exc:
        raise calendar.CalendarError(f"{option}:{exc.zh}", f"{option}: {exc.en}") from None
    lo, hi = DAY_RANGE
    if not lo <= day <= hi:
        raise calendar.CalendarError(f"{option}:日期 {day.isoformat()} 超出可计算范围（{lo.isoformat()} 至 {hi.isoformat()}）",
                                     f"{option}: {day.isoformat()} is outside the days jicai computes "
                                     f"({lo.isoformat()} to {hi.isoformat()})")
    return day


def parse_param(name: str, raw: Any) -> Any:
    """A measure parameter from its command-line text, validated (a bilingual error when it is not valid)."""
    if raw is None:
        return None
    kind = PARAMS[name].kind
    if kind == "date":
        return parse_day(str(raw), PARAMS[name].option)
    if kind == "int":
        if int(raw) < 1:
            raise BilingualError(f"采购年度应 ≥ 1:{raw}", f"cycle year must be ≥ 1: {raw}")
        return int(raw)
    if kind == "month":
        return calendar.month_label(calendar.parse_month(str(raw)))
    if kind == "peers":  # resolved for its owner before (peer_group_option): the group's members
        return raw
    return str(raw)


def shown_value(v: Any) -> Any:
    """A parameter's value as a report or a message names it: a peer group by its name (its ``str()`` is the name
    with the members' digest, the figures' cache key)."""
    from jicai.analytics.deciles import PeerGroup

    return v.name if isinstance(v, PeerGroup) else v


@contextlib.contextmanager
def open_warehouse(settings: Any, mode: str) -> Iterator[Any]:
    """The warehouse opened to ``mode`` it ("read" or "write"), closed at the end; a lock that cannot be had in
    time (another command writes) is a bilingual exit, not a traceback."""
    try:
        wh = settings.warehouse(mode)
    except BilingualError as exc:
        fail_with(exc)
    try:
        yield wh
    finally:
        wh.close()


@dataclass
class Run:
    """One command run: its settings, output choices and the warehouse it opened (closed by :func:`run`).

    The warehouse is opened to read: computing commands run side by side with each other and with
    ``jicai serve``. A command that keeps its results in the warehouse writes them through :meth:`store`."""

    settings: Any
    fmt: str
    out_path: Path | None
    policy_path: Path | None
    computed_at: datetime = field(default_factory=clock.stamp)
    formats: list[str] = field(default_factory=list)  # a document command's formats (--format all / a list)
    _wh: Any = None

    @property
    def warehouse(self) -> Any:
        if self._wh is None:
            self._wh = self.settings.warehouse("read")
        return self._wh

    def store(self, write: Callable[[Any], Any]) -> Any:
        """``write(warehouse)`` on a write connection of its own, held only for the write: the read connection
        is closed first (a process cannot wait for the write lock while holding a read lock itself); a later
        :attr:`warehouse` opens a new one."""
        self.close()
        wh = self.settings.warehouse("write")
        try:
            return write(wh)
        finally:
            wh.close()

    def require(self, tables: Any) -> None:
        missing = [t for t in tables if not self.warehouse.has_table(t)]
        if missing:
            raise BilingualError(f"数据仓库缺少表:{', '.join(missing)}(请先 jicai import)",
                                 f"warehouse lacks tables: {', '.join(missing)} (run jicai import first)")

    def policy(self, batch: str | None = None) -> Any:
        from jicai.commands.policy import policy_for

        return policy_for(self.settings, self.warehouse, batch, self.policy_path)

    def bundled_policy(self) -> Any:
        """``--policy FILE``, else the policy every batch names (the province's own: the demo's Fujian policy),
        else the bundled default: the policy of a command whose rules no batch names (fund supervision; its
        option is :data:`POLICY`)."""
        from jicai.policy import load_policy
        from jicai.policy.registry import PolicyLookupError, resolve_policy

        if self.policy_path is None:
            try:
                return resolve_policy(self.settings.data_dir, self.warehouse, None, None)
            except PolicyLookupError:  # batches name different policies, or one not installed: the default
                return load_policy()
        if not Path(self.policy_path).exists():
            raise BilingualError(f"政策文件不存在:{self.policy_path}", f"policy file not found: {self.policy_path}")
        try:
            return load_policy(self.policy_path)
        except BilingualError:
            raise
        except Exception as exc:  # noqa: BLE001 - a validation error, shown to the user
            raise BilingualError(f"政策文件无效:{exc}", f"invalid policy: {exc}") from exc

    def path(self, stem: str) -> Path:
        return self.out_path or self.settings.data_dir / "reports" / f"{stem}.{self.fmt}"

    def write(self, report: Report, stem: str) -> Path:
        from jicai.reports.output import write

        return write(report, self.fmt, self.path(stem))

    def write_all(self, report: Report, stem: str) -> list[Path]:
        """A document command's report in each of its formats, as ``<stem>.<fmt>`` in the ``--out`` folder."""
        from jicai.reports.output import write_report

        return write_report(report, self.out_path or self.settings.data_dir / "reports", stem, self.formats)

    def close(self) -> None:
        if self._wh is not None:
            self._wh.close()
            self._wh = None


@contextlib.contextmanager
def run(ctx: typer.Context, fmt: str | None, out_path: Path | None, policy_path: Path | None,
        formats: tuple[str, ...] = FORMATS, many: bool = False) -> Iterator[Run]:
    """A command run: checks the format, closes the warehouse at the end, exits bilingually on a domain error.

    ``many``: a document command — ``--format`` is ``all`` or a comma-separated list of ``formats`` and
    ``--out`` a folder (:meth:`Run.write_all`)."""
    if many:
        chosen = list(formats) if fmt in (None, "all") else [f.strip() for f in fmt.split(",") if f.strip()]
        if not chosen or set(chosen) - set(formats):
            fail(f"不支持的格式 {fmt}(可选 {'、'.join(formats)}、all,可用逗号分隔)",
                 f"unsupported format {fmt} ({', '.join(formats)}, all, or a comma-separated list)")
    else:
        if fmt is None:  # --out 监测.csv says csv
            suffix = out_path.suffix.lstrip(".").lower() if out_path else ""
            fmt = suffix if suffix in formats else formats[0]
        if fmt not in formats:
            fail(f"不支持的格式 {fmt}(可选 {'/'.join(formats)})", f"unsupported format {fmt} ({'/'.join(formats)})")
        chosen = [fmt]
    r = Run(ctx.obj, chosen[0], out_path, policy_path, formats=chosen)
    try:
        yield r
    except BilingualError as exc:
        fail_with(exc)
    finally:
        r.close()


def measure_report(m: Measure, rows: list[dict[str, Any]], args: Args, computed_at: datetime) -> Report:
    """A report of one measure's rows: its columns from the vocabulary, coded values named, summed columns."""
    params = {p: shown_value(args.of(p)) for p in m.params}
    period = ",".join(f"{PARAMS[p].zh} {v}" for p, v in params.items() if v is not None)
    as_of = args.as_of or computed_at.date()
    report = Report(kind=m.name, title=m.title_zh, period=period, as_of=as_of, batch_id=args.batch,
                    policy_version=args.policy.version, policy_label=args.policy.label, computed_at=computed_at,
                    paragraphs=[p for p in (m.note_zh,) if p], params=params)
    report.tables.append(measure_table(m, rows))
    return report


def summary_lines(m: Measure, rows: list[dict[str, Any]]) -> list[str]:
    """Counts a reader checks first: rows per coded value of each enum / flags column, by its Chinese name."""
    lines = []
    for name, names in m.labels.items():
        kind = m.column(name).kind
        for code, (zh, _) in names.items():
            if kind == "flags":
                n = sum(1 for r in rows if code in (r.get(name) or "").split(";"))
            else:
                n = sum(1 for r in rows if r.get(name) == code)
            lines.append(f"  {zh} {code}: {n}")
    return lines


def compute_measure(r: Run, m: Measure, raw: dict[str, Any]) -> tuple[Args, list[dict[str, Any]]]:
    """Parse ``raw`` parameters, check the input tables, resolve the policy and compute the sorted rows."""
    values = {p: parse_param(p, raw.get(p)) for p in m.params}
    missing = [PARAMS[p].option for p, v in values.items() if v is None and p not in m.optional]
    if missing:
        raise BilingualError(f"缺少参数 {', '.join(missing)}", f"missing option(s) {', '.join(missing)}")
    r.require(m.inputs)
    args = Args(r.policy(values.get("batch")), **values)
    return args, measure_rows(r, m, args)


def measure_rows(r: Run, m: Measure, args: Args) -> list[dict[str, Any]]:
    """The measure's rows for ``args`` (parsed, policy resolved) in its default order — for a command that
    computes several measures for one set of arguments, or with arguments of its own (an Args subclass)."""
    with console.status(f"正在计算{m.title_zh} / computing {m.title_en}…"):
        t = m.rows(r.warehouse, args)
        if m.sort:
            t = t.order_by(list(m.sort))
        return t.to_pyarrow().to_pylist()


def _stem(m: Measure, args: Args) -> str:
    def part(v: Any) -> str:  # a peer group by its members' digest: a name may hold spaces and brackets
        return str(getattr(v, "digest", v))

    parts = [m.command_name.replace("-", "_")] + [part(args.of(p)) for p in m.params if args.of(p) is not None]
    return "_".join(parts)


def _shared_options(policy_option: Any, formats: tuple[str, ...], many: bool) -> list[inspect.Parameter]:
    P = inspect.Parameter
    if many:
        fmt = typer.Option("all", "--format", help=f"输出格式 / format: {', '.join(formats)}, all "
                                                   "(或逗号分隔 / or comma-separated)")
        out_ = typer.Option(None, "--out", help="输出目录 / output folder (default: <data>/reports/)")
    else:
        fmt, out_ = format_option(formats), OUT
    return [P("fmt", P.KEYWORD_ONLY, annotation=str, default=fmt),
            P("out_path", P.KEYWORD_ONLY, annotation=Path, default=out_),
            P("policy_path", P.KEYWORD_ONLY, annotation=Path, default=policy_option)]


def _wrapped(fn: Callable[..., None], own: list[inspect.Parameter], policy_option: Any,
             formats: tuple[str, ...], many: bool = False) -> Callable[..., None]:
    """A typer command: ``ctx``, the command's own options, the shared ones; runs ``fn(r, **own)`` in :func:`run`."""

    def command(ctx: typer.Context, **kw: Any) -> None:
        fmt, out_path, policy_path = kw.pop("fmt"), kw.pop("out_path"), kw.pop("policy_path")
        with run(ctx, fmt, out_path, policy_path, formats, many) as r:
            fn(r, **kw)

    P = inspect.Parameter
    params = [P("ctx", P.POSITIONAL_OR_KEYWORD, annotation=typer.Context)]
    params += [p.replace(kind=P.KEYWORD_ONLY) for p in own] + _shared_options(policy_option, formats, many)
    command.__signature__ = inspect.Signature(params)  # typer reads the options from the signature
    command.__doc__ = fn.__doc__
    return command


def computing_command(app: typer.Typer, name: str, *, policy: Any = POLICY_OF_BATCH,
                      formats: tuple[str, ...] = FORMATS,
                      many: bool = False) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register ``fn(r: Run, **options)`` as ``jicai <name>``: its own options, then ``--format``, ``--out`` and
    ``--policy`` (``policy``: :data:`POLICY_OF_BATCH` or :data:`POLICY`), run inside :func:`run`.

    A computing command is then only what is its own::

        @computing_command(app, "onboarding")
        def onboarding(r: Run, as_of: str = typer.Option(..., "--as-of")) -> None:
            ...
    """

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        own = list(inspect.signature(fn, eval_str=True).parameters.values())[1:]  # after the Run
        command = _wrapped(fn, own, policy, formats, many)
        command.__name__ = name.replace("-", "_")
        app.command(name)(command)
        return fn

    return decorate


PEERS_USER = typer.Option(None, "--user", help="对比组所有者(用 --peers 时必填)/ the peer group's owner (with --peers)")
UNIT = typer.Option("min", "--unit", help="计量单位:min 最小单位;ddd 另加DDD数与每DDD费用 / unit: min (minimum "
                                          "units) or ddd (adds each volume in DDDs and the cost per DDD)")


def unit_option(raw: str | None) -> str:
    """``--unit``: min or ddd (a bilingual error for another)."""
    from jicai.analytics.ddd_units import unit

    return unit(raw)


def measure_command(m: Measure):
    """The ``jicai <m.name>`` command of a registered measure: its parameters as options, then the runner."""

    def body(r: Run, **kw: Any) -> None:
        if "peers" in m.params:  # a saved group's name → its members, for the user who owns (or may use) it
            from jicai.commands.peers import resolve_group

            kw["peers"] = resolve_group(r.settings, kw.get("peers"), kw.pop("user", None), kw.pop("url", None))
        shown_in = m
        if unit_option(kw.pop("unit", None)) == "ddd":  # the rows with their DDD columns (analytics.ddd_units)
            from jicai.analytics.ddd_units import in_ddd

            shown_in = in_ddd(m)
        args, rows = compute_measure(r, shown_in, kw)
        stem = _stem(m, args) + ("_ddd" if shown_in is not m else "")
        path = r.write(measure_report(shown_in, rows, args, r.computed_at), stem)
        shown = " ".join(f"{PARAMS[p].zh} {shown_value(args.of(p))}" for p in m.params if args.of(p) is not None)
        out.print(f"{m.title_zh} {shown}(政策 {args.policy.label}):{len(rows)} 行")
        if "peers" in m.params:
            group = args.of("peers")
            out.print(f"  比较范围:{f'对比组 {group.name}({len(group.members)} 家)' if group else '同级机构'}")
        for line in summary_lines(m, rows):
            out.print(line)
        out.print(f"  报表:{path}")

    P = inspect.Parameter
    own = [P(name, P.KEYWORD_ONLY, annotation=int if PARAMS[name].kind == "int" else str,
             default=option(name, None if name in m.optional else ...)) for name in m.params]
    from jicai.analytics.ddd_units import convertible

    if convertible(m):
        own.append(P("unit", P.KEYWORD_ONLY, annotation=str, default=UNIT))
    if "peers" in m.params:  # whose group --peers names, and where the groups are kept
        from jicai.commands._workflow import URL

        own += [P("user", P.KEYWORD_ONLY, annotation=str, default=PEERS_USER),
                P("url", P.KEYWORD_ONLY, annotation=str, default=URL)]
    command = _wrapped(body, own, POLICY_OF_BATCH, FORMATS)
    command.__name__ = m.command_name.replace("-", "_")
    command.__doc__ = f"{m.title_zh}{':' + m.note_zh if m.note_zh else ''} / {m.title_en}."
    return command
