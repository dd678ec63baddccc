"""Institutions and enterprises of the simulated province.

Names are synthetic (invented brands, generic place words); codes follow the national formats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jicai.contract.codes import USCC_ALPHABET, make_uscc
from jicai.simulate.geography import MANUFACTURER_REGIONS, PREFECTURES, counties

KINDS = ("hospital", "primary", "private", "village", "pharmacy")
# (kind, level, public, share of institutions, median size) — size is the demand of the institution
# in "size units" (a county 二级 hospital ≈ 6, a township health centre ≈ 1.5).
MIX = (
    ("hospital", 3, True, 0.04, 20.0),
    ("hospital", 2, True, 0.12, 6.0),
    ("primary", 1, True, 0.34, 1.5),
    ("private", 2, False, 0.03, 3.0),
    ("private", 1, False, 0.04, 1.0),
    ("private", 0, False, 0.03, 0.5),
    ("village", 0, True, 0.25, 0.15),
    ("pharmacy", 0, False, 0.15, 0.0),
)

_TOWNS = ("城关", "东街", "西山", "南门", "北溪", "湖头", "龙井", "石桥", "青云", "金峰", "梅林", "桃源",
          "江口", "新店", "洋中", "后坑", "溪口", "马鞍", "岭头", "上洋")
_VILLAGES = ("东坪", "下厝", "前林", "后洋", "山兜", "坑口", "溪尾", "埔头", "田中", "岭下", "塘边", "林柄")
_PRIVATE = ("仁爱", "博爱", "康华", "安和", "德济", "福寿", "协济", "惠安康", "华美", "慈济")
_PHARMACY = ("德康", "福泽", "众生堂", "仁心", "康宁", "百姓安", "益寿", "济民")
_NUM = "一二三四五六七八九十"
# prefectures in the order they receive tertiary hospitals (泉州 early: its sentinel hospitals)
_TERTIARY_ORDER = (0, 4, 1, 5, 2, 7, 8, 3, 6)

_MANUFACTURER_WORDS = ("澜江", "启明康", "沐恩", "嘉禾瑞", "昕泰", "卓源", "宁远康", "舒和", "益群", "泓信",
                       "诚德", "锦康", "汇仁达", "弘远", "禾润", "康斯特", "安济", "泰宇", "鸿宁", "立恒",
                       "昊诺", "云岫", "晟和", "博睿")
_DISTRIBUTOR_WORDS = ("鑫康", "通达", "海润", "嘉源", "恒信", "瑞丰", "盛和", "联众", "华晟", "丰泽源",
                      "安捷", "兴闽", "鹭通", "泉润", "榕康", "宏达", "闽新", "南鹏")


@dataclass
class Institutions:
    code: np.ndarray  # str
    name: np.ndarray
    region: np.ndarray  # county code
    prefecture: np.ndarray  # index into PREFECTURES
    level: np.ndarray
    kind: np.ndarray
    public: np.ndarray
    sentinel: np.ndarray
    size: np.ndarray  # float, 0 for pharmacies
    agreement: np.ndarray  # bool: signs agreements (报量 / 约定采购量)

    def __len__(self) -> int:
        return len(self.code)

    def rows(self) -> dict[str, list]:
        return {
            "institution_code": self.code.tolist(), "name": self.name.tolist(), "region_code": self.region.tolist(),
            "level": self.level.tolist(), "kind": self.kind.tolist(), "public": self.public.tolist(),
            "sentinel": self.sentinel.tolist(),
        }


def make_institutions(rng: np.random.Generator, n: int) -> Institutions:
    cs = counties()
    weights = np.array([c.weight for c in cs])
    weights = weights / weights.sum()
    # counts per mix row, at least one of each
    shares = np.array([m[3] for m in MIX])
    counts = np.maximum(1, np.floor(shares * n).astype(int))
    counts[2] += n - counts.sum()  # remainder to township health centres
    pref_index = {pc: i for i, (pc, _, _) in enumerate(PREFECTURES)}
    urban = {pc: cs_[0] for pc, _, cs_ in PREFECTURES}  # first county = main urban district

    rows: list[tuple] = []
    seq: dict[tuple[str, str], int] = {}
    used_names: set[str] = set()
    per_county: dict[tuple[str, str], int] = {}

    def code_for(letter: str, county: str) -> str:
        k = seq.get((letter, county), 0) + 1
        seq[(letter, county)] = k
        return f"{letter}{county}{k:05d}"

    for (kind, level, public, _, median), cnt in zip(MIX, counts, strict=True):
        for j in range(cnt):
            if kind == "hospital" and level == 3:
                # tertiary hospitals sit in the prefecture seats, spread over the prefectures
                pc, pn, _ = PREFECTURES[_TERTIARY_ORDER[j % len(PREFECTURES)]]
                uc = urban[pc]
                county = next(c for c in cs if c.code == uc[0])
            else:
                county = cs[int(rng.choice(len(cs), p=weights))]
            key = (kind, county.code)
            k = per_county.get(key, 0)
            per_county[key] = k + 1
            if kind == "hospital" and level == 3:
                nth = j // len(PREFECTURES)
                name = f"{county.prefecture_name}第{_NUM[nth % 10]}医院" if nth < 10 else f"{county.prefecture_name}第{nth + 1}医院"
                if nth == 1:
                    name = f"{county.prefecture_name}中医院"
            elif kind == "hospital":
                base = ("医院", "中医院", "第二医院", "妇幼保健院", "第三医院", "中西医结合医院")
                name = f"{county.name}{base[k % len(base)]}" + (f"（{k // len(base) + 1}院区）" if k >= len(base) else "")
            elif kind == "primary":
                town = _TOWNS[k % len(_TOWNS)] + (str(k // len(_TOWNS) + 1) if k >= len(_TOWNS) else "")
                name = f"{county.name}{town}镇卫生院" if k % 3 else f"{county.name}{town}街道社区卫生服务中心"
            elif kind == "private":
                name = f"{county.name}{_PRIVATE[k % len(_PRIVATE)]}医院" + (f"{k // len(_PRIVATE) + 1}" if k >= len(_PRIVATE) else "")
            elif kind == "village":
                town = _TOWNS[(k // len(_VILLAGES)) % len(_TOWNS)]
                vil = _VILLAGES[k % len(_VILLAGES)]
                name = f"{county.name}{town}镇{vil}村卫生室" + (str(k // (len(_VILLAGES) * len(_TOWNS)) + 1)
                                                        if k >= len(_VILLAGES) * len(_TOWNS) else "")
            else:
                brand = _PHARMACY[k % len(_PHARMACY)]
                name = f"{brand}大药房（{county.name}{_TOWNS[(k // len(_PHARMACY)) % len(_TOWNS)]}店）"
            while name in used_names:
                name += "分院" if kind != "pharmacy" else "二部"
            used_names.add(name)
            letter = "P" if kind == "pharmacy" else "H"
            size = 0.0 if kind == "pharmacy" else float(median * rng.lognormal(0.0, 0.35))
            if kind in ("hospital", "primary"):
                agreement = True
            elif kind == "private":
                agreement = bool(rng.random() < 0.3 and level >= 1)
            else:
                agreement = False
            rows.append((code_for(letter, county.code), name, county.code, pref_index[county.prefecture_code],
                         level, kind, public, size, agreement))

    order = sorted(range(len(rows)), key=lambda i: rows[i][0])
    rows = [rows[i] for i in order]
    cols = list(zip(*rows, strict=True))
    inst = Institutions(
        code=np.array(cols[0], dtype=object), name=np.array(cols[1], dtype=object),
        region=np.array(cols[2], dtype=object), prefecture=np.array(cols[3], dtype=np.int64),
        level=np.array(cols[4], dtype=np.int64), kind=np.array(cols[5], dtype=object),
        public=np.array(cols[6], dtype=bool), sentinel=np.zeros(len(rows), dtype=bool),
        size=np.array(cols[7], dtype=float), agreement=np.array(cols[8], dtype=bool),
    )
    _choose_sentinels(inst)
    return inst


def _choose_sentinels(inst: Institutions) -> None:
    """哨点: as in 泉州's notice — two big hospitals, a county hospital and a township centre, in 泉州市."""
    qz = PREFECTURES.index(next(p for p in PREFECTURES if p[0] == "350500"))
    wanted = ((3, "hospital"), (2, "hospital"), (2, "hospital"), (1, "primary"))
    taken: set[int] = set()
    for level, kind in wanted:
        for pref_first in (True, False):
            idx = np.flatnonzero((inst.level == level) & (inst.kind == kind) & ((inst.prefecture == qz) | (not pref_first)))
            idx = [i for i in idx if i not in taken]
            if idx:
                taken.add(idx[0])
                break
    inst.sentinel[sorted(taken)] = True


@dataclass
class Enterprises:
    code: list[str]
    name: list[str]
    role: list[str]
    manufacturers: list[int]  # indices of manufacturers (role manufacturer/both)
    distributors_by_prefecture: np.ndarray  # (n_prefectures, 2) indices of distributors

    def rows(self) -> dict[str, list]:
        return {"enterprise_code": self.code, "name": self.name, "role": self.role}


def _uscc(rng: np.random.Generator, region: str) -> str:
    body = "".join(USCC_ALPHABET[i] for i in rng.integers(0, len(USCC_ALPHABET), 9))
    return make_uscc("91" + region + body)


def make_enterprises(rng: np.random.Generator, n_manufacturers: int = 24) -> Enterprises:
    code: list[str] = []
    name: list[str] = []
    role: list[str] = []
    seen: set[str] = set()

    def add(region: str, nm: str, rl: str) -> int:
        c = _uscc(rng, region)
        while c in seen:
            c = _uscc(rng, region)
        seen.add(c)
        code.append(c)
        name.append(nm)
        role.append(rl)
        return len(code) - 1

    manufacturers = []
    for i in range(n_manufacturers):
        region = MANUFACTURER_REGIONS[i % len(MANUFACTURER_REGIONS)]
        word = _MANUFACTURER_WORDS[i % len(_MANUFACTURER_WORDS)]
        suffix = "生物技术有限公司" if i % 6 == 5 else ("药业股份有限公司" if i % 2 else "制药有限公司")
        # one Fujian manufacturer runs its own distribution arm
        manufacturers.append(add(region, f"{word}{suffix}", "both" if i == 9 else "manufacturer"))
    dist = np.zeros((len(PREFECTURES), 2), dtype=np.int64)
    for p, (pc, pn, _) in enumerate(PREFECTURES):
        for k in range(2):
            word = _DISTRIBUTOR_WORDS[(2 * p + k) % len(_DISTRIBUTOR_WORDS)]
            dist[p, k] = add(pc, f"{pn[:-1]}{word}医药有限公司", "distributor")
    # the manufacturer with a distribution arm serves 福州 as second distributor
    dist[0, 1] = manufacturers[9]
    return Enterprises(code, name, role, manufacturers, dist)
