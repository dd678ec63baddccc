"""The measure registry: every measure declared once, as data, beside its Ibis code.

A :class:`Measure` says what the measure is (name, Chinese and English title, doc text), what it needs (its
parameters, the warehouse tables it reads, the policy parameters it reads), what it returns (its columns from
the shared vocabulary of :mod:`jicai.contract.columns`, with the names of its coded values), who may see which
rows (the dimensions scope filters on, the roles that see it) and how it is shown (default sort, summed
columns, menu group). The CLI command, the web page and API endpoint, the export and the docs tables are all
generated from this declaration; nothing else lists measures.

Measures register through the ``jicai.measures`` entry-point group, the door a bureau's own package uses too::

    [project.entry-points."jicai.measures"]
    mybureau = "mybureau.measures"        # a module or package: every MEASURES tuple in it
    one = "mybureau.extra:MY_MEASURE"     # or one Measure (or a tuple of them)

jicai registers its built-in packages the same way (see pyproject.toml), so a new built-in measure is a new
module with a ``MEASURES = (Measure(...),)`` tuple in one of them — no list to edit, no import side effect.

>>> m = measures()["listing"]
>>> m.title_zh, m.params, "price_tolerance" in m.policy
('挂网价格治理', ('as_of',), True)
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import ibis.expr.types as ir

from jicai.contract.columns import Col
from jicai.contract.roles import ROLES
from jicai.errors import BilingualError

GROUPS = {"execution": ("执行监测", "Execution"), "assessment": ("考核与结算", "Assessment"),
          "supply": ("供应保障", "Supply"), "fund": ("基金监管", "Fund supervision")}


class RegistryError(BilingualError, ValueError):
    """A measure declaration is inconsistent (a duplicate name, an unknown parameter or group)."""


@dataclass(frozen=True)
class Param:
    """A measure parameter: its name in code and URLs, its CLI option, its labels and its kind."""

    name: str
    option: str  # the CLI flag
    zh: str
    en: str
    kind: str  # date, text, int, month, period, quarter


PARAMS: dict[str, Param] = {p.name: p for p in (
    Param("as_of", "--as-of", "截至日期", "as-of date (YYYY-MM-DD, inclusive)", "date"),
    Param("batch", "--batch", "批次", "batch id", "text"),
    Param("year", "--year", "采购年度", "cycle year k (1, 2, …)", "int"),
    Param("month", "--month", "月份", "month (YYYY-MM)", "month"),
    Param("period", "--period", "结算期", "settlement period", "period"),
    Param("quarter", "--quarter", "季度", "quarter (YYYYQn)", "quarter"),
    # a peer group saved by the user (workflow); the CLI and the web resolve its name to its members for the
    # user asking, so a measure receives the members (jicai.analytics.deciles.PeerGroup), never a name
    Param("peers", "--peers", "对比组", "peer group name (saved with jicai peers add; default: the same level)",
          "peers"),
)}


@dataclass(frozen=True)
class Dims:
    """The columns of a measure's rows that tie a row to an institution, a region, a product, an enterprise —
    what scope filters on (:mod:`jicai.web.scope`)."""

    institution: str | None = None  # institution_code / pharmacy_code
    region: str | None = None  # region_code of the row's institution, when the table has it
    product: str | None = None  # product_code
    enterprise: tuple[str, ...] = ()  # columns holding an enterprise code (manufacturer, distributor, …)
    variety: str | None = None  # variety_id, for rows that name no product


@dataclass(frozen=True)
class Args:
    """The arguments a measure is computed for: its parameters (None when it takes none) and the policy."""

    policy: Any
    as_of: date | None = None
    batch: str | None = None
    year: int | None = None
    month: str | None = None
    period: str | None = None
    quarter: str | None = None
    peers: Any = None  # a resolved peer group (jicai.analytics.deciles.PeerGroup), or None: the same level

    def of(self, name: str) -> Any:
        return getattr(self, name)


@dataclass(frozen=True)
class Measure:
    name: str  # jicai <name>, /data/<name>, /api/<name>
    title_zh: str
    title_en: str
    compute: Callable[[Any, Args], ir.Table]  # (warehouse, args) -> an unexecuted Ibis table
    params: tuple[str, ...]
    inputs: tuple[str, ...]  # warehouse tables read
    columns: tuple[Col, ...]
    dims: Dims
    roles: tuple[str, ...] = ROLES
    sort: tuple[str, ...] = ()
    policy: tuple[str, ...] = ()  # policy parameters read
    labels: Mapping[str, Mapping[str, tuple[str, str]]] = field(default_factory=dict)  # enum col → code → names
    totals: tuple[str, ...] = ()  # columns a totals row sums
    optional: tuple[str, ...] = ()  # parameters that may be left out (the measure then covers all)
    group: str = "execution"
    note_zh: str = ""
    note_en: str = ""
    doc: str = ""  # the measure's definition (its module docstring), for the docs
    command: bool = True  # a generated `jicai <cli or name>` command, unless a hand-written one takes the name
    cli: str | None = None  # the command's name when it is not the measure's (audit-volume for volume-audit)
    web: bool = True  # a page and an API endpoint
    # computed by the web server for its default arguments at start and after every import (web/warmup.py);
    # False for the heavier analyses a page opens rarely: they are computed when first asked for, so that they
    # do not hold back the figures of every page after an import
    warm: bool = True

    def __post_init__(self) -> None:
        bad = [p for p in self.params if p not in PARAMS]
        names = [c.name for c in self.columns]
        problems = []
        if bad:
            problems.append((f"未知参数 {bad}", f"unknown parameters {bad}"))
        if self.group not in GROUPS:
            problems.append((f"未知分组 {self.group}", f"unknown group {self.group}"))
        if len(set(names)) != len(names):
            problems.append(("列名重复", "duplicate columns"))
        for what, cs in (("sort", self.sort), ("totals", self.totals), ("labels", tuple(self.labels))):
            if set(cs) - set(names):
                problems.append((f"{what} 含未列出的列 {sorted(set(cs) - set(names))}",
                                 f"{what} names columns not listed: {sorted(set(cs) - set(names))}"))
        dims = [v for v in vars(self.dims).values() if isinstance(v, str)]
        dims += [c for v in vars(self.dims).values() if isinstance(v, tuple) for c in v]
        if set(dims) - set(names):
            problems.append((f"范围维度含未列出的列 {sorted(set(dims) - set(names))}",
                             f"dims name columns not listed: {sorted(set(dims) - set(names))}"))
        if problems:
            raise RegistryError(f"指标 {self.name}:" + ";".join(p[0] for p in problems),
                                f"measure {self.name}: " + "; ".join(p[1] for p in problems))

    def column(self, name: str) -> Col:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def command_name(self) -> str:
        return self.cli or self.name

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def rows(self, wh: Any, args: Args) -> ir.Table:
        """The measure's rows as an Ibis table with its declared columns, in order (a declared column the
        computation does not return is an error here, not a column silently missing from a page)."""
        return self.compute(wh, args).select(*self.column_names)


def _collect(obj: Any, seen: set[str]) -> Iterable[Measure]:
    if isinstance(obj, Measure):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _collect(o, seen)
    elif isinstance(obj, ModuleType):
        if obj.__name__ in seen:
            return
        seen.add(obj.__name__)
        yield from _collect(getattr(obj, "MEASURES", ()), seen)
        if hasattr(obj, "__path__"):  # a package: every module in it
            for info in sorted(pkgutil.iter_modules(obj.__path__), key=lambda i: i.name):
                if not info.name.startswith("_"):
                    yield from _collect(importlib.import_module(f"{obj.__name__}.{info.name}"), seen)
    else:
        raise RegistryError(f"jicai.measures 入口指向的对象不是指标:{obj!r}",
                            f"a jicai.measures entry point names no measure: {obj!r}")


@cache
def measures() -> dict[str, Measure]:
    """Every registered measure by name, in the order the entry points and their modules list them."""
    found: dict[str, Measure] = {}
    seen: set[str] = set()
    builtin_first = sorted(entry_points(group="jicai.measures"), key=lambda e: (not e.value.startswith("jicai."), e.name))
    for ep in builtin_first:
        for m in _collect(ep.load(), seen):
            if m.name in found and found[m.name] is not m:
                raise RegistryError(f"指标名称重复:{m.name}", f"two measures are named {m.name}")
            found[m.name] = m
    return found


def measure(name: str) -> Measure:
    try:
        return measures()[name]
    except KeyError:
        raise RegistryError(f"没有名为 {name} 的指标", f"no measure named {name}") from None
