"""Batches, varieties and products: what the province buys under VBP.

Names, specifications and price magnitudes follow public national / alliance announcements
(4+7 and its extension, later national batches, the 肝功生化 reagent alliance); prices are per minimum
unit (片/粒/袋/人份). Product codes are built in the national formats (西药 23 characters with the
ATC level-5 group, 耗材/试剂 C + 19 digits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from jicai.simulate.geography import PREFECTURES

DRUG_BATCH = "GJ-YP-JX"
REAGENT_BATCH = "LM-GG-2024"

# Flu season profile (calendar months 1..12), normalised to mean 1 below.
_FLU = (3.0, 2.2, 1.0, 0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.9, 2.6)


@dataclass(frozen=True)
class VarietySpec:
    vid: str
    batch: str
    name: str
    unit: str
    spec: str
    group: str  # ATC level-5 group (drugs) or 2-digit reagent sub-category
    price: float  # winning price per minimum unit
    baseline: float  # pre-VBP weighted average price per minimum unit
    packs: tuple[int, ...]  # units per pack of the products, primary first
    demand: float  # minimum units per size unit per month
    kinds: tuple[str, ...] = ("hospital", "primary", "private", "village")
    seasonal: bool = False
    regional: bool = False  # a second primary supplier for 泉州/漳州

    @property
    def category(self) -> str:
        return "reagent" if self.batch == REAGENT_BATCH else "drug"

    def season(self, month: int) -> float:
        if not self.seasonal:
            return 1.0
        return _FLU[month - 1] * 12 / sum(_FLU)


VARIETIES: tuple[VarietySpec, ...] = (
    VarietySpec("YP01", DRUG_BATCH, "阿托伐他汀钙片", "片", "20mg", "C10AA", 0.94, 5.6, (7, 14, 28), 2500, regional=True),
    VarietySpec("YP02", DRUG_BATCH, "瑞舒伐他汀钙片", "片", "10mg", "C10AA", 0.78, 4.3, (7, 28, 14), 1800),
    VarietySpec("YP03", DRUG_BATCH, "苯磺酸氨氯地平片", "片", "5mg", "C08CA", 0.15, 1.9, (7, 14, 28), 4000, regional=True),
    VarietySpec("YP04", DRUG_BATCH, "恩替卡韦分散片", "片", "0.5mg", "J05AF", 0.62, 9.8, (7, 14, 28), 900,
                kinds=("hospital", "primary", "private")),
    VarietySpec("YP05", DRUG_BATCH, "盐酸二甲双胍片", "片", "0.5g", "A10BA", 0.05, 0.35, (48, 60, 20), 6000),
    VarietySpec("YP06", DRUG_BATCH, "奥美拉唑肠溶胶囊", "粒", "20mg", "A02BC", 0.32, 1.7, (14, 28, 7), 2500),
    VarietySpec("YP07", DRUG_BATCH, "左乙拉西坦片", "片", "0.25g", "N03AX", 1.30, 4.6, (30, 60, 24), 500,
                kinds=("hospital", "private")),
    VarietySpec("YP08", DRUG_BATCH, "头孢呋辛酯片", "片", "0.25g", "J01DC", 0.48, 2.1, (12, 6, 24), 1500),
    VarietySpec("YP09", DRUG_BATCH, "磷酸奥司他韦胶囊", "粒", "75mg", "J05AH", 1.90, 6.8, (10, 6, 12), 600, seasonal=True),
    VarietySpec("YP10", DRUG_BATCH, "硫酸氢氯吡格雷片", "片", "75mg", "B01AC", 1.78, 12.5, (7, 28, 14), 1200,
                kinds=("hospital", "primary", "private")),
    VarietySpec("YP11", DRUG_BATCH, "阿莫西林胶囊", "粒", "0.25g", "J01CA", 0.11, 0.42, (24, 36, 50), 5000, regional=True),
    VarietySpec("YP12", DRUG_BATCH, "蒙脱石散", "袋", "3g", "A07BC", 0.55, 1.8, (10, 12, 15), 1500),
    VarietySpec("SJ01", REAGENT_BATCH, "丙氨酸氨基转移酶(ALT)测定试剂盒", "人份", "速率法", "01", 0.15, 0.62, (400, 200, 500), 1500,
                kinds=("hospital", "primary", "private")),
    VarietySpec("SJ02", REAGENT_BATCH, "天门冬氨酸氨基转移酶(AST)测定试剂盒", "人份", "速率法", "02", 0.15, 0.60, (400, 200, 500), 1400,
                kinds=("hospital", "primary", "private")),
    VarietySpec("SJ03", REAGENT_BATCH, "γ-谷氨酰基转移酶(GGT)测定试剂盒", "人份", "速率法", "03", 0.20, 0.85, (200, 400, 100), 900,
                kinds=("hospital", "primary", "private")),
    VarietySpec("SJ04", REAGENT_BATCH, "碱性磷酸酶(ALP)测定试剂盒", "人份", "速率法", "04", 0.21, 0.90, (200, 400, 100), 800,
                kinds=("hospital", "primary", "private")),
    VarietySpec("SJ05", REAGENT_BATCH, "总胆红素(TBIL)测定试剂盒", "人份", "钒酸盐氧化法", "05", 0.18, 0.75, (400, 200, 100), 1000,
                kinds=("hospital", "primary", "private")),
)

BATCHES = {
    DRUG_BATCH: ("国家组织药品集中带量采购协议期满接续采购（4+7及扩围品种）", "drug", 3),
    REAGENT_BATCH: ("省际联盟肝功生化类检测试剂集中带量采购", "reagent", 2),
}

SURGE_VARIETY = "YP11"
SHORTAGE_VARIETY = "YP08"
SEASONAL_VARIETY = "YP09"
REGIONAL_PREFIXES = ("3505", "3506")  # 泉州、漳州 get the second primary supplier


@dataclass
class Catalogue:
    """Products as parallel arrays; ``cls`` is primary/backup/nonselected."""

    varieties: tuple[VarietySpec, ...]
    batch_start: dict[str, date]
    code: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    variety: list[int] = field(default_factory=list)  # index into varieties
    spec: list[str] = field(default_factory=list)
    upp: list[float] = field(default_factory=list)
    manufacturer: list[int] = field(default_factory=list)  # enterprise index
    cls: list[str] = field(default_factory=list)
    win_price: list[float] = field(default_factory=list)  # winning price (selected) or None
    listed_price: list[float] = field(default_factory=list)
    regions: list[str | None] = field(default_factory=list)
    # per variety: primary product by prefecture index, backup product, non-selected products
    primary_by_pref: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    backup: list[int] = field(default_factory=list)
    nonselected: list[list[int]] = field(default_factory=list)
    wrong_listing: int = -1  # selected product listed at a wrong price
    over_2x: int = -1  # non-selected product listed above 2x the highest winning price

    def __len__(self) -> int:
        return len(self.code)


def _drug_code(v: VarietySpec, vi: int, form: int, spec_no: int, ent: int) -> str:
    return f"X{v.group}A{100 + vi:03d}A{form:03d}{spec_no:04d}{ent:05d}"


def _reagent_code(v: VarietySpec, vi: int, spec_no: int, ent: int) -> str:
    return f"C15{v.group}{3000 + vi:04d}01{spec_no:04d}{ent:05d}"


def make_catalogue(rng: np.random.Generator, manufacturers: list[int], starts: dict[str, date]) -> Catalogue:
    cat = Catalogue(VARIETIES, starts)
    npref = len(PREFECTURES)
    cat.primary_by_pref = np.zeros((len(VARIETIES), npref), dtype=np.int64)
    regional_pref = np.array([pc[:4] in REGIONAL_PREFIXES for pc, _, _ in PREFECTURES])
    others = ";".join(pc[:4] for pc, _, _ in PREFECTURES if pc[:4] not in REGIONAL_PREFIXES)
    over_2x_variety = 0  # 阿托伐他汀: one originator listed far above the winning price
    wrong_variety = 5  # 奥美拉唑: the winner listed its product above the winning price

    def add(vi: int, v: VarietySpec, cls: str, ent: int, upp: int, win: float | None, listed: float,
            regions: str | None, k: int) -> int:
        spec_no = 101 + k
        if v.category == "drug":
            code = _drug_code(v, vi, 1 + (k % 3), spec_no, ent + 1)
            spec = f"{v.spec}*{upp}{v.unit}/盒"
            nm = f"{v.name}（{v.spec}）"
        else:
            code = _reagent_code(v, vi, spec_no, ent + 1)
            spec = f"{upp}人份/盒（{v.spec}）"
            nm = v.name
        cat.code.append(code)
        cat.name.append(nm)
        cat.variety.append(vi)
        cat.spec.append(spec)
        cat.upp.append(float(upp))
        cat.manufacturer.append(ent)
        cat.cls.append(cls)
        cat.win_price.append(win)
        cat.listed_price.append(round(listed, 4))
        cat.regions.append(regions)
        return len(cat.code) - 1

    for vi, v in enumerate(VARIETIES):
        makers = [manufacturers[i] for i in rng.permutation(len(manufacturers))[:6]]
        k = 0
        p1 = add(vi, v, "primary", makers[0], v.packs[0], v.price, v.price, others if v.regional else None, k)
        k += 1
        cat.primary_by_pref[vi, :] = p1
        top = v.price
        if v.regional:
            price2 = round(v.price * float(rng.uniform(1.05, 1.25)), 3)
            p2 = add(vi, v, "primary", makers[1], v.packs[1], price2, price2, ";".join(REGIONAL_PREFIXES), k)
            k += 1
            cat.primary_by_pref[vi, regional_pref] = p2
            top = max(top, price2)
        bprice = round(v.price * float(rng.uniform(1.08, 1.3)), 3)
        top = max(top, bprice)
        cat.backup.append(add(vi, v, "backup", makers[2], v.packs[1 % len(v.packs)], bprice, bprice, None, k))
        k += 1
        nons = []
        for j in range(1 + int(rng.integers(0, 3))):
            # ≤ 1.5 × the highest winning price (backup included) stays < 2 × the highest primary price
            mult = float(rng.uniform(1.05, 1.5))
            if vi == over_2x_variety and j == 0:
                mult = 2.6
            nons.append(add(vi, v, "nonselected", makers[3 + j], v.packs[j % len(v.packs)], None, top * mult, None, k))
            k += 1
        cat.nonselected.append(nons)
        if vi == over_2x_variety:
            cat.over_2x = nons[0]
        if vi == wrong_variety:
            cat.wrong_listing = p1
            cat.listed_price[p1] = round(v.price * 1.15, 4)
    return cat
