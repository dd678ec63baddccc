"""The one place scope is applied: every role against hand-built rows, with the rows each must see."""

from __future__ import annotations

import ibis
import pyarrow as pa
import pytest

from jicai.contract.roles import Principal
from jicai.web.scope import Dims, Lookups, may_see_institution, restrict

# Two cities (3501 福州, 3502 厦门); H1, H2 in 350102, H3 in 350203. Enterprise E1 makes P1 (selected in V1),
# E2 is the selected enterprise of P2 (made by E3) in V2; D9 distributes.
INST = {"institution_code": ["H1", "H2", "H3"], "region_code": ["350102", "350102", "350203"]}
PRODUCTS = {"product_code": ["P1", "P2", "P3"], "manufacturer_code": ["E1", "E3", "E3"]}
SELECTED = {"batch_id": ["B", "B"], "variety_id": ["V1", "V2"], "product_code": ["P1", "P2"],
            "enterprise_code": ["E1", "E2"]}
ROWS = {  # monitoring-like rows: institution × variety
    "institution_code": ["H1", "H1", "H2", "H3"], "region_code": ["350102", "350102", "350102", "350203"],
    "variety_id": ["V1", "V2", "V1", "V2"], "v": [1, 2, 3, 4]}
LINES = {  # order-line-like rows: institution × product × distributor
    "institution_code": ["H1", "H2", "H3", "H3"], "product_code": ["P1", "P2", "P3", "P1"],
    "distributor_code": ["D9", "D8", "D9", "D8"], "v": [10, 20, 30, 40]}


@pytest.fixture(scope="module")
def con():
    c = ibis.duckdb.connect()
    for name, d in (("inst", INST), ("products", PRODUCTS), ("sel", SELECTED), ("rows", ROWS), ("lines", LINES)):
        c.create_table(name, pa.table(d))
    return c


def seen(con, principal, table, dims) -> list[int]:
    lk = Lookups(con.table("inst"), con.table("products"), con.table("sel"))
    t = restrict(principal, con.table(table), dims, lk)
    return sorted(t.to_pyarrow().column("v").to_pylist())


MON = Dims(institution="institution_code", region="region_code", variety="variety_id")
LINE = Dims(institution="institution_code", product="product_code", enterprise=("distributor_code",))
PRODUCT_ONLY = Dims(product="product_code")


@pytest.mark.parametrize(("principal", "table", "dims", "expected"), [
    (Principal(1, "a", "admin"), "rows", MON, [1, 2, 3, 4]),
    (Principal(1, "b", "bureau", "3501"), "rows", MON, [1, 2, 3]),
    (Principal(1, "b", "bureau", "350203"), "rows", MON, [4]),
    (Principal(1, "b", "bureau", "3501"), "lines", LINE, [10, 20]),  # no region column: through institutions
    (Principal(1, "b", "bureau", "3501"), "lines", PRODUCT_ONLY, [10, 20, 30, 40]),  # product data: not regional
    (Principal(1, "au", "auditor", "3502"), "rows", MON, [4]),
    (Principal(1, "h", "institution", "H1"), "rows", MON, [1, 2]),
    (Principal(1, "h", "institution", "H3"), "lines", LINE, [30, 40]),
    (Principal(1, "h", "institution", "H1"), "lines", PRODUCT_ONLY, []),  # no institution dimension: nothing
    (Principal(1, "h", "institution", ""), "rows", MON, []),  # an institution user without scope sees nothing
    (Principal(1, "e", "enterprise", "E1"), "rows", MON, [1, 3]),  # varieties where E1 holds a selected product
    (Principal(1, "e", "enterprise", "E2"), "rows", MON, [2, 4]),
    (Principal(1, "e", "enterprise", "E3"), "rows", MON, []),  # makes P2 but is not the selected enterprise
    (Principal(1, "e", "enterprise", "E1"), "lines", LINE, [10, 40]),  # P1 made by E1
    (Principal(1, "e", "enterprise", "E3"), "lines", LINE, [20, 30]),  # manufacturer of P2, P3
    (Principal(1, "e", "enterprise", "E2"), "lines", LINE, [20]),  # selected enterprise of P2
    (Principal(1, "d", "enterprise", "D9"), "lines", LINE, [10, 30]),  # as distributor
    (Principal(1, "x", "stranger", "H1"), "rows", MON, []),  # unknown role: nothing
    (None, "rows", MON, []),
])
def test_restrict(con, principal, table, dims, expected):
    assert seen(con, principal, table, dims) == expected


def test_enterprise_without_any_dimension_sees_nothing(con):
    assert seen(con, Principal(1, "e", "enterprise", "E1"), "rows", Dims(institution="institution_code"), ) == []


@pytest.mark.parametrize(("principal", "code", "region", "ok"), [
    (Principal(1, "a", "admin"), "H3", "350203", True),
    (Principal(1, "b", "bureau", "3501"), "H1", "350102", True),
    (Principal(1, "b", "bureau", "3501"), "H3", "350203", False),
    (Principal(1, "h", "institution", "H1"), "H1", "350102", True),
    (Principal(1, "h", "institution", "H1"), "H2", "350102", False),
    (Principal(1, "e", "enterprise", "E1"), "H1", "350102", False),
])
def test_may_see_institution(principal, code, region, ok):
    assert may_see_institution(principal, code, region) is ok
