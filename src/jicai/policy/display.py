"""A policy as a reader sees it: one row per parameter entry with its Chinese name, value with its unit
(ratios as %, booleans 是/否, choices by their Chinese names, tiers as a small table), the document and
clause it comes from, and the dates it is in force. The policy page and ``jicai policy show`` print these rows.

>>> from jicai.policy import load_policy
>>> rows = {r.name: r for r in policy_rows(load_policy())}
>>> rows["nonselected_share_max"].value, rows["payment_due"].value, rows["backup_substitution"].value
('50%', '次月月底', '是')
>>> rows["retention_tiers"].tiers[0]
('90', '50%')
>>> rows["prepay_ratio"].in_force
'2019年1月1日起'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from jicai.policy.labels import CHOICES, NAMES, PHRASES, TIER_COLUMNS, UNITS
from jicai.policy.models import Parameter, Policy


def _number(x: float) -> str:
    """A number without float residue or trailing zeros: 0.1 → '0.1', 72.0 → '72', 2000.0 → '2,000'."""
    d = Decimal(repr(float(x))).normalize()
    text = f"{d:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def percent(x: float) -> str:
    """A ratio as a percentage: 0.5 → '50%', 0.001 → '0.1%'."""
    return f"{_number(float(Decimal(repr(float(x))) * 100))}%"


def day(d: date | None) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d else ""


def in_force(p: Parameter) -> str:
    """'2019年1月1日起', '2019年1月1日至2024年12月31日', '2024年12月31日止' or '长期有效'."""
    if p.effective_from and p.effective_to:
        return f"{day(p.effective_from)}至{day(p.effective_to)}"
    if p.effective_from:
        return f"{day(p.effective_from)}起"
    return f"{day(p.effective_to)}止" if p.effective_to else "长期有效"


def in_force_en(p: Parameter) -> str:
    a, b = p.effective_from, p.effective_to
    if a and b:
        return f"{a.isoformat()} to {b.isoformat()}"
    return f"from {a.isoformat()}" if a else (f"until {b.isoformat()}" if b else "open-ended")


@dataclass(frozen=True)
class ParameterRow:
    name: str  # the parameter's name in the file (shown only on the English page and in the file itself)
    zh: str
    en: str
    value: str  # the value with its unit, as read ('50%', '72 小时', '次月月底'); '见分档表' for tiers
    value_en: str
    unit: str  # the unit's Chinese reading
    tiers: tuple[tuple[str, str], ...]  # a tiered value's rows, as shown
    tier_heads: tuple[str, str]
    meaning_zh: str
    meaning_en: str
    source: str
    note: str
    in_force: str
    in_force_en: str


def _shown(p: Parameter) -> tuple[str, str]:
    v, unit = p.value, p.unit
    if isinstance(v, bool):
        return ("是" if v else "否"), ("yes" if v else "no")
    if isinstance(v, str):
        zh, en = CHOICES[p.name][v]
        return zh, en
    if isinstance(v, list):
        return "见分档表", "see the tiers"
    if unit == "ratio":
        return percent(v), percent(v)
    if unit == "pp":
        return f"{_number(float(Decimal(repr(float(v))) * 100))} 个百分点", f"{_number(v * 100)} percentage points"
    zh_unit, en_unit = UNITS[unit]
    if p.name in PHRASES:
        return PHRASES[p.name].format(_number(v)), f"{_number(v)} {en_unit}"
    return f"{_number(v)} {zh_unit}", f"{_number(v)} {en_unit}"


def _tier(kind: str, x: float) -> str:
    return percent(x) if kind == "pct" else _number(x)


def row(p: Parameter) -> ParameterRow:
    zh_name, en_name = NAMES[p.name]
    value, value_en = _shown(p)
    heads, tiers = ("", ""), ()
    if isinstance(p.value, list):
        (h1, _, k1), (h2, _, k2) = TIER_COLUMNS[p.name]
        heads = (h1, h2)
        tiers = tuple((_tier(k1, a), _tier(k2, b)) for a, b in p.value)
    return ParameterRow(p.name, zh_name, en_name, value, value_en, UNITS[p.unit][0], tiers, heads, p.zh, p.en,
                        p.source, p.note, in_force(p), in_force_en(p))


def policy_rows(policy: Policy) -> list[ParameterRow]:
    """Every entry, in the order of the file (grouped as the bureau wrote it), dated entries of one parameter
    oldest first."""
    order = {n: i for i, n in enumerate(dict.fromkeys(p.name for p in policy.parameter))}
    entries = sorted(policy.parameter, key=lambda p: (order[p.name], p.effective_from or date.min))
    return [row(p) for p in entries]


__all__ = ["ParameterRow", "day", "in_force", "percent", "policy_rows", "row"]
