"""From the text of a file to contract values: header mapping and the SQL that parses every type.

Headers match the canonical English name, the Chinese name (``Column.zh``) or an alias, ignoring
case, whitespace and full-width forms (NFKC). A unit suffix such as ``采购数量(盒)`` is ignored only
when it names the column's own unit (盒 = 包装 for pack quantities): ``采购数量(片)`` counts minimum
units, not packs, so it is *not* taken for ``quantity`` and the user is told why.

Value parsing is SQL over VARCHAR so that a million rows never pass through Python: see
:func:`typed_expr`. The macros it uses are created (TEMP) by :func:`install_macros`. A cell that arrives
typed (a Parquet DOUBLE, TIMESTAMP, DATE, integer or BOOLEAN column) is taken as it is by
:func:`cell_exprs` — the same value its text would parse to, without printing and re-parsing it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import duckdb

from jicai.contract.tables import Column, Table
from jicai.ingest.sql import lit_list

# --- headers ------------------------------------------------------------------------------------
_UNIT = re.compile(r"^(.*?)\(([^()]+)\)$")
# Units that mean the same thing for a column whose Chinese name carries the first unit.
UNIT_EQUIVALENTS: dict[str, frozenset[str]] = {
    "包装": frozenset({"包装", "盒"}),
    "最小单位": frozenset({"最小单位", "最小制剂单位", "最小计量单位", "最小包装单位"}),
    "元": frozenset({"元", "人民币元"}),
    "元/包装": frozenset({"元/包装", "元/盒"}),
    "元/最小单位": frozenset({"元/最小单位", "元/最小制剂单位", "元/最小计量单位"}),
    "年": frozenset({"年"}),
}


def header_key(text: str) -> str:
    """Canonical form of a header: NFKC (full-width → ASCII), no whitespace, case-folded."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).casefold()


def _split_unit(key: str) -> tuple[str, str | None]:
    m = _UNIT.match(key)
    return (m.group(1), m.group(2)) if m else (key, None)


def alias_index(t: Table) -> dict[str, str]:
    """header key → column name; the canonical name wins over the Chinese name over aliases."""
    index: dict[str, str] = {}
    for rank in range(3):
        for c in t.columns:
            names = ((c.name,), (c.zh, _split_unit(header_key(c.zh))[0]), c.aliases)[rank]
            for n in names:
                index.setdefault(header_key(n), c.name)
    return index


@dataclass
class HeaderMap:
    columns: dict[str, int] = field(default_factory=dict)  # column name → position in the file
    extra: list[str] = field(default_factory=list)  # headers that map to nothing
    warnings: list[tuple[str, str]] = field(default_factory=list)

    def missing(self, t: Table) -> list[Column]:
        return [c for c in t.columns if c.required and c.name not in self.columns]


def map_headers(t: Table, headers: list[str]) -> HeaderMap:
    index = alias_index(t)
    hm = HeaderMap()
    for pos, h in enumerate(headers):
        if not h:
            continue
        key = header_key(h)
        name = index.get(key)
        if name is None:
            base, unit = _split_unit(key)
            cand = index.get(base)
            if cand is not None and unit is not None:
                own = _split_unit(header_key(t.column(cand).zh))[1]
                if own is not None and unit in UNIT_EQUIVALENTS.get(own, frozenset({own})):
                    name = cand
                else:
                    hm.warnings.append((
                        f"列“{h}”的单位与“{t.column(cand).zh}”不符，未使用",
                        f"column {h!r}: its unit does not match {cand} ({t.column(cand).zh}); not used"))
        if name is None:
            hm.extra.append(h)
        elif name in hm.columns:
            first = headers[hm.columns[name]]
            hm.warnings.append((f"列“{h}”与“{first}”都对应 {name}，使用第一个",
                                f"columns {h!r} and {first!r} both map to {name}; the first is used"))
        else:
            hm.columns[name] = pos
    return hm


def header_score(t: Table, cells: list[str]) -> int:
    """How many distinct contract columns a candidate header row names (0 = not this table's header)."""
    hm = map_headers(t, cells)
    return len(hm.columns) if len(hm.columns) >= min(2, len(t.columns)) else 0


# --- values ------------------------------------------------------------------------------------
_FW = "".join(chr(0xFF10 + i) for i in range(10)) + "".join(chr(0xFF21 + i) for i in range(26)) + \
    "".join(chr(0xFF41 + i) for i in range(26)) + "．－，：／＋；\u3000"
_HW = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-,:/+; "
_WS = " \t\r\n\u3000\u00a0"
TRUE_TEXT = ("true", "t", "yes", "y", "1", "1.0", "是", "√")
FALSE_TEXT = ("false", "f", "no", "n", "0", "0.0", "否", "×")
LEVEL_TEXT = {"三级": 3, "二级": 2, "一级": 1, "未定级": 0}
# Chinese words for choice values; used only when the canonical value is one of the column's choices.
CHOICE_WORDS: dict[str, str] = {
    "药品": "drug", "耗材": "consumable", "医用耗材": "consumable", "试剂": "reagent", "检验试剂": "reagent",
    "平台": "platform", "平台采购": "platform", "线上": "platform", "线下": "offline", "线下采购": "offline",
    "挂网": "listed", "暂停": "suspended", "撤网": "delisted", "短缺": "shortage", "配送不及时": "late",
    "选择性配送": "selective", "其他": "other", "应急": "emergency", "季节性": "seasonal", "需求变化": "demand_change",
    "在线": "online", "离线": "offline", "约谈": "notice", "暂停结算": "suspend", "追回": "recover",
    "医院": "hospital", "基层": "primary", "民营": "private", "村卫生室": "village", "药店": "pharmacy",
    "生产企业": "manufacturer", "配送企业": "distributor", "生产配送": "both",
}
ROLE_WORDS = {"主供": "primary", "备供": "backup"}
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f",
                "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M", "%Y%m%d"]
# Characters no cell may hold (documented in docs/data-contract.md, "Control characters"): C0 controls but TAB, LF
# and CR, DEL, and the bidirectional overrides and isolates that make a name display differently from what it is.
_CONTROL_CLASS = "[\\x01-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F\\x{202A}-\\x{202E}\\x{2066}-\\x{2069}]"
FREE_TEXT = frozenset({"name", "spec", "unit", "kind"})  # kept as typed (full-width punctuation is meaningful)


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    fmts = lit_list(DATE_FORMATS)
    con.execute(f"""
    CREATE OR REPLACE TEMP MACRO jc_plain(s) AS strlen(s) = length(s) AND ascii(s) > 32
        AND NOT (ends_with(s, ' ') OR ends_with(s, chr(9)) OR ends_with(s, chr(10)) OR ends_with(s, chr(13)));
    CREATE OR REPLACE TEMP MACRO jc_text(s) AS CASE WHEN jc_plain(CAST(s AS VARCHAR)) THEN CAST(s AS VARCHAR)
        ELSE NULLIF(trim(CAST(s AS VARCHAR), '{_WS}'), '') END;
    CREATE OR REPLACE TEMP MACRO jc_fold(s) AS CASE WHEN strlen(s) = length(s) THEN s ELSE translate(s, '{_FW}', '{_HW}') END;
    CREATE OR REPLACE TEMP MACRO jc_half(s) AS CASE WHEN jc_plain(CAST(s AS VARCHAR)) THEN CAST(s AS VARCHAR)
        ELSE NULLIF(trim(jc_fold(CAST(s AS VARCHAR)), '{_WS}'), '') END;
    CREATE OR REPLACE TEMP MACRO jc_plain_dbl(s) AS COALESCE(TRY_CAST(s AS DOUBLE), TRY_CAST(
        CASE WHEN regexp_full_match(s, '[+-]?\\d{{1,3}}(,\\d{{3}})+(\\.\\d*)?') THEN replace(s, ',', '') ELSE s END
        AS DOUBLE));
    CREATE OR REPLACE TEMP MACRO jc_dbl(s) AS COALESCE(jc_plain_dbl(s), CASE
        WHEN starts_with(s, '¥') OR starts_with(s, '￥') OR ends_with(s, '元')
        THEN jc_plain_dbl(trim(regexp_replace(s, '^[¥￥]|元$', '', 'g'))) END);
    CREATE OR REPLACE TEMP MACRO jc_num(s) AS CASE WHEN isfinite(jc_dbl(s)) THEN jc_dbl(s) END;
    CREATE OR REPLACE TEMP MACRO jc_int(x) AS CASE WHEN x = trunc(x) AND abs(x) < 9e15 THEN CAST(x AS BIGINT) END;
    CREATE OR REPLACE TEMP MACRO jc_serial(s) AS regexp_full_match(s, '\\d{{5}}(\\.\\d+)?');
    CREATE OR REPLACE TEMP MACRO jc_ts(s) AS COALESCE(
        CASE WHEN regexp_full_match(s, '\\d{{4}}-\\d\\d-\\d\\d([ T]([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d)?')
             THEN TRY_CAST(s AS TIMESTAMP) END,
        try_strptime(s, '%Y-%m-%d %H:%M:%S'), try_strptime(s, '%Y-%m-%d'), CASE
        WHEN jc_serial(s) THEN TIMESTAMP '1899-12-30 00:00:00' + to_seconds(round(CAST(s AS DOUBLE) * 86400))
        ELSE try_strptime(replace(replace(replace(replace(s, '/', '-'), '年', '-'), '月', '-'), '日', ''), {fmts}) END);
    CREATE OR REPLACE TEMP MACRO jc_control(s) AS CASE WHEN regexp_matches(s, '{_CONTROL_CLASS}') THEN
        'U+' || upper(lpad(to_hex(unicode(regexp_extract(s, '{_CONTROL_CLASS}'))), 4, '0')) END;
    CREATE OR REPLACE TEMP MACRO jc_mm(s) AS TRY_CAST(regexp_extract(s, '^\\d{{4}}[-/.年]?(\\d{{1,2}})月?$', 1) AS INTEGER);
    CREATE OR REPLACE TEMP MACRO jc_month(s) AS CASE
        WHEN jc_serial(s) OR regexp_full_match(s, '\\d{{4}}[-/.年]\\d{{1,2}}[-/.月]\\d{{1,2}}.*') THEN
            CASE WHEN day(jc_ts(s)) = 1 THEN strftime(jc_ts(s), '%Y-%m') END
        WHEN jc_mm(s) BETWEEN 1 AND 12 THEN substr(s, 1, 4) || '-' || lpad(CAST(jc_mm(s) AS VARCHAR), 2, '0')
        END;
    """)


def _choice_case(c: Column, v: str) -> str:
    words = dict(CHOICE_WORDS)
    if c.name == "role":
        words.update(ROLE_WORDS)
    whens = "".join(f"WHEN {v} = '{w}' THEN '{en}' " for w, en in words.items() if en in c.choices)
    return f"CASE WHEN lower({v}) IN ({lit_list(c.choices)[1:-1]}) THEN lower({v}) {whens}END"


def clean_expr(c: Column, table: Table, raw: str) -> str:
    """Cleaned text of a cell: trimmed, NULL when empty; full-width digits/letters folded except in names."""
    if c.type == "str" and c.name in FREE_TEXT and c.check is None and not c.choices and c.name not in table.key:
        return f"jc_text({raw})"
    v = f"jc_half({raw})"
    if c.check in ("uscc", "institution_code", "product_code", "region_code"):
        return f"upper({v})"
    if c.check == "region_prefixes":
        return f"NULLIF(trim(regexp_replace({v}, '[,;、\\s]+', ';', 'g'), ';'), '')"
    return v


def typed_expr(c: Column, v: str) -> str:
    """SQL turning cleaned text ``v`` into the column's type; NULL where the text does not parse."""
    if c.type == "str":
        return _choice_case(c, v) if c.choices else v
    if c.type == "float":
        return f"jc_num({v})"
    if c.type == "int":
        num = f"jc_num({v})"
        if c.name == "level":
            lv = "".join(f"WHEN starts_with({v}, '{k}') THEN {n} " for k, n in LEVEL_TEXT.items())
            num = f"CASE {lv}ELSE {num} END"
        return f"jc_int({num})"
    if c.type == "bool":
        return (f"CASE WHEN lower({v}) IN ({lit_list(TRUE_TEXT)[1:-1]}) THEN true "
                f"WHEN lower({v}) IN ({lit_list(FALSE_TEXT)[1:-1]}) THEN false END")
    if c.type == "date":
        return f"CAST(jc_ts({v}) AS DATE)"
    if c.type == "datetime":
        return f"CAST(jc_ts({v}) AS TIMESTAMP)"
    if c.type == "month":
        return f"jc_month({v})"
    raise ValueError(c.type)


_INTEGERS = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
                       "HUGEINT", "UHUGEINT"})
_NUMBERS = _INTEGERS | {"FLOAT", "DOUBLE"}
_TIMESTAMPS = frozenset({"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE"})


def _native(c: Column, cell: str, dtype: str) -> str | None:
    """The typed value of a cell whose source type already is (or holds exactly) the column's type; None when
    the cell must go through its text. Each equals what :func:`typed_expr` makes of the cell's text."""
    base = dtype.split("(")[0]
    number = base in _NUMBERS or base == "DECIMAL"
    if c.type == "float" and number:
        return f"CASE WHEN isfinite(CAST({cell} AS DOUBLE)) THEN CAST({cell} AS DOUBLE) END"
    if c.type == "int" and base in _INTEGERS:
        return f"CASE WHEN abs({cell}) < 9e15 THEN CAST({cell} AS BIGINT) END"
    if c.type in ("datetime", "date") and base in _TIMESTAMPS:
        return f"CAST({cell} AS {'TIMESTAMP' if c.type == 'datetime' else 'DATE'})"
    if c.type == "bool" and base == "BOOLEAN":
        return cell
    return None


def cell_exprs(c: Column, table: Table, cell: str, dtype: str = "VARCHAR") -> tuple[str, str]:
    """``(empty, value)``: SQL telling whether the cell is empty and SQL for its typed value (NULL where it does
    not parse), for a cell of DuckDB type ``dtype``."""
    if (native := _native(c, cell, dtype)) is not None:
        return f"{cell} IS NULL", native
    text = cell if dtype == "VARCHAR" else f"CAST({cell} AS VARCHAR)"
    return f"jc_text({text}) IS NULL", typed_expr(c, clean_expr(c, table, text))


TYPE_REASONS: dict[str, tuple[str, str]] = {
    "int": ("不是整数", "is not an integer"),
    "float": ("不是数字", "is not a number"),
    "bool": ("不是是/否值（是/否、true/false、1/0）", "is not a yes/no value (是/否, true/false, 1/0)"),
    "date": ("不是有效日期（应为 YYYY-MM-DD）", "is not a valid date (YYYY-MM-DD)"),
    "datetime": ("不是有效时间（应为 YYYY-MM-DD HH:MM:SS）", "is not a valid date-time (YYYY-MM-DD HH:MM:SS)"),
    "month": ("不是有效月份（应为 YYYY-MM）", "is not a valid month (YYYY-MM)"),
}


def type_reason(c: Column) -> tuple[str, str]:
    if c.choices:
        return (f"不在可选值内（{'/'.join(c.choices)}）", f"is not one of {'/'.join(c.choices)}")
    return TYPE_REASONS[c.type]
