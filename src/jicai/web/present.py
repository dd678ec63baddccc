"""A dataset page that reads like a report: which columns come first, how each cell is shown.

The row's subject (the institution, pharmacy, enterprise or product it is about) comes first and stays frozen
while the table scrolls; then the verdicts (status in colour, flags by name, the reason with its rule and clause),
then the rates (completion as a small bar against 序时进度), then amounts and volumes, then the other identifiers
and dates. Every code is shown by its name with the code beside it in small type; the ``*_name`` column that
merely repeats it is folded into the code's cell, and a coded column that has a Chinese text twin
(``flags``/``flags_zh``) shows the twin on the Chinese page and the coded names on the English one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from jicai.contract.display import NUMERIC, show, tone
from jicai.web.names import CODE_KINDS, Names

SUBJECTS = ("institution_code", "pharmacy_code", "sentinel_code", "enterprise_code", "distributor_code", "product_code")
VERDICT_KINDS = ("status", "flags", "enum")
REASON_TEXTS = ("rule", "failed_items_zh", "flags_zh", "finding_zh", "reason_zh")
# a bool column saying something is wrong when true (shown in the warning colour)
BAD_WHEN_TRUE = ("nonselected_excess", "not_onboarded", "over_budget", "price_missing", "proxy", "winner_new")
REASON = "reason_zh"

DDD_SUFFIXES = ("_ddd", "_cost_per_ddd")  # the columns a DDD view adds (jicai.analytics.ddd_units), with ddd_per_unit
CALENDAR_YEARS = ("year",)  # int columns that hold a calendar year: no thousands separator  # the column :mod:`jicai.web.reasons` adds to rows it explains


@dataclass(frozen=True)
class Shown:
    """One column of the page: the row field it shows, its headers, its kind and where it sits."""

    name: str
    zh: str
    en: str  # a short English header
    kind: str
    frozen: bool = False
    about: str = ""  # what the column means (the vocabulary's description): the header's tooltip

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC


def _name_twin(name: str) -> str | None:
    if name.endswith("_code"):
        return name[:-5] + "_name"
    if name.endswith("_id"):
        return name[:-3] + "_name"
    return None


def _group(c: Any, subject: str | None) -> float:
    if c.name == subject:
        return 0
    if c.name in ("variety_id", "product_code") and subject != c.name:  # what the subject's row is about
        return 0.5
    if c.kind in VERDICT_KINDS or c.name in REASON_TEXTS or c.name == "passed" or c.name in BAD_WHEN_TRUE:
        return 1
    if c.kind in ("rate", "pp"):
        return 2
    if c.kind in ("score", "rank"):
        return 3
    if c.kind in ("volume", "money", "price", "int"):
        return 4
    if c.kind in ("date", "datetime", "month"):
        return 6
    return 5


def layout(measure: Any, lang: str, reasons: bool = False) -> list[Shown]:
    """The measure's columns in the order a reader wants them, without those folded into another cell."""
    cols = list(measure.columns)
    names = {c.name for c in cols}
    hidden = {_name_twin(c.name) for c in cols if c.name in CODE_KINDS} & names
    hidden |= {c.name for c in cols if c.kind == "key"}  # for other systems, not for readers
    for c in cols:  # a coded column and its Chinese text: one of the two per language
        if c.name + "_zh" in names:
            hidden.add(c.name if lang != "en" else c.name + "_zh")
    subject = next((s for s in SUBJECTS if s in names), None)
    shown = [c for c in cols if c.name not in hidden]
    if reasons:
        from jicai.contract.columns import Col

        shown.append(Col(REASON, "判定依据", "why: rule, threshold, value and policy clause", "text"))
    shown.sort(key=lambda c: _group(c, subject))  # stable: the declaration order within a group
    by_name = {c.name: c for c in cols}
    return [Shown(c.name, *header(c, by_name), c.kind, c.name == subject, c.en) for c in shown]


def short_en(name: str) -> str:
    """A short English header from a column's name (the vocabulary's English is a description, too long for a
    header): ``nonselected_share`` → ``Nonselected share``, ``response_hours_p90`` → ``Response hours P90``.

    >>> short_en("response_hours_p90"), short_en("institution_name")
    ('Response hours P90', 'Institution name')
    """
    words = name.removesuffix("_zh").split("_")
    words = [w.upper() if w[:1] == "p" and w[1:].isdigit() else w for w in words]
    return " ".join(words)[:1].upper() + " ".join(words)[1:]


def header(c: Any, columns: dict[str, Any]) -> tuple[str, str]:
    """A code column shows a name, so its header says what is named: 医疗机构, not 医疗机构编码."""
    if c.name not in CODE_KINDS:
        return c.zh, short_en(c.name)
    twin = columns.get(_name_twin(c.name) or "")
    if twin is not None:
        return twin.zh.removesuffix("名称"), short_en(twin.name).removesuffix(" name")
    for suffix in ("编码", "代码", "编号"):
        if c.zh.endswith(suffix) and len(c.zh) > len(suffix):
            return c.zh.removesuffix(suffix), short_en(c.name).removesuffix(" code").removesuffix(" id")
    return c.zh, short_en(c.name)


def _code_cell(column: str, code: Any, row: dict, names: Names, lang: str, link: bool, unit: str = "min") -> Markup:
    twin = _name_twin(column)
    name = row.get(twin) if twin else None
    name = name or names.name(column, code)
    if CODE_KINDS.get(column) == "region" and name:
        from jicai.contract.regions import parent_code, region_name

        parent = parent_code(str(code))
        up = region_name(parent, names.by_kind.get("region")) if parent and not parent.endswith("0000") else None
        name = f"{up} {name}" if up else name
    label = escape(name or code)
    if link:
        keep = "?unit=ddd" if unit == "ddd" else ""  # a page in DDDs links to the institution's page in DDDs
        label = Markup(f'<a href="/institutions/{escape(code)}{keep}">{label}</a>')
    if not name:
        return label
    return Markup(f'{label}<small class="code">{escape(code)}</small>')


def _progress(row: dict, lang: str) -> Markup:
    """Completion as a bar, with a mark where 序时进度 stands (the bar is capped at 150%)."""
    c, tp = row.get("completion"), row.get("time_progress")
    text = show(c, "rate")
    if c is None:
        return Markup("")
    width = max(0.0, min(c, 1.5)) / 1.5 * 100
    # SVG geometry, not a style attribute: the Content-Security-Policy (style-src 'self') allows no inline style
    bar = ('<svg class="bar" viewBox="0 0 100 9" preserveAspectRatio="none" aria-hidden="true" focusable="false">'
           f'<rect class="track" y="2" width="100" height="5"/><rect class="fill" y="2" width="{width:.1f}" height="5"/>')
    if tp is not None:
        x = min(tp, 1.5) / 1.5 * 100
        bar += f'<line class="mark" x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="9"/>'
    bar += "</svg>"
    behind = tp is not None and c < tp
    return Markup(f'<span class="{"behind" if behind else ""}">{escape(text)}</span>{bar}')


def _volume(v: Any, row: dict, names: Names, lang: str, column: str) -> str:
    text = show(v, "volume")
    if "ddd" in column:  # a figure in defined daily doses (jicai.analytics.ddd_units), not in the variety's unit
        return f"{text} DDD" if text else text
    unit = names.unit(row.get("variety_id")) if "packs" not in column else ("包" if lang != "en" else "packs")
    if column == "shortfall_volume":
        if not v:
            return "—"
        return f"还差 {text} {unit}".rstrip() if lang != "en" else f"{text} {unit} short".replace("  ", " ")
    return f"{text} {unit}".rstrip() if text else text


def cell(col: Shown, row: dict, measure: Any, names: Names, lang: str, link_institutions: bool,
         unit: str = "min") -> Markup:
    """The HTML of one cell (escaped); ``unit``: the page's 计量单位, kept in the links to an institution."""
    v = row.get(col.name)
    if v is None and "ddd_note" in row and (col.name.endswith(DDD_SUFFIXES) or col.name == "ddd_per_unit"):
        # a row without DDDs: a dash that says why (the DDD说明 column has the reason too), never a silent blank
        why = row.get("ddd_note") or ("未采购,无每DDD费用" if lang != "en" else "nothing bought: no cost per DDD")
        return Markup(f'<span class="na" title="{escape(why)}">—</span>')
    if v is None and col.name != "completion":
        return Markup("")
    labels = measure.labels.get(col.name) if col.name != REASON else None
    if col.name in CODE_KINDS:
        return _code_cell(col.name, v, row, names, lang, link_institutions and col.name == "institution_code", unit)
    if col.name == "completion" and "time_progress" in row:
        return _progress(row, lang)
    if col.kind == "volume":
        return escape(_volume(v, row, names, lang, col.name))
    if col.name == "changed":  # ';'-separated column names: say them by their headers
        from jicai.contract.columns import VOCABULARY

        return escape("、".join(VOCABULARY[x].zh if x in VOCABULARY and lang != "en" else x
                                for x in str(v).split(";") if x))
    if col.name in CALENDAR_YEARS and isinstance(v, int):
        return escape(str(v))  # 2024, not 2,024
    text = show(v, col.kind, lang, labels)
    if col.kind == "status":
        return Markup(f'<span class="badge {tone(v)}">{escape(text)}</span>')
    if col.kind == "bool" and (col.name in BAD_WHEN_TRUE and v or col.name == "passed" and not v):
        return Markup(f'<span class="badge bad">{escape(text)}</span>')
    if col.kind == "flags" and text:
        return Markup(f'<span class="badge warn">{escape(text)}</span>')
    return escape(text)
