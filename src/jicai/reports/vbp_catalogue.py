"""集采目录清单: the catalogue a bureau prints and publishes per batch (seed 000: 汇总编印集采药品、耗材目录清单,
健全动态更新工作机制,及时对码更新维护,公示印发).

One row per selected product of the batch (主供 and 备供): the variety, the product's name, spec and pack, the
winning enterprise, the winning price per minimum unit and per pack, the regions it supplies (names), the
execution period (执行日 to the end of the last cycle year) and its listing status on the day. Each published
edition is kept (:class:`Editions`, JSON under the data directory), and the next one lists what changed since:
products added or removed, and per product the fields that changed (enterprise, role, price, regions, listing).

The tables are small (a batch has hundreds of selected products), so the rows are joined here in Python.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from jicai.reports.documents import Column, Report, ReportError, Table, fixed
from jicai.store import Warehouse

ROLE_ZH = {"primary": "主供", "backup": "备供"}
LISTING_ZH = {"listed": "挂网", "suspended": "暂停挂网", "delisted": "撤网", None: "未挂网"}
ALL_REGIONS = "全部地区"
# the fields an edition compares, with how a change is said
COMPARED = (("enterprise_name", "中选企业"), ("role_zh", "供应角色"), ("unit_price", "中选价"),
            ("regions_zh", "供应地区"), ("listing_zh", "挂网状态"))

COLUMNS = [
    Column("variety_name", "品种", "variety"),
    Column("product_name", "产品名称", "product"),
    Column("spec", "规格", "spec"),
    Column("units_per_pack", "转换比", "units per pack", "int"),
    Column("enterprise_name", "中选企业", "winning enterprise"),
    Column("role_zh", "供应角色", "role"),
    Column("unit_price", "中选价(元/最小单位)", "winning price per minimum unit", "price"),
    Column("pack_price", "每包装价格(元)", "price per pack", "money"),
    Column("regions_zh", "供应地区", "regions supplied"),
    Column("start_date", "执行日", "effective from", "date"),
    Column("end_date", "执行截止日", "effective until", "date"),
    Column("listing_zh", "挂网状态", "listing status"),
    Column("product_code", "医保编码", "national product code"),
]
BRIEF = ("variety_name", "product_name", "spec", "enterprise_name", "role_zh", "unit_price", "pack_price", "regions_zh",
         "listing_zh")
CHANGE_COLUMNS = [
    Column("change", "变更类型", "change"),
    Column("variety_name", "品种", "variety"),
    Column("product_name", "产品名称", "product"),
    Column("enterprise_name", "中选企业", "winning enterprise"),
    Column("detail", "变更内容", "what changed"),
]


def _rows(wh: Warehouse, table: str) -> list[dict[str, Any]]:
    return wh.table(table).to_pyarrow().to_pylist() if wh.has_table(table) else []


def _region_names(prefixes: str | None, names: dict[str, str]) -> str:
    """``3505;3506`` → 泉州市、漳州市 (a prefix is the region code padded with zeros); blank → 全部地区."""
    if not prefixes:
        return ALL_REGIONS
    return "、".join(names.get(p.ljust(6, "0"), p) for p in prefixes.split(";") if p)


def _listing(listings: list[dict[str, Any]], as_of: date) -> dict[str, str | None]:
    """The listing status of each product on ``as_of``: its latest listing row effective by then."""
    latest: dict[str, tuple[date, str]] = {}
    for r in listings:
        if r["effective_date"] <= as_of and (r["product_code"] not in latest
                                             or r["effective_date"] >= latest[r["product_code"]][0]):
            latest[r["product_code"]] = (r["effective_date"], r["status"])
    return {k: v[1] for k, v in latest.items()}


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _period(batch: dict[str, Any]) -> tuple[date, date]:
    """执行日 and the last day of the batch's last cycle year."""
    start = batch["start_date"]
    return start, _years_later(start, batch["cycle_years"]) - timedelta(days=1)


def catalogue_rows(wh: Warehouse, batch_id: str, as_of: date) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The batch row and its catalogue rows, ordered by variety, role (主供 first) and product name."""
    batch = next((b for b in _rows(wh, "batches") if b["batch_id"] == batch_id), None)
    if batch is None:
        raise ReportError(f"批次 {batch_id} 不存在", f"batch {batch_id} does not exist")
    varieties = {v["variety_id"]: v for v in _rows(wh, "varieties")}
    products = {p["product_code"]: p for p in _rows(wh, "products")}
    enterprises = {e["enterprise_code"]: e["name"] for e in _rows(wh, "enterprises")}
    regions = {r["region_code"]: r["name"] for r in _rows(wh, "regions")}
    listing = _listing(_rows(wh, "listings"), as_of)
    start, end = _period(batch)
    rows = []
    for s in _rows(wh, "selected_products"):
        if s["batch_id"] != batch_id:
            continue
        p = products.get(s["product_code"], {})
        upp = p.get("units_per_pack")
        rows.append({
            "variety_id": s["variety_id"], "variety_name": varieties.get(s["variety_id"], {}).get("name", ""),
            "product_code": s["product_code"], "product_name": p.get("name", ""), "spec": p.get("spec") or "",
            "units_per_pack": int(upp) if upp and float(upp).is_integer() else upp,
            "enterprise_name": enterprises.get(s["enterprise_code"], ""), "role_zh": ROLE_ZH[s["role"]],
            "unit_price": s["unit_price"], "pack_price": s["unit_price"] * upp if upp else None,
            "regions_zh": _region_names(s["regions"], regions), "start_date": start, "end_date": end,
            "listing_zh": LISTING_ZH.get(listing.get(s["product_code"]), "未挂网"),
        })
    rows.sort(key=lambda r: (r["variety_id"], r["role_zh"] != "主供", r["product_name"], r["product_code"]))
    return batch, rows


def _shown(field: str, value: Any) -> str:
    return f"¥{fixed(value, 4)}" if field == "unit_price" and value is not None else str(value)


def changes(before: list[dict[str, Any]], now: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What changed from edition ``before`` to ``now``, by (variety, product): 新增, 移除, then 变更 with each
    changed field as ``名称 旧 → 新``."""
    key = lambda r: (r["variety_id"], r["product_code"])  # noqa: E731
    old, new = {key(r): r for r in before}, {key(r): r for r in now}
    out = []
    for k in sorted(new.keys() - old.keys()):
        out.append({**_who(new[k]), "change": "新增", "detail": f"{new[k]['role_zh']},中选价 "
                    f"{_shown('unit_price', new[k]['unit_price'])},{new[k]['regions_zh']}"})
    for k in sorted(old.keys() - new.keys()):
        out.append({**_who(old[k]), "change": "移除", "detail": "不再列入本批次中选产品"})
    for k in sorted(old.keys() & new.keys()):
        diffs = [f"{zh} {_shown(f, old[k][f])} → {_shown(f, new[k][f])}" for f, zh in COMPARED
                 if old[k].get(f) != new[k].get(f)]
        if diffs:
            out.append({**_who(new[k]), "change": "变更", "detail": ";".join(diffs)})
    return out


def _who(r: dict[str, Any]) -> dict[str, Any]:
    return {k: r[k] for k in ("variety_name", "product_name", "enterprise_name")}


@dataclass
class Edition:
    number: int
    published_at: str
    as_of: str
    rows: list[dict[str, Any]]


class Editions:
    """The published editions of one batch's catalogue: ``<folder>/<batch>/edition-NNN.json``."""

    def __init__(self, folder: Path, batch_id: str):
        self.folder = Path(folder) / batch_id

    def latest(self) -> Edition | None:
        files = sorted(self.folder.glob("edition-*.json"))
        if not files:
            return None
        raw = json.loads(files[-1].read_text(encoding="utf-8"))
        return Edition(raw["number"], raw["published_at"], raw["as_of"], raw["rows"])

    def publish(self, rows: list[dict[str, Any]], as_of: date, at: datetime) -> Edition:
        last = self.latest()
        edition = Edition((last.number if last else 0) + 1, at.isoformat(sep=" ", timespec="minutes"),
                          as_of.isoformat(), rows)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"edition-{edition.number:03d}.json"
        path.write_text(json.dumps(vars(edition), ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        return edition


def _comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as an edition stores them (dates as text), so that a stored edition compares equal to a fresh one."""
    return json.loads(json.dumps(rows, ensure_ascii=False, default=str))


def build(wh: Warehouse, batch_id: str, as_of: date, editions: Editions, computed_at: datetime,
          publish: bool = True) -> Report:
    """The catalogue document of ``batch_id`` on ``as_of`` with its changes since the latest edition; with
    ``publish`` a new edition is recorded when the rows differ from it (or there is none yet)."""
    batch, rows = catalogue_rows(wh, batch_id, as_of)
    start, end = _period(batch)
    current = _comparable(rows)
    last = editions.latest()
    diff = changes(last.rows, current) if last else []
    if not publish:
        label, versus = "草稿", last
    elif last is None or diff:
        label, versus = f"第{editions.publish(current, as_of, computed_at).number}版", last
    else:  # nothing changed: the current edition stands
        label, versus = f"第{last.number}版", None
    counts = {k: sum(1 for d in diff if d["change"] == k) for k in ("新增", "移除", "变更")}
    if versus is not None:
        compared = f"较第{versus.number}版({versus.published_at[:10]}):" + "、".join(f"{k} {n}" for k, n in counts.items())
    elif last is not None:
        compared = f"与第{last.number}版相同,未发新版"
    else:
        compared = "首次发布" if publish else "尚未发布过"
    primary = sum(1 for r in rows if r["role_zh"] == "主供")
    report = Report(
        kind="catalogue", title=f"{batch['name']}集采目录清单({label})", period=f"{as_of:%Y-%m-%d} 起适用",
        as_of=as_of, batch_id=batch_id, policy_version="不适用", computed_at=computed_at,
        headline=[("执行期", f"{start:%Y-%m-%d} 至 {end:%Y-%m-%d}"),
                  ("中选产品", f"{len(rows)} 个(主供 {primary}、备供 {len(rows) - primary})"),
                  ("品种", f"{len({r['variety_id'] for r in rows})} 个"),
                  ("中选企业", f"{len({r['enterprise_name'] for r in rows})} 家"), ("版本", compared)],
        paragraphs=[f"本清单列出{batch['name']}的全部中选产品(主供与备供)、中选企业、中选价格、供应地区与执行期,"
                    "供医疗机构对照本院药品目录完成对码、按规定采购和使用中选产品。",
                    "中选价为每最小制剂单位价格;每包装价格 = 中选价 × 转换比。备供产品仅在主供企业供应保障不良、"
                    "经医保部门核实的期间内视同中选产品。"],
        params={"batch_id": batch_id, "as_of": as_of, "edition": label})
    # the printed notice (html/pdf) leaves out what every row shares (the period, in the headline) and the codes,
    # which the workbook keeps for 对码
    report.tables.append(Table("catalogue", "目录清单", COLUMNS, rows, note="按品种、主供在前排列;医保编码见 xlsx",
                               brief=BRIEF, html_limit=1000))
    if versus is not None:
        report.tables.append(Table("changes", "变更情况", CHANGE_COLUMNS, diff,
                                   note=f"与第{versus.number}版({versus.published_at[:10]})相比", html_limit=1000))
    return report
