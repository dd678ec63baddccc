"""Pharmacy supervision (定点零售药店监管) — seed 004 疏堵并举.

"要求定点零售药店视频监控设备与医药费用结算设备同步运转,视频监控设备一旦进入非有效工作状态,医保经办机构
自动暂停该药店的结算程序;……明确规定代购药品的登记制度……大额购药费用的具体标准;强化药品进销存台账管理,
确保进销存数据一致。" For one calendar month M (``YYYY-MM``), over the settlements whose ``settled_at`` falls
in M:

* **视频联动** (:func:`video_violations`): a settlement at time t of pharmacy p violates when an *offline*
  interval of p contains t (``video_offline``) or when no *online* interval of p contains t
  (``video_missing`` — including a pharmacy with no video rows at all). An interval contains t when
  ``start_at ≤ t < end_at`` (start inclusive, end exclusive: adjacent intervals share no instant).
  Where an online and an offline interval overlap, offline wins. The live gate
  (:mod:`jicai.fund.gate`) answers the same question for one settlement before it happens.
* **进销存不一致** (:func:`stock_mismatches`): per pharmacy × product, ``difference = opening + purchased −
  settled − closing`` where *settled* is Σ ``quantity`` of the month's settlements; a mismatch when
  |difference| > 10^-6. Stock and settled quantities are both in minimum units (片/支/袋, the contract's
  unit of ``pharmacy_settlements.quantity``). A product settled without a stock row counts opening,
  purchased and closing as 0 (``stock_recorded`` false); a stock row without settlements has settled 0.
  The amount is an estimate: |difference| × the product's mean settled unit price in M over every
  pharmacy (Σ amount / Σ quantity; null when nobody settled it in M).
* **大额** (:func:`large_settlements`): amount > ``pharmacy_large_amount`` (strictly, compared in fen).
* **代购未登记** (:func:`unregistered_proxies`): ``proxy`` true and ``proxy_registered`` not true (false or
  blank: no registration on record).

:func:`pharmacy_violations` lists them all (one row per violation, with its amount);
:func:`pharmacy_risk` sums them per pharmacy with the year-to-date cases of ``violations`` (cases,
recovered funds, settlement suspensions) found from 1 January of M's year to the end of M.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir

from jicai.calendar import CalendarError, parse_month, shift_month
from jicai.contract.arrow import empty
from jicai.contract.columns import cols
from jicai.fund import FundError
from jicai.fund.capitation import FUND_ROLES
from jicai.measures.exact import fen
from jicai.measures.registry import Dims, Measure
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

INPUT_TABLES = ("pharmacy_settlements", "video_status", "pharmacy_stock", "institutions")
OPTIONAL_TABLES = ("violations",)
STOCK_TOLERANCE = 1e-6  # minimum units; below it a difference is floating-point residue

KINDS: dict[str, tuple[str, str]] = {
    "video_offline": ("视频离线期间结算", "settled while the video link was offline (should have been blocked)"),
    "video_missing": ("无在线视频时结算", "settled outside every online video interval (should have been blocked)"),
    "stock_mismatch": ("进销存不一致", "opening + purchased − settled − closing ≠ 0"),
    "large_amount": ("大额购药", "settlement amount above pharmacy_large_amount"),
    "proxy_unregistered": ("代购未登记", "proxy purchase without registration"),
}

_P = "pharmacy_code"

_PHARMACY_REGION = ("所属区划", "region code of the pharmacy")

VIDEO = cols(
    "month", "pharmacy_code", "pharmacy_name", "region_code", "settlement_id", "settled_at", "product_code",
    "quantity", "amount", "kind", "video_start", "video_end",
    region_code=_PHARMACY_REGION, product_code=("医保编码", "product settled"),
)

STOCK = cols(
    "month", "pharmacy_code", "pharmacy_name", "region_code", "product_code", "stock_recorded", "opening",
    "purchased", "settled_quantity", "closing", "difference", "unit_price", "amount",
    region_code=_PHARMACY_REGION, amount=("估算金额", "|difference| × unit_price (null without a price)"),
)

SETTLEMENTS = cols(
    "month", "pharmacy_code", "pharmacy_name", "region_code", "settlement_id", "settled_at", "product_code",
    "quantity", "amount", "proxy", "proxy_registered",
    region_code=_PHARMACY_REGION, product_code=("医保编码", "product settled"),
)

VIOLATIONS = cols(
    "month", "pharmacy_code", "pharmacy_name", "region_code", "kind", "settlement_id", "settled_at",
    "product_code", "quantity", "amount",
    region_code=_PHARMACY_REGION,
    kind=("违规类型", "video_offline, video_missing, stock_mismatch, large_amount or proxy_unregistered"),
    settlement_id=("结算编号", "the settlement (null for a stock mismatch)"),
    settled_at=("结算时间", "time of the settlement (null for a stock mismatch)"),
    quantity=("数量(最小单位)", "quantity settled; for a stock mismatch the difference"),
    amount=("涉及金额", "settlement amount; for a stock mismatch the estimated amount"),
)

RISK = cols(
    "month", "pharmacy_code", "pharmacy_name", "region_code", "settlements", "settled_amount", "violations",
    "video_violations", "video_amount", "stock_mismatches", "stock_amount", "large_settlements", "large_amount",
    "proxy_unregistered", "proxy_amount", "flagged_settlements", "flagged_amount", "cases_ytd", "recovered_ytd",
    "suspensions_ytd", "notices_ytd",
    region_code=_PHARMACY_REGION,
)

CHECKED = cols(
    "month", "pharmacies", "settlements", "amount",
    settlements=("结算笔数", "settlements of the month, every pharmacy"),
    amount=("结算金额", "Σ amount of those settlements"),
)


def _names_of(columns) -> list[str]:
    return [c.name for c in columns]


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[first instant of ``month``, first instant of the next month) for ``YYYY-MM``.

    >>> month_bounds("2024-12")
    (datetime.datetime(2024, 12, 1, 0, 0), datetime.datetime(2025, 1, 1, 0, 0))
    """
    try:
        first = parse_month(month)
    except CalendarError as exc:  # the fund's commands and pages catch FundError
        raise FundError(exc.zh, exc.en) from None
    return datetime.combine(first, time()), datetime.combine(shift_month(first, 1), time())


def month_end(month: str) -> date:
    """The last day of ``month`` (the day whose policy applies)."""
    return (month_bounds(month)[1] - timedelta(days=1)).date()


def _settlements(wh: Warehouse, month: str) -> ir.Table:
    lo, hi = month_bounds(month)
    s = wh.table("pharmacy_settlements")
    s = s.filter((s.settled_at >= ibis.literal(lo)) & (s.settled_at < ibis.literal(hi)))
    return s.mutate(month=ibis.literal(month, "string"), quantity=s.quantity.cast("float64"),
                    amount=s.amount.cast("float64"))


def _names(wh: Warehouse, t: ir.Table) -> ir.Table:
    inst = wh.table("institutions")
    inst = inst.select(pharmacy_code=inst.institution_code, pharmacy_name=inst.name, region_code=inst.region_code)
    return t.left_join(inst, _P).drop(f"{_P}_right")


def video_violations(wh: Warehouse, month: str, policy: Policy | None = None) -> ir.Table:
    """Settlements of ``month`` that the video link should have blocked; see VIDEO."""
    s = _settlements(wh, month)
    v = wh.table("video_status")
    v = v.select(v_code=v.pharmacy_code, start_at=v.start_at, end_at=v.end_at, status=v.status)
    keys = s.select("settlement_id", s_code=s.pharmacy_code, t=s.settled_at)
    hits = keys.join(v, [keys.s_code == v.v_code, v.start_at <= keys.t, keys.t < v.end_at])
    off = hits.status == "offline"
    hits = hits.group_by("settlement_id").agg(
        offline=ibis.ifelse(off, 1, 0).sum().cast("int64"),
        online=ibis.ifelse(hits.status == "online", 1, 0).sum().cast("int64"),
        video_start=ibis.ifelse(off, hits.start_at, ibis.null("timestamp")).min(),
        video_end=ibis.ifelse(off, hits.end_at, ibis.null("timestamp")).max(),
    )
    j = s.left_join(hits, "settlement_id").drop("settlement_id_right")
    offline = j.offline.fill_null(0) > 0
    j = j.filter(offline | (j.online.fill_null(0) == 0))
    j = j.mutate(kind=ibis.ifelse(offline, "video_offline", "video_missing"))
    return _names(wh, j).select(*_names_of(VIDEO))


def stock_mismatches(wh: Warehouse, month: str, policy: Policy | None = None) -> ir.Table:
    """Pharmacy × product of ``month`` whose stock books do not balance; see STOCK."""
    s = _settlements(wh, month)
    sold = s.group_by([_P, "product_code"]).agg(settled_quantity=s.quantity.sum())
    price = s.group_by("product_code").agg(p_qty=s.quantity.sum(), p_amount=s.amount.sum())
    st = wh.table("pharmacy_stock")
    st = st.filter(st.period == month)
    st = st.select(st_code=st.pharmacy_code, st_product=st.product_code, opening=st.opening.cast("float64"),
                   purchased=st.purchased.cast("float64"), closing=st.closing.cast("float64"))
    j = sold.outer_join(st, [sold.pharmacy_code == st.st_code, sold.product_code == st.st_product])
    j = j.select(
        pharmacy_code=ibis.coalesce(j.pharmacy_code, j.st_code),
        product_code=ibis.coalesce(j.product_code, j.st_product),
        stock_recorded=j.st_code.notnull(),
        opening=j.opening.fill_null(0.0), purchased=j.purchased.fill_null(0.0),
        settled_quantity=j.settled_quantity.fill_null(0.0), closing=j.closing.fill_null(0.0),
    )
    j = j.mutate(difference=j.opening + j.purchased - j.settled_quantity - j.closing)
    j = j.filter(j["difference"].abs() > STOCK_TOLERANCE)
    j = j.left_join(price, "product_code").drop("product_code_right")
    unit = ibis.ifelse(j.p_qty.fill_null(0.0) > 0, j.p_amount / j.p_qty, ibis.null("float64"))
    j = j.mutate(month=ibis.literal(month, "string"), unit_price=unit)
    j = j.mutate(amount=j["difference"].abs() * j.unit_price)
    return _names(wh, j).select(*_names_of(STOCK))


def large_settlements(wh: Warehouse, month: str, policy: Policy | None = None) -> ir.Table:
    """Settlements above ``pharmacy_large_amount`` (strictly, in fen); see SETTLEMENTS."""
    policy = policy or load_policy()
    limit = int(float(policy.value("pharmacy_large_amount", on=month_end(month))) * 100 + 0.5)
    s = _settlements(wh, month)
    return _names(wh, s.filter(fen(s.amount) > limit)).select(*_names_of(SETTLEMENTS))


def unregistered_proxies(wh: Warehouse, month: str, policy: Policy | None = None) -> ir.Table:
    """Proxy purchases (代购) without registration; see SETTLEMENTS."""
    s = _settlements(wh, month)
    s = s.filter(s.proxy.fill_null(False) & ~s.proxy_registered.fill_null(False))
    return _names(wh, s).select(*_names_of(SETTLEMENTS))


def pharmacy_violations(wh: Warehouse, month: str, policy: Policy | None = None) -> ir.Table:
    """Every violation of ``month``, one row each with its amount; see VIOLATIONS."""
    policy = policy or load_policy()
    names = _names_of(VIOLATIONS)
    types = {"settled_at": "timestamp", "quantity": "float64", "amount": "float64"}

    def shaped(t: ir.Table) -> ir.Table:  # one schema for the union, whatever each engine reports
        return t.select(*[t[c].cast(types.get(c, "string")).name(c) for c in names])

    def settlement_rows(t: ir.Table, kind: str) -> ir.Table:
        return shaped(t.mutate(kind=ibis.literal(kind)))

    stock = stock_mismatches(wh, month, policy)
    stock = stock.mutate(kind=ibis.literal("stock_mismatch"), settlement_id=ibis.null("string"),
                         settled_at=ibis.null("timestamp"), quantity=stock["difference"])
    return ibis.union(
        shaped(video_violations(wh, month, policy)),
        shaped(stock),
        settlement_rows(large_settlements(wh, month, policy), "large_amount"),
        settlement_rows(unregistered_proxies(wh, month, policy), "proxy_unregistered"),
    )


def pharmacy_risk(wh: Warehouse, month: str, policy: Policy | None = None) -> ir.Table:
    """Per pharmacy with a violation in ``month`` or a case this year: counts, amounts, cases; see RISK."""
    v = pharmacy_violations(wh, month, policy)

    def n(kinds: tuple[str, ...]) -> ir.IntegerValue:
        return ibis.ifelse(v.kind.isin(kinds), 1, 0).sum().cast("int64")

    def amount(kinds: tuple[str, ...]) -> ir.FloatingValue:
        return ibis.ifelse(v.kind.isin(kinds), v.amount.fill_null(0.0), 0.0).sum()

    per = v.group_by(_P).agg(
        violations=v.count().cast("int64"),
        video_violations=n(("video_offline", "video_missing")), video_amount=amount(("video_offline", "video_missing")),
        stock_mismatches=n(("stock_mismatch",)), stock_amount=amount(("stock_mismatch",)),
        large_settlements=n(("large_amount",)), large_amount=amount(("large_amount",)),
        proxy_unregistered=n(("proxy_unregistered",)), proxy_amount=amount(("proxy_unregistered",)),
    )
    flagged = v.filter(v.settlement_id.notnull()).select(_P, "settlement_id", "amount").distinct()
    flagged = flagged.group_by(_P).agg(flagged_settlements=flagged.count().cast("int64"),
                                       flagged_amount=flagged.amount.sum())
    s = _settlements(wh, month)
    sums = s.group_by(_P).agg(settlements=s.count().cast("int64"), settled_amount=s.amount.sum())

    first, last = date(int(month[:4]), 1, 1), month_end(month)
    cases = wh.table("violations") if wh.has_table("violations") else ibis.memtable(empty("violations"))
    cases = cases.filter((cases.found_at.cast("date") >= first) & (cases.found_at.cast("date") <= last))
    cases = cases.group_by(_P).agg(
        cases_ytd=cases.count().cast("int64"),
        recovered_ytd=cases.recovered_amount.cast("float64").fill_null(0.0).sum(),
        suspensions_ytd=ibis.ifelse(cases.action == "suspend", 1, 0).sum().cast("int64"),
        notices_ytd=ibis.ifelse(cases.action == "notice", 1, 0).sum().cast("int64"),
    )
    who = per.select(pharmacy_code=per.pharmacy_code.cast("string")).union(
        cases.select(pharmacy_code=cases.pharmacy_code.cast("string")), distinct=True)
    r = who.left_join(per, _P).drop(f"{_P}_right")
    r = r.left_join(flagged, _P).drop(f"{_P}_right")
    r = r.left_join(sums, _P).drop(f"{_P}_right")
    r = r.left_join(cases, _P).drop(f"{_P}_right")
    ints = ("settlements", "violations", "video_violations", "stock_mismatches", "large_settlements",
            "proxy_unregistered", "flagged_settlements", "cases_ytd", "suspensions_ytd", "notices_ytd")
    floats = ("settled_amount", "video_amount", "stock_amount", "large_amount", "proxy_amount", "flagged_amount",
              "recovered_ytd")
    r = r.mutate(month=ibis.literal(month, "string"),
                 **{c: r[c].fill_null(0).cast("int64") for c in ints},
                 **{c: r[c].fill_null(0.0).cast("float64") for c in floats})
    return _names(wh, r).select(*_names_of(RISK))


def checked_settlements(wh: Warehouse, month: str, policy: Policy | None = None) -> ir.Table:
    """What the month's checks covered: pharmacies and settlements of ``month`` and their amount; see CHECKED.
    No row for a month without settlements."""
    s = _settlements(wh, month)
    return s.group_by("month").agg(pharmacies=s.pharmacy_code.nunique().cast("int64"),
                                   settlements=s.count().cast("int64"), amount=s.amount.sum())


# -- the registered measures ---------------------------------------------------------------------------

_PHARMACY = Dims(institution="pharmacy_code", region="region_code")
_KIND = {"kind": KINDS}


def _listed(name: str, title_zh: str, title_en: str, compute, columns, sort: tuple[str, ...],
            policy: tuple[str, ...] = (), labels=None) -> Measure:
    """A list of ``jicai pharmacy`` only (one check's rows): no page, no command of its own."""
    return Measure(name=name, title_zh=title_zh, title_en=title_en, compute=compute, params=("month",),
                   inputs=INPUT_TABLES, columns=columns, dims=_PHARMACY, roles=FUND_ROLES, sort=sort,
                   policy=policy, labels=labels or {}, totals=("amount",), group="fund", doc=__doc__,
                   command=False, web=False)


# The pages show the violations and the risk summary of one month; `jicai pharmacy` writes them with each
# check's own list and what was checked.
MEASURES = (
    Measure(
        name="pharmacy-violations", title_zh="定点药店违规", title_en="Pharmacy violations",
        compute=lambda wh, a: pharmacy_violations(wh, a.month, a.policy),
        params=("month",), inputs=INPUT_TABLES, columns=VIOLATIONS, dims=_PHARMACY, roles=FUND_ROLES,
        sort=("pharmacy_code", "settled_at", "kind", "product_code"), policy=("pharmacy_large_amount",), labels=_KIND,
        totals=("amount",), group="fund", doc=__doc__, command=False,  # a list of `jicai pharmacy`
    ),
    Measure(
        name="pharmacy-risk", title_zh="定点药店风险汇总", title_en="Pharmacy risk summary",
        compute=lambda wh, a: pharmacy_risk(wh, a.month, a.policy),
        params=("month",), inputs=INPUT_TABLES, columns=RISK, dims=_PHARMACY, roles=FUND_ROLES,
        sort=("pharmacy_code",), policy=("pharmacy_large_amount",),
        totals=("settlements", "settled_amount", "violations", "video_violations", "video_amount", "stock_mismatches",
                "stock_amount", "large_settlements", "large_amount", "proxy_unregistered", "proxy_amount",
                "flagged_settlements", "flagged_amount", "cases_ytd", "recovered_ytd", "suspensions_ytd",
                "notices_ytd"),
        group="fund", note_zh="本年查处记录取自 violations 表(可选)",
        note_en="this year's cases come from the optional violations table", doc=__doc__,
        command=False,  # a list of `jicai pharmacy`
    ),
    _listed("pharmacy-video", "视频联动违规", "Settlements the video link should have blocked",
            lambda wh, a: video_violations(wh, a.month, a.policy), VIDEO, ("pharmacy_code", "settled_at"),
            labels=_KIND),
    _listed("pharmacy-stock", "进销存不一致", "Stock books that do not balance",
            lambda wh, a: stock_mismatches(wh, a.month, a.policy), STOCK, ("pharmacy_code", "product_code")),
    _listed("pharmacy-large", "大额购药", "Large settlements",
            lambda wh, a: large_settlements(wh, a.month, a.policy), SETTLEMENTS, ("pharmacy_code", "settled_at"),
            policy=("pharmacy_large_amount",)),
    _listed("pharmacy-proxy", "代购未登记", "Unregistered proxy purchases",
            lambda wh, a: unregistered_proxies(wh, a.month, a.policy), SETTLEMENTS, ("pharmacy_code", "settled_at")),
    Measure(
        name="pharmacy-checked", title_zh="检查范围", title_en="Settlements checked",
        compute=lambda wh, a: checked_settlements(wh, a.month, a.policy),
        params=("month",), inputs=("pharmacy_settlements",), columns=CHECKED, dims=Dims(), roles=FUND_ROLES, group="fund",
        doc=__doc__, command=False, web=False,  # the scope line of `jicai pharmacy`
    ),
)
