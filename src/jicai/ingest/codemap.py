"""对码 at import: order lines that carry a hospital's own product code get the national code confirmed for it.

Two steps of :func:`jicai.ingest.validate.check` for ``orders``, both reading the warehouse through the sink
(DuckDB or PostgreSQL alike):

* :func:`apply_confirmed`, before any check: an order line whose ``product_code`` is not a national product
  but a local code with a confirmed mapping (``product_mappings``) is rewritten to that product. The mapping
  of the line's institution wins over a ``platform`` one; an institution's ``rejected`` decision stops the
  platform mapping too. National codes are never rewritten. When no mapping is confirmed at all (a platform
  export), this is one count query and nothing else.
* :func:`hints`, for the lines still referring to no product: the reason of their quarantine row gets what
  the bureau needs to act — the local product as the hospital describes it (``local_products``) and the best
  national candidates with their scores (:mod:`jicai.ingest.matching`), or that the code was rejected, or that
  the hospital's dictionary is missing.
"""

from __future__ import annotations

import pyarrow as pa

from jicai.contract.codes import product_problem
from jicai.ingest.matching import Candidate, ProductIndex, describe_local, describe_product
from jicai.ingest.sql import q
from jicai.ingest.stage import Staged

MAPPED_TABLE = "orders"  # the table whose product codes may be local codes
HINTS = "code_hints"  # staging table (scope, v, zh, en) the quarantine reasons join
MAX_HINTS = 200  # (institution, code) pairs given suggestions in one file; the rest get the plain reason
_PAIRS = pa.schema([("scope", pa.string()), ("local_code", pa.string())])


def _typed_base(con: object) -> str:
    """The staging table holding the parsed rows: ``typed``, or ``typed0`` under the numbering view."""
    views = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'typed' AND NOT internal").fetchone()[0]
    return "typed0" if views else "typed"


def _unknown_pairs(con: object, sink: object, into: str) -> int:
    """``into(scope, local_code)``: the distinct (institution, product code) of the file whose code is no product."""
    n = sink.absent("products", "product_code",
                    Staged(con, "SELECT product_code AS v FROM typed", pa.schema([("v", pa.string())])), f"{into}_v")
    if n:
        con.execute(f"CREATE OR REPLACE TABLE {into} AS SELECT DISTINCT institution_code AS scope, product_code AS "
                    f"local_code FROM typed WHERE product_code IN (SELECT v FROM {into}_v) AND institution_code "
                    f"IS NOT NULL")
        n = con.execute(f"SELECT count(*) FROM {into}").fetchone()[0]
    return n


def apply_confirmed(con: object, table: str, sink: object) -> int:
    """Rewrite the local codes of ``typed`` that have a confirmed mapping; returns how many codes were mapped."""
    if table != MAPPED_TABLE or not sink.fetch(
            "SELECT count(*) FROM product_mappings WHERE status = 'confirmed'")[0][0]:
        return 0
    if not _unknown_pairs(con, sink, "codemap_pairs"):
        return 0
    found = sink.query_with(Staged(con, "SELECT scope, local_code FROM codemap_pairs", _PAIRS), "product_mappings", (
        "SELECT s.scope, s.local_code, CASE WHEN m.status IS NOT NULL THEN "
        "(CASE WHEN m.status = 'confirmed' THEN m.product_code END) ELSE p.product_code END AS product_code "
        "FROM {src} s "
        "LEFT JOIN product_mappings m ON m.scope = s.scope AND m.local_code = s.local_code "
        "LEFT JOIN product_mappings p ON p.scope = 'platform' AND p.local_code = s.local_code "
        "AND p.status = 'confirmed'"))
    mapped = [r for r in found if r[2] is not None]
    if not mapped:
        return 0
    data = pa.table({k: pa.array([r[i] for r in mapped], pa.string())
                     for i, k in enumerate(("scope", "local_code", "product_code"))})
    con.register("codemap_found_arrow", data)
    con.execute("CREATE OR REPLACE TABLE codemap_found AS SELECT * FROM codemap_found_arrow")
    con.unregister("codemap_found_arrow")
    base = _typed_base(con)
    con.execute(f"UPDATE {base} SET product_code = m.product_code FROM codemap_found m "
                f"WHERE {base}.institution_code = m.scope AND {base}.product_code = m.local_code")
    return len(mapped)


def products_index(sink: object) -> ProductIndex:
    """Every national product described for matching (its manufacturer's name from ``enterprises``)."""
    rows = sink.fetch("SELECT p.product_code, p.name, p.spec, p.units_per_pack, e.name FROM products p "
                      "LEFT JOIN enterprises e ON e.enterprise_code = p.manufacturer_code ORDER BY p.product_code")
    return ProductIndex([describe_product(*r) for r in rows])


def candidates_text(cands: list[Candidate]) -> tuple[str, str]:
    """The proposals as a reader sees them in a reason, Chinese and English."""
    zh = "；".join(f"{c.product_code} {c.label}（{c.score:.1f}分）" for c in cands)
    en = "; ".join(f"{c.product_code} {c.label} (score {c.score:.1f})" for c in cands)
    return zh, en


def _hint(code: str, local: tuple | None, rejected: bool, index: ProductIndex | None) -> tuple[str, str] | None:
    if rejected:
        return ("；该本地编码已确认无对应医保产品（对码结果为不予对码）",
                "; this local code was decided to have no national product (mapping rejected)")
    if local is not None:
        name, spec, upp, maker = local
        shown = " ".join(str(x) for x in (name, spec, maker) if x)
        cands = index.propose(describe_local(name, spec, upp, maker)) if index is not None else []
        if not cands:
            return (f"；本地编码“{code}”（{shown}）未对码，且没有得分≥60的医保产品候选，请人工对码",
                    f"; local code {code!r} ({shown}) is not mapped and no national product scores ≥ 60: map it by hand")
        zh, en = candidates_text(cands)
        return (f"；本地编码“{code}”（{shown}）未对码，候选：{zh}；请在“对码”页或用 jicai mapping confirm 确认后重新导入",
                f"; local code {code!r} ({shown}) is not mapped; candidates: {en}; confirm one on the 对码 page or "
                f"with `jicai mapping confirm`, then import again")
    if product_problem(code) is not None:
        return ("；这不是医保编码，也不在该机构的本地产品目录（local_products）中：请先导入其产品目录以便对码",
                "; this is not a national product code and not in the institution's local_products: import its "
                "product dictionary to map it")
    return None


def hints(con: object, table: str, sink: object) -> bool:
    """``code_hints(scope, v, zh, en)`` for the unknown product codes of ``typed``; False when there are none."""
    if table != MAPPED_TABLE or not _unknown_pairs(con, sink, "codemap_hint_pairs"):
        return False
    pairs = Staged(con, f"SELECT scope, local_code FROM codemap_hint_pairs ORDER BY scope, local_code "
                        f"LIMIT {MAX_HINTS}", _PAIRS)
    # the institution's own dictionary row first, else the platform's; its own decision first, else the platform's
    pick = ", ".join(f"CASE WHEN li.local_code IS NOT NULL THEN li.{c} ELSE lp.{c} END" for c in ("name", "spec", "units_per_pack", "manufacturer"))
    rows = sink.query_with(pairs, "product_mappings", (
        f"SELECT s.scope, s.local_code, {pick}, coalesce(m.status, p.status) AS decided FROM {{src}} s "
        "LEFT JOIN local_products li ON li.scope = s.scope AND li.local_code = s.local_code "
        "LEFT JOIN local_products lp ON lp.scope = 'platform' AND lp.local_code = s.local_code "
        "LEFT JOIN product_mappings m ON m.scope = s.scope AND m.local_code = s.local_code "
        "LEFT JOIN product_mappings p ON p.scope = 'platform' AND p.local_code = s.local_code"))
    index = products_index(sink) if any(r[2] is not None for r in rows) else None
    out = []
    for scope, code, name, spec, upp, maker, decided in rows:
        local = (name, spec, upp, maker) if name is not None else None
        if (h := _hint(code, local, decided == "rejected", index)) is not None:
            out.append((scope, code, *h))
    if not out:
        return False
    data = pa.table({k: pa.array([r[i] for r in out], pa.string()) for i, k in enumerate(("scope", "v", "zh", "en"))})
    con.register("code_hints_arrow", data)
    con.execute(f"CREATE OR REPLACE TABLE {HINTS} AS SELECT * FROM code_hints_arrow")
    con.unregister("code_hints_arrow")
    return True


def hint_sql(lang: str) -> str:
    """SQL appending a flagged row's hint (``f`` = the row) to its reason, empty when it has none."""
    return (f"coalesce((SELECT h.{lang} FROM {HINTS} h WHERE h.scope = f.{q('institution_code')} "
            f"AND h.v = f.{q('product_code')}), '')")
