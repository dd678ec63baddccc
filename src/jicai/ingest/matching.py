"""对码 proposals: which national products a local product (a hospital's own code and name) may be.

A local product is described by its generic name, strength, pack (units per pack) and manufacturer, as a
hospital's dictionary has them; a national product by ``products`` (name, spec, units_per_pack) and its
manufacturer's name in ``enterprises``. Each side is reduced to the same four parts
(:func:`describe_local`, :func:`describe_product`) and compared part by part:

========  ======  =====================================================================================
part      weight  similarity (0–100)
========  ======  =====================================================================================
name      40      ``rapidfuzz.fuzz.ratio`` of the generic names (brackets and spaces removed, NFKC), where a
                  qualifier one side has and the other lacks counts as missing text (see below)
strength  30      100 when the amounts are equal after unit conversion (0.5g = 500mg), else 0
pack      10      100 when the units per pack are equal, else 0
maker     20      100 when one name contains the other once legal-form words (有限公司, 药业, …) are
                  dropped (辉瑞 ⊂ 辉瑞制药有限公司), else ``fuzz.ratio`` of what is left
========  ======  =====================================================================================

**Qualifiers.** A bracket that names a type, a release or a form (白蛋白结合型, 缓释, 预混30R, Ⅱ: see
:data:`_QUALIFIER`) qualifies the drug: 注射用紫杉醇（白蛋白结合型） is another product than 注射用紫杉醇. The
national side's qualifier must appear in the local name (in brackets or not), else it counts as text the local name
lacks (注射用紫杉醇 vs 注射用紫杉醇白蛋白结合型: 66.7, another drug); a local qualifier that some national product of
the comparison has counts against a national product without it. Any other bracket (a strength, a brand, a maker:
阿托伐他汀钙片(立普妥)) is dropped.

The score is the weighted mean over the parts both sides have (a local row without a pack is scored on the
other three), rounded to 0.1. A product whose name similarity is below :data:`MIN_NAME` is another drug and
never proposed; proposals score at least :data:`MIN_SCORE`. **Exact first:** when some product agrees on
every part (all four present and equal), only those are proposed (method ``exact``, score 100); otherwise
the best fuzzy ones, highest score first, then by product code.

>>> atorva = describe_product("XC10AAA101A0010101000001", "阿托伐他汀钙片（20mg）", "20mg*7片/盒", 7, "辉瑞制药有限公司")
>>> local = describe_local("阿托伐他汀钙片", "20mg", 7, "辉瑞")
>>> [(c.product_code, c.score, c.method) for c in propose(local, [atorva])]
[('XC10AAA101A0010101000001', 100.0, 'exact')]
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz, process

WEIGHTS = {"name": 40, "strength": 30, "pack": 10, "maker": 20}
MIN_NAME = 80.0  # below this the generic names differ: another drug (阿托伐他汀钙片/瑞舒伐他汀钙片 71.4)
MIN_SCORE = 60.0
TOP = 3  # proposals kept per local product
# legal-form and trade words that say nothing about which company it is
_LEGAL = ("股份有限公司", "有限责任公司", "有限公司", "集团", "股份", "制药厂", "制药", "药业", "医药", "生物科技",
          "科技", "公司", "厂", "(中国)", "(上海)", "(北京)")
_BRACKETS = re.compile(r"[(\[【（][^)\]】）]*[)\]】）]")
# what a bracket says when it qualifies the drug itself (a type, a release, a form) rather than naming a brand or
# a maker: brands are arbitrary words, so only these count (注射用紫杉醇（白蛋白结合型）, 胰岛素注射液（预混30R）, （Ⅱ）)
_QUALIFIER = re.compile(r"型|结合|脂质体|缓释|控释|肠溶|分散|预混|精蛋白|冻干|混悬|微球|纳米|^[ⅰⅱⅲⅳⅴivx]+$")
_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(mg|g|μg|ug|mcg|ml|iu|万iu|万单位|单位|u|%)", re.I)
_PACK = re.compile(r"[*×xX]\s*(\d+)\s*(?:片|粒|袋|支|瓶|丸|贴|枚|人份|个|s)?")
_UNIT_FACTOR = {"g": ("mg", 1000.0), "mg": ("mg", 1.0), "μg": ("mg", 0.001), "ug": ("mg", 0.001),
                "mcg": ("mg", 0.001), "万iu": ("iu", 10000.0), "万单位": ("iu", 10000.0), "单位": ("iu", 1.0),
                "u": ("iu", 1.0), "iu": ("iu", 1.0), "ml": ("ml", 1.0), "%": ("%", 1.0)}


@dataclass(frozen=True)
class Described:
    """One side of a comparison, reduced to the four parts (None where the side does not say)."""

    name: str
    strength: tuple[tuple[str, float], ...] | None
    pack: float | None
    maker: str | None
    product_code: str = ""
    label: str = ""  # how a person recognises it: the name, spec and manufacturer as given
    qualifiers: frozenset[str] = frozenset()  # bracketed words that qualify the drug (folded)
    written: str = ""  # the whole name as written, folded, brackets' contents included


@dataclass(frozen=True)
class Candidate:
    product_code: str
    score: float
    method: str  # exact | fuzzy
    label: str
    parts: dict[str, float]  # the similarity of each part compared


def _fold(text: str | None) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).casefold()


def generic_name(name: str) -> str:
    """The generic name without bracketed additions (a strength, a brand): 阿托伐他汀钙片（20mg） → 阿托伐他汀钙片."""
    return _fold(_BRACKETS.sub("", unicodedata.normalize("NFKC", name)))


def qualifiers(name: str) -> frozenset[str]:
    """The bracketed words of a name that qualify the drug: 注射用紫杉醇（白蛋白结合型） → {白蛋白结合型};
    阿托伐他汀钙片（20mg） → {} (a strength); 阿托伐他汀钙片(立普妥) → {} (a brand)."""
    found = set()
    for m in _BRACKETS.finditer(unicodedata.normalize("NFKC", name)):
        inner = _fold(m.group(0)[1:-1])
        if _QUALIFIER.search(inner):
            found.add(inner)
    return frozenset(found)


def strength(spec: str | None) -> tuple[tuple[str, float], ...] | None:
    """The amounts a spec states, in one unit per dimension: ``0.5g*28片`` → ``(('mg', 500.0),)``."""
    found = []
    for number, unit in _AMOUNT.findall(unicodedata.normalize("NFKC", spec or "")):
        base, factor = _UNIT_FACTOR[unit.casefold()]
        found.append((base, round(float(number) * factor, 6)))
    return tuple(found) or None


def pack_of(spec: str | None) -> float | None:
    """Units per pack written in a spec (``20mg*7片/盒`` → 7)."""
    m = _PACK.search(unicodedata.normalize("NFKC", spec or ""))
    return float(m.group(1)) if m else None


def maker_key(name: str | None) -> str | None:
    """A manufacturer's name without legal-form words: 辉瑞制药有限公司 → 辉瑞."""
    key = _fold(name)
    for word in _LEGAL:
        key = key.replace(_fold(word), "")
    return key or None


def describe_local(name: str, spec: str | None, units_per_pack: float | None, manufacturer: str | None,
                   label: str = "") -> Described:
    pack = units_per_pack if units_per_pack else pack_of(spec)
    shown = label or " ".join(x for x in (name, spec, manufacturer) if x)
    return Described(generic_name(name), strength(spec) or strength(name), pack, maker_key(manufacturer), "", shown,
                     qualifiers(name), _fold(name))


def describe_product(product_code: str, name: str, spec: str | None, units_per_pack: float | None,
                     manufacturer: str | None) -> Described:
    shown = " ".join(x for x in (name, spec, manufacturer) if x)
    return Described(generic_name(name), strength(spec) or strength(name), units_per_pack or pack_of(spec),
                     maker_key(manufacturer), product_code, shown, qualifiers(name), _fold(name))


def _maker_similarity(a: str, b: str) -> float:
    return 100.0 if a in b or b in a else fuzz.ratio(a, b)


def _name_similarity(local: Described, product: Described, known: frozenset[str]) -> float:
    """The generic names' ratio, each side charged with the qualifiers it lacks (see the module's docstring)."""
    lacks = "".join(sorted(q for q in product.qualifiers if q not in local.written))
    extra = "".join(sorted(q for q in local.qualifiers & known if q not in product.qualifiers))
    return fuzz.ratio(local.name + extra, product.name + lacks)


def compare(local: Described, product: Described, known: frozenset[str] = frozenset()) -> dict[str, float]:
    """The similarity of each part both sides state; ``known`` are the qualifiers of the national products
    compared (a local bracket among them is a qualifier, not a brand)."""
    parts = {"name": _name_similarity(local, product, known)}
    if local.strength is not None and product.strength is not None:
        parts["strength"] = 100.0 if local.strength == product.strength else 0.0
    if local.pack is not None and product.pack is not None:
        parts["pack"] = 100.0 if local.pack == product.pack else 0.0
    if local.maker is not None and product.maker is not None:
        parts["maker"] = _maker_similarity(local.maker, product.maker)
    return parts


def score(parts: dict[str, float]) -> float:
    """The weighted mean of the parts compared, rounded to 0.1.

    >>> score({"name": 100.0, "strength": 100.0, "pack": 0.0, "maker": 0.0})
    70.0
    """
    weight = sum(WEIGHTS[k] for k in parts)
    return round(sum(WEIGHTS[k] * v for k, v in parts.items()) / weight + 1e-9, 1)


def propose(local: Described, products: list[Described], top: int = TOP) -> list[Candidate]:
    """The proposals for one local product: the exact matches if any, else the ``top`` best fuzzy ones."""
    exact, fuzzy = [], []
    known = frozenset().union(*(p.qualifiers for p in products))
    for p in products:
        parts = compare(local, p, known)
        if parts["name"] < MIN_NAME:
            continue
        if len(parts) == len(WEIGHTS) and all(v == 100.0 for v in parts.values()):
            exact.append(Candidate(p.product_code, 100.0, "exact", p.label, parts))
        elif (s := score(parts)) >= MIN_SCORE:
            fuzzy.append(Candidate(p.product_code, s, "fuzzy", p.label, parts))
    chosen = exact or fuzzy
    return sorted(chosen, key=lambda c: (-c.score, c.product_code))[:top]


class ProductIndex:
    """The national products, described once, with the names pre-screened by rapidfuzz's C loop: a local product
    is compared part by part only with the products whose generic name is at least :data:`MIN_NAME` alike."""

    SHORTLIST = 200

    def __init__(self, products: list[Described]):
        self.products = products
        self.names = [p.name for p in products]

    def propose(self, local: Described, top: int = TOP) -> list[Candidate]:
        near = process.extract(local.name, self.names, scorer=fuzz.ratio, score_cutoff=MIN_NAME,
                               limit=self.SHORTLIST)
        return propose(local, [self.products[i] for _, _, i in near], top)
