"""The figures of the overview, ranking, institution detail and drill-down, shared by pages and API.

Each starts from the cached monitoring rows (:mod:`jicai.web.query`), scoped to the principal, and rolls
them up with the monitor's own :func:`jicai.measures.monitor.rollup`, so a card on the overview is the same
ratio of sums as the 合计 of ``jicai monitor``. Peer bands (deciles) are computed over every institution of
the province first and then scoped, so a hospital sees where it stands among all its peers.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis

from jicai.contract.roles import Principal
from jicai.web.data import DataService
from jicai.web.datasets import DATASETS
from jicai.web.query import jsonable, page_of, resolve_params, scoped
from jicai.web.scope import Dims, may_see_institution, restrict

LEVEL_ZH = {3: "三级", 2: "二级", 1: "一级", 0: "未定级"}


def _rows(t) -> list[dict]:
    return [{k: jsonable(v) for k, v in r.items()} for r in t.to_pylist()]


def monitor_rows(data: DataService, principal: Principal, as_of: date | None):
    ds = DATASETS["monitor"]
    params = resolve_params(ds, {"as_of": as_of}, data)
    return params["as_of"], scoped(ds, params, principal, data)


def overview(data: DataService, principal: Principal, as_of: date | None, unit: str = "min") -> dict[str, Any]:
    """The overview's cards and tables over the caller's monitoring rows; ``unit="ddd"``: volumes in DDDs, each
    row converted by its variety before the sums, the rows without DDDs counted apart
    (:mod:`jicai.analytics.ddd_rollups`)."""
    from jicai.measures.monitor import rollup

    day, m = monitor_rows(data, principal, as_of)
    if unit == "ddd":
        from jicai.analytics.ddd_rollups import rollup_ddd
        from jicai.web.units import monitor_in_ddd

        m, roll = monitor_in_ddd(m, data), rollup_ddd
    else:
        roll = rollup
    allrows = roll(m.mutate(all_rows=ibis.literal("all")), ["all_rows"]).drop("all_rows")
    totals = _rows(data.execute(allrows))
    by_batch = roll(m, ["batch_id"]).join(
        m.group_by("batch_id").agg(time_progress=m.time_progress.max()), "batch_id")
    by_variety = roll(m, ["batch_id", "variety_id", "variety_name"]).join(
        m.group_by("variety_id").agg(time_progress=m.time_progress.max()), "variety_id")
    by_level = roll(m, ["level"])
    by_city = roll(m, "region")
    return {
        "as_of": day.isoformat(),
        "unit": unit,
        "totals": totals[0] if totals else None,
        "by_batch": _rows(data.execute(by_batch.order_by("batch_id"))),
        "by_variety": _rows(data.execute(by_variety.order_by(["batch_id", "variety_id"]))),
        "by_level": _rows(data.execute(by_level.order_by(ibis.desc("level")))),
        "by_city": _rows(data.execute(by_city.order_by("city_code"))),
    }


def trend(data: DataService, principal: Principal, as_of: date | None) -> list[dict]:
    """Overall completion, non-selected share and payment rate at each month end of the last 12 months."""
    from jicai.measures.monitor import rollup

    ds = DATASETS["monitor"]
    day = resolve_params(ds, {"as_of": as_of}, data)["as_of"]
    ends, y, mth = [], day.year, day.month
    for _ in range(12):
        first_next = date(y + (mth == 12), mth % 12 + 1, 1)
        ends.append(min(day, date.fromordinal(first_next.toordinal() - 1)))
        y, mth = (y, mth - 1) if mth > 1 else (y - 1, 12)
    out = []
    first = data.data_start()
    for end in sorted(ends):
        if first is None or end < first:
            continue
        m = scoped(ds, {"as_of": end}, principal, data)
        r = data.execute(rollup(m.mutate(all_rows=ibis.literal("all")), ["all_rows"])).to_pylist()
        if r:
            out.append({"month": end.strftime("%Y-%m"), "as_of": end.isoformat(),
                        **{k: jsonable(r[0][k]) for k in ("completion", "nonselected_share", "payment_rate",
                                                          "offline_share", "zero", "behind")}})
    return out


def ranking_table(data: DataService, as_of: date):
    """Every institution's roll-up with its decile band within its level (1 = the best 10% by completion)."""
    from jicai.measures.monitor import rollup

    ds = DATASETS["monitor"]
    province = Principal(0, "province", "admin", "")

    def compute(wh):
        r = rollup(scoped(ds, {"as_of": as_of}, province, data), "institution")
        w = ibis.window(group_by="level", order_by=[ibis.desc("completion"), "institution_code"])
        r = r.mutate(decile=(ibis.ntile(10).over(w) + 1).cast("int64"),
                     rank_in_level=(ibis.row_number().over(w) + 1).cast("int64"),
                     peers=r.institution_code.count().over(ibis.window(group_by="level")).cast("int64"))
        return data.execute(r)

    return data.result(("ranking", as_of.isoformat()), compute)


def ranking(data: DataService, principal: Principal, as_of: date | None, level: int | None) -> dict:
    ds = DATASETS["monitor"]
    day = resolve_params(ds, {"as_of": as_of}, data)["as_of"]
    t = restrict(principal, ranking_table(data, day), Dims(institution="institution_code", region="region_code"),
                 data.lookups())
    if level is not None:
        t = t.filter(t.level == level)
    rows = data.execute(t.order_by([ibis.desc("level"), "rank_in_level"]))
    return {"as_of": day.isoformat(), "rows": _rows(rows)}


def _institution(data: DataService, code: str) -> dict | None:
    inst = data.lookups().institutions
    r = data.execute(inst.filter(inst.institution_code == code)).to_pylist()
    return r[0] if r else None


institution_info = _institution  # the routes' check of scope before a download about one institution


def institution_detail(data: DataService, principal: Principal, code: str, as_of: date | None,
                       unit: str = "min") -> dict | None:
    """One institution's monitoring rows (its varieties) and its rank among its level; ``unit="ddd"``: each
    variety's volumes also in DDDs with the cost per DDD (its ``ddd_note`` when it has none), and ``ddd``, the
    institution's totals in DDDs — each variety converted before the sums, the rows without DDDs apart
    (:func:`jicai.analytics.ddd_rollups.rollup_ddd`, as the overview's cards)."""
    info = _institution(data, code)
    if info is None or not may_see_institution(principal, code, info["region_code"]):
        return None
    day, m = monitor_rows(data, principal, as_of)
    m = m.filter(m.institution_code == code)
    ddd = None
    if unit == "ddd":
        from jicai.analytics.ddd_rollups import rollup_ddd
        from jicai.web.units import monitor_in_ddd

        m = monitor_in_ddd(m, data)
        totals = _rows(data.execute(rollup_ddd(m, "institution")))
        ddd = totals[0] if totals else None
    rows = data.execute(m.order_by(["batch_id", "variety_id"]))
    rank = ranking_table(data, day)
    band = data.execute(rank.filter(rank.institution_code == code)).to_pylist()
    return {"as_of": day.isoformat(), "unit": unit, "institution": {k: jsonable(v) for k, v in info.items()},
            "rank": {k: jsonable(v) for k, v in band[0].items()} if band else None, "ddd": ddd,
            "varieties": _rows(rows)}


ORDER_LINE_COLUMNS = {
    "order_line_id": ("订单明细编号", "order line"), "ordered_at": ("下单时间", "ordered at"),
    "product_code": ("医保编码", "product"), "product_name": ("产品名称", "product name"),
    "variety_id": ("品种编号", "variety"), "product_class": ("产品类别", "primary / backup / non-selected"),
    "quantity": ("订购数量(包装)", "ordered packs"), "pack_price": ("包装单价", "price per pack"),
    "accepted_quantity": ("验收数量(包装)", "accepted packs"), "accepted_at": ("验收时间", "accepted at"),
    "units": ("验收量(最小单位)", "accepted minimum units"), "channel": ("采购渠道", "channel"),
    "distributor_code": ("配送企业", "distributor"),
}


def order_lines(data: DataService, principal: Principal, code: str, variety_id: str | None, as_of: date | None,
                page: int, page_size: int, month_from: str | None = None, month_to: str | None = None) -> dict | None:
    """The order lines of one institution (and variety) up to the as-of date, newest first; with ``month_from``
    / ``month_to`` (YYYY-MM, inclusive) those accepted in those months — the lines behind a monthly figure
    (a change series counts accepted volumes and amounts: jicai.web.drill)."""
    info = _institution(data, code)
    if info is None or not may_see_institution(principal, code, info["region_code"]):
        return None
    ds = DATASETS["monitor"]
    day = resolve_params(ds, {"as_of": as_of}, data)["as_of"]

    def compute(wh):
        o, d, p, sp = (wh.table(n) for n in ("orders", "deliveries", "products", "selected_products"))
        o = o.filter((o.institution_code == code) & (o.ordered_at.date() <= day))
        d2 = d.select(d_line=d.order_line_id, accepted_at=d.accepted_at, accepted_quantity=d.accepted_quantity)
        j = o.left_join(d2, o.order_line_id == d2.d_line).drop("d_line")
        p2 = p.select(p_code=p.product_code, product_name=p.name, variety_id=p.variety_id, upp=p.units_per_pack)
        j = j.join(p2, j.product_code == p2.p_code).drop("p_code")
        roles = sp.group_by(r_code=sp.product_code).agg(role=sp.role.min())
        j = j.left_join(roles, j.product_code == roles.r_code).drop("r_code")
        j = j.mutate(product_class=ibis.coalesce(j.role, "nonselected"),
                     units=(ibis.coalesce(j.accepted_quantity, 0) * j.upp).cast("float64"))
        return j.select(*ORDER_LINE_COLUMNS).to_pyarrow()

    t = data.result(("order_lines", code, day.isoformat()), compute)  # may_see_institution allowed it above
    if variety_id:
        t = t.filter(t.variety_id == variety_id)
    if month_from or month_to:
        accepted = t.accepted_at.strftime("%Y-%m")
        t = t.filter(accepted.notnull() & (accepted >= (month_from or "0000-00")) & (accepted <= (month_to or "9999-99")))
    pg = page_of(t, [ibis.desc("ordered_at"), "order_line_id"], data, page=page, page_size=page_size)
    return {"as_of": day.isoformat(), "institution_code": code, "variety_id": variety_id, "month_from": month_from,
            "month_to": month_to, "total": pg.total,
            "page": pg.page, "page_size": pg.page_size,
            "columns": [{"name": c, "zh": z, "en": e} for c, (z, e) in ORDER_LINE_COLUMNS.items()],
            "rows": [{k: jsonable(v) for k, v in r.items()} for r in pg.rows]}


def audit(request, principal: Principal, action: str, target: str, detail: dict) -> None:
    """Record an export or an upload in the workflow's audit log (DESIGN: every write and export)."""
    from jicai.workflow.audit import record

    client = request.client.host if request.client else ""
    with request.app.state.workflow.session() as s:
        record(s, action, principal=principal, target=target, detail=detail, client=client)
