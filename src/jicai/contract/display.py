"""How a value of each column kind (:mod:`jicai.contract.columns`) reads on a page: rates as %, money as ¥ with
thousands separators, volumes as whole numbers, levels and coded values by their names in the page's language —
and which statuses are worse than others, so lists open on the trouble.

One place for what the pages, the API's column descriptions and the exports say about a value; the report writers
keep their own cell formats (Excel number formats) but the same names.

>>> show(0.8473, "rate"), show(1234567.5, "money"), show(596516.0, "volume"), show(3, "level")
('84.7%', '¥1,234,567.50', '596,516', '三级')
>>> show("behind", "status", labels={"behind": ("低于序时进度", "behind time progress")}, lang="en")
'behind time progress'
>>> show("slow_response;surge", "flags", labels={"surge": ("需求激增", "surge")})
'slow_response、需求激增'
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Labels = Mapping[str, tuple[str, str]]

LEVELS: dict[int, tuple[str, str]] = {3: ("三级", "tertiary"), 2: ("二级", "secondary"), 1: ("一级", "primary"),
                                      0: ("未定级", "unrated")}
BOOLS = {True: ("是", "yes"), False: ("否", "no")}

# How bad a status is, worst first: a list sorted by it opens on the rows that need action. Codes not listed
# (a measure's own) rank after the listed problems and before the good news.
SEVERITY: dict[str, int] = {
    "zero": 0, "behind": 1, "not_onboarded": 1, "ahead": 2, "over_budget": 0, "over": 3,
    "suspend_or_delist": 0, "above_winning_price": 1, "not_listed_at_winning_price": 1,
    "delisted": 2, "suspended": 2, "normal": 8, "completed": 9, "exceeded": 9, "listed": 9, "on_track": 8,
}
UNRANKED = 5
# The colour a status is shown in (a CSS class of the pages): bad, warn, info or ok.
TONES: dict[str, str] = {
    "zero": "bad", "behind": "warn", "over": "info", "normal": "ok", "completed": "ok", "exceeded": "ok",
    "ahead": "warn", "over_budget": "bad", "on_track": "ok", "listed": "ok", "suspended": "warn", "delisted": "bad",
}
# kinds whose cells are figures (right-aligned, tabular digits)
NUMERIC = ("int", "volume", "money", "price", "rate", "pp", "score", "rank")


def _fixed(x: float, decimals: int, sep: bool = True) -> str:
    """Halves rounded up, as a reader and Excel round (0.8125 → 81.3%), not to even."""
    d = Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if d == 0:
        d = abs(d)  # no "-0.0"
    return f"{d:,.{decimals}f}" if sep else f"{d:.{decimals}f}"


def _name(labels: Labels | None, code: Any, lang: str) -> str:
    pair = (labels or {}).get(str(code))
    return str(code) if pair is None else pair[1 if lang == "en" else 0]


def show(value: Any, kind: str, lang: str = "zh", labels: Labels | None = None) -> str:
    """``value`` of a column of ``kind`` as text in ``lang`` ("" for a missing value)."""
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return ""
    if kind in NUMERIC and not isinstance(value, (int, float)):
        return str(value)  # a figure the measure left as text is shown as it is
    if kind == "rate":
        return _fixed(value * 100, 1) + "%"
    if kind == "pp":
        return _fixed(value * 100, 1, sep=False) + (" pp" if lang == "en" else " 个百分点")
    if kind == "money":
        return ("-¥" if value < 0 else "¥") + _fixed(abs(value), 2)
    if kind == "price":
        return f"¥{_fixed(value, 4)}"
    if kind in ("volume", "int", "rank"):
        return _fixed(value, 0)
    if kind == "score":
        return _fixed(value, 1)
    if kind == "level":
        pair = LEVELS.get(int(value))
        return pair[1 if lang == "en" else 0] if pair else str(value)
    if kind == "bool":
        key = "true" if value else "false"
        if labels and key in labels:
            return _name(labels, key, lang)
        return BOOLS[bool(value)][1 if lang == "en" else 0]
    if kind in ("enum", "status"):
        return _name(labels, value, lang)
    if kind == "flags":
        return ("、" if lang != "en" else ", ").join(_name(labels, f, lang) for f in str(value).split(";") if f)
    if kind == "datetime" and isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if kind == "date" and isinstance(value, (date, datetime)):
        return f"{value:%Y-%m-%d}"
    return str(value)


def severity(code: Any) -> int:
    """The rank of a status or finding code, worst first (0)."""
    return SEVERITY.get(str(code), UNRANKED) if code is not None else 99


def tone(code: Any) -> str:
    return TONES.get(str(code), "warn" if severity(code) < UNRANKED else "info")
