"""Province-level divisions of GB/T 2260 and the eleven "4+7" pilot cities, by every name they go by.

Announcements name supply regions the way people write them: 北京 / 北京市 / 京, 内蒙古 / 内蒙古自治区,
新疆（含兵团） (Xinjiang together with the Production and Construction Corps, which has no code of its
own in GB/T 2260 and is supplied as part of 65). :func:`region_code` maps any of these to the 6-digit
code; :func:`split_regions` cuts a 供应省份 cell into codes and reports what it could not read.

>>> region_code("新疆（含兵团）"), region_code("京"), region_code("厦门")
('650000', '110000', '350200')
>>> split_regions("河南、湖 北，广东;  云南 西藏")
(['410000', '420000', '440000', '530000', '540000'], [])
"""

from __future__ import annotations

import re
import unicodedata

# code, official name, common short name, one-character abbreviation (简称)
PROVINCES: tuple[tuple[str, str, str, str], ...] = (
    ("110000", "北京市", "北京", "京"),
    ("120000", "天津市", "天津", "津"),
    ("130000", "河北省", "河北", "冀"),
    ("140000", "山西省", "山西", "晋"),
    ("150000", "内蒙古自治区", "内蒙古", "蒙"),
    ("210000", "辽宁省", "辽宁", "辽"),
    ("220000", "吉林省", "吉林", "吉"),
    ("230000", "黑龙江省", "黑龙江", "黑"),
    ("310000", "上海市", "上海", "沪"),
    ("320000", "江苏省", "江苏", "苏"),
    ("330000", "浙江省", "浙江", "浙"),
    ("340000", "安徽省", "安徽", "皖"),
    ("350000", "福建省", "福建", "闽"),
    ("360000", "江西省", "江西", "赣"),
    ("370000", "山东省", "山东", "鲁"),
    ("410000", "河南省", "河南", "豫"),
    ("420000", "湖北省", "湖北", "鄂"),
    ("430000", "湖南省", "湖南", "湘"),
    ("440000", "广东省", "广东", "粤"),
    ("450000", "广西壮族自治区", "广西", "桂"),
    ("460000", "海南省", "海南", "琼"),
    ("500000", "重庆市", "重庆", "渝"),
    ("510000", "四川省", "四川", "川"),
    ("520000", "贵州省", "贵州", "黔"),
    ("530000", "云南省", "云南", "滇"),
    ("540000", "西藏自治区", "西藏", "藏"),
    ("610000", "陕西省", "陕西", "陕"),
    ("620000", "甘肃省", "甘肃", "甘"),
    ("630000", "青海省", "青海", "青"),
    ("640000", "宁夏回族自治区", "宁夏", "宁"),
    ("650000", "新疆维吾尔自治区", "新疆", "新"),
    ("710000", "台湾省", "台湾", "台"),
    ("810000", "香港特别行政区", "香港", "港"),
    ("820000", "澳门特别行政区", "澳门", "澳"),
)

# Names of Xinjiang that include the Production and Construction Corps (兵团): same code 65.
_EXTRA_ALIASES: dict[str, str] = {
    "新疆含兵团": "650000",
    "新疆兵团": "650000",
    "新疆生产建设兵团": "650000",
    "兵团": "650000",
    "新疆维吾尔自治区含兵团": "650000",
    "广西自治区": "450000",
    "宁夏自治区": "640000",
    "西藏区": "540000",
}

# The "4+7" pilot cities of the first national batch: 4 municipalities + 7 cities (prefecture level).
PILOT_CITIES_4_7: tuple[tuple[str, str], ...] = (
    ("110000", "北京"),
    ("120000", "天津"),
    ("310000", "上海"),
    ("500000", "重庆"),
    ("210100", "沈阳"),
    ("210200", "大连"),
    ("350200", "厦门"),
    ("440100", "广州"),
    ("440300", "深圳"),
    ("510100", "成都"),
    ("610100", "西安"),
)


def normalize_name(name: str) -> str:
    """NFKC (full-width → half-width), no whitespace, no brackets: ``'新疆（含兵团）' → '新疆含兵团'``."""
    s = unicodedata.normalize("NFKC", str(name))
    return re.sub(r"[\s()\[\]【】]", "", s)


def _build_index() -> dict[str, str]:
    idx: dict[str, str] = {}
    for code, full, short, abbr in PROVINCES:
        for n in (full, short, abbr, code, code[:2]):
            idx[normalize_name(n)] = code
    for n, code in _EXTRA_ALIASES.items():
        idx[normalize_name(n)] = code
    for code, city in PILOT_CITIES_4_7:
        idx.setdefault(city, code)
        idx.setdefault(city + "市", code)
    return idx


_INDEX = _build_index()
# Names of two characters or more, longest first, for cutting a run of names without separators.
_SEGMENT_NAMES = sorted((n for n in _INDEX if len(n) >= 2 and not n.isdigit()), key=len, reverse=True)

PROVINCE_NAMES: dict[str, str] = {code: short for code, _, short, _ in PROVINCES}
CITY_NAMES: dict[str, str] = dict((code, name) for code, name in PILOT_CITIES_4_7)


def region_code(name: str | None) -> str | None:
    """6-digit GB/T 2260 code of a province (any name form) or of a 4+7 pilot city; None if unknown."""
    if name is None:
        return None
    return _INDEX.get(normalize_name(name))


def province_prefix(code: str) -> str:
    """The shortest region prefix of a code: ``'650000' → '65'``, ``'210100' → '2101'``."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


# Separators seen in 供应省份 cells: 、，,；; / | and line breaks. Spaces are handled by segmentation
# because the same cells also break a name in two ("湖 北", "云\n南").
SEPARATORS = re.compile(r"[、，,；;/|｜\n\r\t]+")


def _segment(run: str) -> list[str] | None:
    """Cut a whitespace-free run of names ("湖南广西") into known names, longest match first."""
    out: list[str] = []
    i = 0
    while i < len(run):
        for n in _SEGMENT_NAMES:
            if run.startswith(n, i):
                out.append(n)
                i += len(n)
                break
        else:
            return None
    return out


def split_regions(text: str | None) -> tuple[list[str], list[str]]:
    """Codes of a 供应省份 cell in the order written (duplicates dropped) and the pieces not understood."""
    codes: list[str] = []
    unknown: list[str] = []
    if text is None:
        return codes, unknown
    for piece in SEPARATORS.split(unicodedata.normalize("NFKC", str(text))):
        if not piece.strip():
            continue
        whole = normalize_name(piece)
        if whole in _INDEX:
            names = [whole]
        else:
            names = _segment(whole)
            if names is None:
                # a name we do not know: report the space-separated parts that are not known names
                parts = [normalize_name(p) for p in piece.split() if p.strip()]
                names = [p for p in parts if p in _INDEX]
                unknown += [p for p in parts if p not in _INDEX] or [whole]
        for n in names:
            code = _INDEX[n]
            if code not in codes:
                codes.append(code)
    return codes, unknown
