"""What a report is, independent of its file format: a cover, paragraphs, headline figures, tables, charts.

The report builders (monthly.py, quarterly.py, annual.py) fill a :class:`Report` from the measures;
the writers (xlsx.py, html.py, pdf.py) only lay it out. Keeping the two apart means the three formats
always show the same figures, and a test can check the figures once, on the document.

Rows are plain dicts as the measure returned them (``to_pyarrow().to_pylist()``); a :class:`Column`
says how a value is shown (its *kind*) and whether the totals row sums it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jicai.measures.registry import Measure

from jicai import clock
from jicai.errors import BilingualError

# kind → how the writers show a value: percentages as %, yuan with thousands separators and 2 decimals,
# a unit price (yuan per minimum unit, 0.0512) with 4 decimals and never rounded to the fen, volumes with
# thousands separators, counts as integers; "pp" is a difference of two ratios shown in 百分点 (percentage
# points); "level" and "status" are codes shown by their Chinese names; "bool" 是/否, or the two names a
# measure gives (考核合格: 合格/不合格).
KINDS = ("text", "int", "pct", "pp", "money", "price", "volume", "score", "date", "bool", "level", "status", "rank",
         "enum", "flags")
# the vocabulary's kinds (jicai.contract.columns) as a report shows them
_FROM_VOCABULARY = {"rate": "pct", "code": "text", "month": "text", "datetime": "text", "key": "text"}

LEVELS = {3: "三级", 2: "二级", 1: "一级", 0: "未定级"}


def fixed(x: float, decimals: int, sep: bool = False) -> str:
    """``x`` with ``decimals`` decimals, halves rounded up as Excel and a reader do (81.25 → 81.3, where
    Python's own formatting gives 81.2); ``sep`` adds thousands separators.

    A float's residue below the last decimal shown never prints a sign: ``-0.0000001`` is ``0.00``, not ``-0.00``.

    >>> fixed(81.25, 1), fixed(0.625 * 100, 0), fixed(1234567.125, 2, sep=True), fixed(-0.05, 1), fixed(-1e-9, 2)
    ('81.3', '63', '1,234,567.13', '-0.1', '0.00')
    """
    d = Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if d.is_zero():
        d = abs(d)
    return f"{d:,.{decimals}f}" if sep else f"{d:.{decimals}f}"


def beijing_minute(t: datetime) -> str:
    """A time as every document shows it: Beijing wall-clock time to the minute, ``YYYY-MM-DD HH:MM`` (an
    aware time is converted first; a naive one is already Beijing time, as jicai stores times).

    >>> from datetime import UTC
    >>> beijing_minute(datetime(2024, 3, 31, 20, 30, 59, tzinfo=UTC)), beijing_minute(datetime(2024, 4, 1, 4, 30, 5))
    ('2024-04-01 04:30', '2024-04-01 04:30')
    """
    return f"{clock.to_local(t):%Y-%m-%d %H:%M}"


class ReportError(BilingualError, RuntimeError):
    """A report cannot be made (unknown batch, missing tables, no PDF engine…): a message in both languages."""


@dataclass(frozen=True)
class Column:
    name: str
    zh: str
    en: str
    kind: str = "text"
    total: bool = False  # the totals row sums this column (an Excel SUM with the measure's total cached)
    labels: dict[str, str] | None = None  # enum / flags: code → the Chinese name shown; bool: "true"/"false" → it

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name}: unknown kind {self.kind!r}")

    @classmethod
    def of(cls, col: Any, total: bool = False, labels: dict[str, tuple[str, str]] | None = None) -> Column:
        """The report column of a vocabulary column (:class:`jicai.contract.columns.Col`)."""
        kind = _FROM_VOCABULARY.get(col.kind, col.kind)
        names = {k: v[0] for k, v in labels.items()} if labels else None
        if kind in ("enum", "flags") and names is None:
            kind = "text"  # a code list without names is shown as it is
        return cls(col.name, col.zh, col.en, kind, total, names)

    def show(self, value: Any) -> Any:
        """A coded value as a reader sees it: an enum or each flag by its Chinese name, a boolean by the names
        the measure gives it (the codes ``true``/``false``, as csv and json write it), others unchanged.

        >>> Column("passed", "考核合格", "passed", "bool", labels={"true": "合格", "false": "不合格"}).show(False)
        '不合格'
        """
        if value is None or not self.labels:
            return value
        if self.kind == "bool":
            return self.labels.get("true" if value else "false", value)
        if self.kind == "flags":
            return "、".join(self.labels.get(x, x) for x in str(value).split(";") if x)
        return self.labels.get(value, value)


@dataclass
class Table:
    """One list of a report: a sheet of the workbook, a section of the HTML/PDF."""

    key: str
    title: str  # Chinese; also the sheet name (at most 31 characters)
    columns: list[Column]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] | None = None  # the measure's figures for the totals row, by column name
    note: str = ""  # what the list is and how it is ordered, shown under the title
    brief: tuple[str, ...] = ()  # the columns shown in HTML/PDF (all when empty)
    html_limit: int = 50  # HTML/PDF show the first rows; the workbook has them all
    on_page: bool = True  # False: a list for the workbook (and csv/json) only, the page says it in a paragraph
    # Totals only over like units: volumes are in each variety's own unit (片, 支, 人份), so a 合计 of volumes —
    # or of a ratio of volumes such as a completion — is shown only when every row has the same ``like_units``
    # value (one variety, one batch); across them the cell stays blank and the note says why.
    like_units: str | None = None
    per_unit: tuple[str, ...] = ()  # further columns that are volumes in disguise (ratios of volumes)
    # volumes (and their ratios) in one unit on every row — DDDs, which add across varieties: totalled across rows
    # of unlike ``like_units`` all the same
    across_units: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.title) > 31 or any(ch in self.title for ch in "[]:*?/\\"):
            raise ValueError(f"table title cannot be a sheet name: {self.title!r}")
        if self.totals is not None and self.like_units and len({r.get(self.like_units) for r in self.rows}) > 1:
            unlike = ({c.name for c in self.columns if c.kind == "volume"} | set(self.per_unit)) - set(self.across_units)
            if unlike & ({c.name for c in self.columns if c.total} | set(self.totals)):
                self.totals = {k: v for k, v in self.totals.items() if k not in unlike}
                self.columns = [replace(c, total=False) if c.name in unlike else c for c in self.columns]
                shown = {c.name for c in self.columns}
                if not any(c.total for c in self.columns) and all(
                        v is None for k, v in self.totals.items() if k in shown):
                    self.totals = None  # nothing left to add up: no empty 合计 row
                self.note = (self.note + ("" if self.note.endswith(("。", ".")) or not self.note else "。")
                             + "各行计量单位不同,合计行不加总数量。")

    @property
    def html_columns(self) -> list[Column]:
        if not self.brief:
            return self.columns
        by_name = {c.name: c for c in self.columns}
        return [by_name[n] for n in self.brief]


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    svg: str  # a complete inline <svg> element


@dataclass
class Report:
    kind: str  # monthly / quarterly / annual
    title: str
    period: str  # e.g. 2024年6月, 2024年第三季度, 第1采购年度
    as_of: date
    batch_id: str | None
    policy_version: str
    computed_at: datetime
    paragraphs: list[str] = field(default_factory=list)
    headline: list[tuple[str, str]] = field(default_factory=list)  # (label, figure as shown)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # definitions printed at the end
    params: dict[str, Any] = field(default_factory=dict)  # the arguments it was computed for (json, cover)
    # the policy as a reader knows it, its name and version date (Policy.label); ``policy_version`` is the
    # content hash stored with results, kept in the files' metadata and the json for tracing
    policy_label: str = ""

    @property
    def cover(self) -> list[tuple[str, str]]:
        """The facts of the run printed on the cover of every format."""
        facts = [
            ("报告", self.title),
            ("报告期", self.period),
            ("数据截至", f"{self.as_of:%Y-%m-%d}"),
            ("批次", self.batch_id or "全部批次"),
        ]
        if self.policy_label:
            facts.append(("执行政策", self.policy_label))
        return [*facts, ("生成时间", f"{beijing_minute(self.computed_at)}(北京时间)")]

    def table(self, key: str) -> Table:
        for t in self.tables:
            if t.key == key:
                return t
        raise KeyError(key)


def measure_table(m: Measure, rows: list[dict[str, Any]], key: str | None = None, title: str | None = None,
                  names: list[str] | None = None, note: str = "") -> Table:
    """One list of a report from a measure's rows: its columns (all, or ``names``) from the vocabulary, coded
    values named by the measure's labels, the measure's summed columns in a totals row."""
    labels = {c: dict(v) for c, v in m.labels.items()}
    chosen = [m.column(n) for n in names] if names else list(m.columns)
    columns = [Column.of(c, c.name in m.totals, labels.get(c.name)) for c in chosen]
    totals = {c.name: _total(c.kind, [r.get(c.name) for r in rows]) for c in chosen if c.name in m.totals}
    unit_key = next((k for k in ("variety_id", "product_code", "batch_id") if k in {c.name for c in columns}), None)
    return Table(key or m.name, (title or m.title_zh)[:31], columns, rows, totals=totals or None, note=note,
                 like_units=unit_key)


def _total(kind: str, values: list[Any]) -> Any:
    """The sum of a column: money added in whole fen (the rows hold fen / 100), so the total cell is the
    rows' sum to the fen; counts and volumes as they are.

    >>> _total("money", [0.1, 0.2, None]), _total("int", [1, 2])
    (0.3, 3)
    """
    if kind == "money":
        return sum(int(Decimal(repr(float(v))).scaleb(2).quantize(Decimal(1), rounding=ROUND_HALF_UP))
                   for v in values if v is not None) / 100
    return sum(v for v in values if v is not None)


