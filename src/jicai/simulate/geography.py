"""The simulated province: 福建省 with real GB/T 2260 prefecture and county codes and names.

Weights say roughly how many institutions a county gets (population-like, not exact).
"""

from __future__ import annotations

from dataclasses import dataclass

PROVINCE = ("350000", "福建省")

# prefecture code, name, [(county code, name, weight)]
PREFECTURES: tuple[tuple[str, str, tuple[tuple[str, str, float], ...]], ...] = (
    ("350100", "福州市", (
        ("350102", "鼓楼区", 1.2), ("350103", "台江区", 0.9), ("350104", "仓山区", 1.2),
        ("350111", "晋安区", 1.0), ("350121", "闽侯县", 1.0), ("350181", "福清市", 1.5),
    )),
    ("350200", "厦门市", (
        ("350203", "思明区", 1.2), ("350205", "海沧区", 0.6), ("350206", "湖里区", 1.0),
        ("350211", "集美区", 0.9), ("350212", "同安区", 0.8),
    )),
    ("350300", "莆田市", (
        ("350302", "城厢区", 0.7), ("350303", "涵江区", 0.8), ("350304", "荔城区", 0.7), ("350322", "仙游县", 1.0),
    )),
    ("350400", "三明市", (
        ("350404", "三元区", 0.6), ("350405", "沙县区", 0.5), ("350421", "明溪县", 0.3), ("350481", "永安市", 0.6),
    )),
    ("350500", "泉州市", (
        ("350502", "鲤城区", 0.8), ("350503", "丰泽区", 0.9), ("350504", "洛江区", 0.5), ("350521", "惠安县", 1.0),
        ("350524", "安溪县", 1.0), ("350581", "石狮市", 0.8), ("350582", "晋江市", 1.8), ("350583", "南安市", 1.4),
    )),
    ("350600", "漳州市", (
        ("350602", "芗城区", 0.8), ("350603", "龙文区", 0.5), ("350622", "云霄县", 0.5), ("350623", "漳浦县", 0.9),
    )),
    ("350700", "南平市", (
        ("350702", "延平区", 0.6), ("350703", "建阳区", 0.5), ("350782", "武夷山市", 0.4),
    )),
    ("350800", "龙岩市", (
        ("350802", "新罗区", 0.9), ("350803", "永定区", 0.5), ("350821", "长汀县", 0.5),
    )),
    ("350900", "宁德市", (
        ("350902", "蕉城区", 0.6), ("350981", "福安市", 0.6), ("350982", "福鼎市", 0.5),
    )),
)


@dataclass(frozen=True)
class County:
    code: str
    name: str
    prefecture_code: str
    prefecture_name: str
    weight: float


def counties() -> list[County]:
    return [County(c, n, pc, pn, w) for pc, pn, cs in PREFECTURES for c, n, w in cs]


def region_rows() -> list[dict]:
    """Rows of the ``regions`` table: province, prefectures, counties with consistent parents."""
    rows = [{"region_code": PROVINCE[0], "name": PROVINCE[1], "parent_code": None}]
    for pc, pn, cs in PREFECTURES:
        rows.append({"region_code": pc, "name": pn, "parent_code": PROVINCE[0]})
        rows.extend({"region_code": c, "name": n, "parent_code": pc} for c, n, _ in cs)
    return rows


# Some real places elsewhere in China where manufacturers are registered (region part of their USCC).
MANUFACTURER_REGIONS = (
    "320500", "330100", "370100", "310115", "130100", "440300", "510100", "420100", "120116", "350100",
    "350200", "321200", "330600", "410100", "220100",
)
