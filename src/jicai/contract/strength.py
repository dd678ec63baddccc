"""The strength per minimum unit (每最小单位含量) a product's spec states: what turns units into DDDs.

Chinese product specs write the strength of one minimum unit first, then the pack: ``20mg*7片/盒``,
``0.5g×24粒``, ``5ml:0.5g*10支`` (an injection: 0.5 g in each 5 ml vial). The strength is the part before
the first ``*``/``×`` (or the whole text without one). It is read only when that part names exactly one
amount of active substance (mg, g, µg/mcg/ug, IU/U); a volume (ml) beside it is the vial's and is ignored.
Anything else gives None with the reason: a combination (two amounts, ``复方``), a spec without a mass
(``速率法``), a concentration without the unit's volume (``0.1%``, ``10mg/ml``). None is never guessed: the
product then has no DDDs until the bureau fills ``products.strength`` (which wins over the spec) or fixes
the spec.

>>> strength("20mg*7片/盒")
(20.0, 'mg')
>>> strength("0.5g×24粒")
(0.5, 'g')
>>> strength("5ml:0.5g*10支")
(0.5, 'g')
>>> strength("100μg*30片")
(100.0, 'mcg')
>>> strength("500mg/125mg*12片") is None      # a combination: two amounts
True
>>> strength("10mg/ml") is None               # a concentration: how much is in one unit is not said
True
>>> reason("速率法")
('规格中无含量', 'the spec states no amount of substance')
>>> in_unit((0.5, "g"), "mg"), in_unit((20.0, "mg"), "IU")
(500.0, None)
"""

from __future__ import annotations

import re
import unicodedata

_UNITS = {"mg": "mg", "g": "g", "mcg": "mcg", "μg": "mcg", "µg": "mcg", "ug": "mcg", "iu": "IU", "u": "U",
          "万iu": "万IU", "万u": "万U", "万单位": "万U"}
_MASS = {"g": 1000.0, "mg": 1.0, "mcg": 0.001}  # in mg
_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(万单位|万iu|万u|mcg|μg|µg|ug|mg|iu|g|u)(?![a-z])")
_PER_VOLUME = re.compile(r"(mg|g|mcg|μg|µg|ug|iu|u)\s*/\s*(\d+(?:\.\d+)?)?\s*ml")
_PACK = re.compile(r"[*×xX]")


def _normal(spec: str) -> str:
    # NFKC turns full-width digits, letters and signs into their ASCII forms (２０ｍｇ＊７ → 20mg*7)
    return unicodedata.normalize("NFKC", spec).strip().lower()


def _parse(spec: str | None) -> tuple[tuple[float, str] | None, tuple[str, str] | None]:
    if spec is None or not spec.strip():
        return None, ("无规格", "no spec")
    s = _normal(spec)
    if "复方" in s:
        return None, ("复方制剂，含量不止一种", "a combination product: more than one substance")
    head = _PACK.split(s, maxsplit=1)[0]
    if "%" in head:
        return None, ("规格为浓度，每单位含量不明", "the spec is a concentration: the amount per unit is not stated")
    per = _PER_VOLUME.search(head)
    if per and not per.group(2):
        return None, ("规格为浓度，每单位含量不明", "the spec is a concentration: the amount per unit is not stated")
    amounts = _AMOUNT.findall(head)
    if not amounts:
        return None, ("规格中无含量", "the spec states no amount of substance")
    if len(amounts) > 1:
        return None, ("规格含多个含量（复方或多组分）", "the spec states several amounts (a combination)")
    value, unit = amounts[0]
    return (float(value), _UNITS[unit]), None


def strength(spec: str | None) -> tuple[float, str] | None:
    """(amount, unit) of active substance in one minimum unit, or None when the spec does not say it plainly."""
    return _parse(spec)[0]


def reason(spec: str | None) -> tuple[str, str] | None:
    """Why :func:`strength` gives None for ``spec`` (zh, en), or None when it reads a strength."""
    return _parse(spec)[1]


def in_unit(amount: tuple[float, str], unit: str) -> float | None:
    """``amount`` expressed in ``unit`` (mg, g, mcg convert among themselves; IU/U only to themselves), or None."""
    value, have = amount
    if have == unit:
        return value
    if have in _MASS and unit in _MASS:
        return value * _MASS[have] / _MASS[unit]
    return None
