"""Code formats of the Chinese health-insurance data world, with their check characters.

Each ``*_problem`` function returns ``None`` for a valid code, else a ``(zh, en)`` reason, so that the
importer can put the reason into quarantine in both languages. The ``make_*`` helpers build valid
codes (the simulator and tests use them).
"""

from __future__ import annotations

import re

Reason = tuple[str, str] | None

# --- 统一社会信用代码 (GB 32100-2015) ------------------------------------------------------------
# 18 characters from a 31-character alphabet (no I, O, S, V, Z); the 18th is a check character
# computed modulo 31 over the first 17 with weights 3^i mod 31.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> Reason:
    if len(code) != 18:
        return (f"统一社会信用代码应为18位，实为{len(code)}位", f"USCC must have 18 characters, has {len(code)}")
    bad = [c for c in code if c not in _USCC_VALUE]
    if bad:
        return (f"统一社会信用代码含非法字符 {bad[0]!r}", f"USCC contains invalid character {bad[0]!r}")
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        return (
            f"统一社会信用代码校验位错误：应为 {expected}，实为 {code[17]}",
            f"USCC check character wrong: expected {expected}, got {code[17]}",
        )
    return None


def make_uscc(body17: str) -> str:
    """Append the GB 32100 check character to a 17-character body."""
    return body17 + uscc_check_char(body17)


# --- 行政区划代码 (GB/T 2260) ------------------------------------------------------------------
# First two digits: the province-level divisions that exist.
PROVINCE_PREFIXES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)
_REGION = re.compile(r"^\d{6}$")


def region_level(code: str) -> int:
    """1 = province (xx0000), 2 = prefecture (xxyy00), 3 = county (xxyyzz)."""
    if code[2:] == "0000":
        return 1
    if code[4:] == "00":
        return 2
    return 3


def region_problem(code: str) -> Reason:
    if not _REGION.match(code):
        return ("行政区划代码应为6位数字", "region code must be 6 digits (GB/T 2260)")
    if code[:2] not in PROVINCE_PREFIXES:
        return (f"行政区划代码省级前缀 {code[:2]} 不存在", f"region code province prefix {code[:2]} does not exist")
    return None


def region_parent_problem(code: str, parent: str | None) -> Reason:
    """A parent must be an ancestor of higher level sharing the code's prefix (GB/T 2260 hierarchy)."""
    level = region_level(code)
    if not parent:
        if level == 1:
            return None
        return ("非省级区划须填写上级区划代码", "a non-province region needs a parent_code")
    plevel = region_level(parent)
    if plevel >= level or parent[: 2 * plevel] != code[: 2 * plevel]:
        return (
            f"上级区划 {parent} 不是 {code} 的上级",
            f"parent {parent} is not an ancestor of {code}",
        )
    return None


# --- 医疗机构 / 定点药店编码 -------------------------------------------------------------------
# National fixed-point codes: H (medical institution) or P (pharmacy) + 6-digit region + 5 digits.
_INSTITUTION = re.compile(r"^[HP](\d{6})\d{5}$")


def institution_problem(code: str) -> Reason:
    m = _INSTITUTION.match(code)
    if not m:
        return (
            "机构编码应为 H 或 P 加 6 位区划代码加 5 位顺序号（共12位）",
            "institution code must be H or P + 6-digit region + 5 digits (12 characters)",
        )
    if (r := region_problem(m.group(1))) is not None:
        return (f"机构编码中的{r[0]}", f"region part of institution code: {r[1]}")
    return None


def institution_region(code: str) -> str:
    return code[1:7]


# --- 医保药品 / 耗材编码 -----------------------------------------------------------------------
# Western drugs: X + ATC-like level-5 group (e.g. C10AA) + 17 further characters = 23.
# Chinese patent medicines: Z + 19 characters = 20.
# Consumables (and IVD reagents, coded in the consumable system): C + 19 digits = 20 (分类+通用名+
# 材质+规格+企业, cf. nhsa-consumable-codes-excerpt) or C + 26 digits = 27 (with product/spec detail).
PRODUCT_PATTERNS: dict[str, re.Pattern[str]] = {
    "western_drug": re.compile(r"^X[A-Z]\d{2}[A-Z]{2}[A-Z0-9]{17}$"),
    "chinese_patent": re.compile(r"^Z[A-Z][A-Z0-9]{18}$"),
    "consumable_20": re.compile(r"^C\d{19}$"),
    "consumable_27": re.compile(r"^C\d{26}$"),
}


def product_kind(code: str) -> str | None:
    for kind, pat in PRODUCT_PATTERNS.items():
        if pat.match(code):
            return kind
    return None


def product_problem(code: str) -> Reason:
    if product_kind(code) is None:
        return (
            "医保编码格式不符：西药23位(X开头)、中成药20位(Z开头)、耗材20或27位(C开头)",
            "product code format: western drug 23 chars (X…), Chinese patent medicine 20 (Z…), consumable 20 or 27 (C…)",
        )
    return None


def consumable_category(code: str) -> str:
    """Level-1 consumable category (C01…C17) of a consumable code."""
    return code[:3]
