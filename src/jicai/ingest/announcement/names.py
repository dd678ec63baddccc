"""Names as the announcements write them, made comparable: drug varieties, strengths, batches, units.

The same variety appears as 坦洛新(坦索罗辛) and 坦洛新（坦索罗辛）, 枸櫞酸 and 枸橼酸, 阿派沙班 and 阿哌沙班,
with the strength glued on (左乙拉西坦口服常释剂型250mg, 非那雄胺口服常释剂型_1mg) or written
0.25g in one sheet and 250mg in the next. These helpers give one canonical text for display and ids
and looser keys for matching rows across sheets.
"""

from __future__ import annotations

import re
import unicodedata

# Characters and misspellings seen in the national tables → the form used in the official list.
CHAR_FIXES = {"櫞": "橼"}
TYPO_FIXES = {"阿派沙班": "阿哌沙班"}

# Salt / ester parts the "4+7" sheet keeps in 品种名 but the variety names (通用名+剂型) drop.
SALT_PREFIXES = ("硫酸氢", "苯磺酸", "马来酸", "甲磺酸", "富马酸", "草酸", "盐酸", "硫酸", "枸橼酸", "酒石酸")
SALT_SUFFIXES = ("二钠", "钾", "钠", "片")

# Dosage forms of the "4+7" sheet's 剂型 column → the 剂型 part of variety names.
FORM_NAMES = {"口服常释片剂": "口服常释剂型", "口服常释片剂片剂": "口服常释剂型", "注射": "注射剂"}


def canonical_drug_name(name: str) -> str:
    """Display/id form: full-width brackets, no spaces or underscores, known misspellings fixed.

    >>> canonical_drug_name("坦洛新(坦索罗辛)缓释控释剂型"), canonical_drug_name("非那雄胺口服常释剂型_1mg")
    ('坦洛新（坦索罗辛）缓释控释剂型', '非那雄胺口服常释剂型1mg')
    """
    s = unicodedata.normalize("NFKC", str(name))
    s = re.sub(r"[\s_]+", "", s).replace("(", "（").replace(")", "）")
    for a, b in {**CHAR_FIXES, **TYPO_FIXES}.items():
        s = s.replace(a, b)
    return s


def match_key(name: str) -> str:
    """Looser key: canonical name without bracketed parts (头孢呋辛酯（头孢呋辛）… → 头孢呋辛酯…)."""
    return re.sub(r"（[^（）]*）", "", canonical_drug_name(name))


def name_from_4_7(variety: str, form: str | None) -> str:
    """Variety name of a "4+7" row from 品种名 and 剂型: 硫酸氢氯吡格雷 + 口服常释片剂 → 氯吡格雷口服常释剂型."""
    base = canonical_drug_name(variety)
    for p in SALT_PREFIXES:
        if base.startswith(p) and len(base) > len(p) + 1:
            base = base[len(p):]
            break
    for s in SALT_SUFFIXES:
        if base.endswith(s) and len(base) > len(s) + 1:
            base = base[: -len(s)]
            break
    f = canonical_drug_name(form) if form else ""
    f = FORM_NAMES.get(f, "口服常释剂型" if f.startswith("口服常释") else f)
    return base + f


_TOKEN = re.compile(r"(\d+(?:\.\d+)?)\s*(mg|g|ug|mcg|ml|iu|万iu|万u|u)", re.I)
_TO_BASE = {"g": ("mg", 1000.0), "mg": ("mg", 1.0), "ug": ("mg", 0.001), "mcg": ("mg", 0.001), "ml": ("ml", 1.0)}


def spec_key(spec: str | None) -> str:
    """Strength as a comparable key: 0.25g ≡ 250mg, 5ml:50mg ≡ 50mg/5ml, trailing * dropped.

    >>> spec_key("0.25g") == spec_key("250mg*"), spec_key("5ml:50mg") == spec_key("50mg/5ml")
    (True, True)
    """
    if not spec:
        return ""
    s = unicodedata.normalize("NFKC", str(spec)).lower().replace("μ", "u").replace("µ", "u")
    tokens = []
    for num, unit in _TOKEN.findall(s):
        base, factor = _TO_BASE.get(unit.lower(), (unit.lower(), 1.0))
        tokens.append(f"{float(num) * factor:g}{base}")
    return "+".join(sorted(tokens)) if tokens else re.sub(r"[\s*]", "", s)


def clean_spec(spec: str | None) -> str | None:
    """Spec text for output: no spaces, no trailing main-spec star ('20mg*' → '20mg')."""
    if spec is None:
        return None
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(spec)))
    return s.rstrip("*") or None


def unit_of(name: str) -> str:
    """Minimum unit (最小制剂单位) implied by the dosage form in a variety name.

    Oral solids (tablets and capsules alike) count in 片 as the announcements' 万片 columns do.
    """
    if "注射" in name or "滴眼" in name:
        return "支"
    if any(k in name for k in ("散剂", "颗粒", "干混悬", "粉剂")):
        return "袋"
    if any(k in name for k in ("口服液体", "口服溶液", "糖浆", "混悬液")):
        return "瓶"
    return "片"


def enterprise_key(name: str | None) -> str:
    """Enterprise name for matching: NFKC, no whitespace, brackets unified."""
    if not name:
        return ""
    s = unicodedata.normalize("NFKC", str(name))
    return re.sub(r"\s+", "", s).replace("(", "（").replace(")", "）")


_NUMERALS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


def batch_of_sheet(title: str) -> str | None:
    """Batch id from a sheet title: 4+7 → NVBP-1, 联盟/扩围 → NVBP-1X, 第二轮/第三批 … → NVBP-2, NVBP-3.

    >>> [batch_of_sheet(t) for t in ("第一轮集采4+7", "联盟地区 by 省", "第三批集采 完整", "规则摘要")]
    ['NVBP-1', 'NVBP-1X', 'NVBP-3', None]
    """
    t = unicodedata.normalize("NFKC", title)
    if "联盟" in t or "扩围" in t:
        return "NVBP-1X"
    if "4+7" in t:
        return "NVBP-1"
    m = re.search(r"第([一二三四五六七八九十]+|\d+)[轮批]", t)
    if m:
        g = m.group(1)
        n = int(g) if g.isdigit() else (_NUMERALS[g] if len(g) == 1 else 10 + _NUMERALS.get(g[-1], 0))
        return f"NVBP-{n}"
    return None
