"""Supply risk score (供应风险评分): per selected product × city, as of a date, a 0–100 score with its reasons.

Seed 002 六 asks the bureau to "定期评估每个中选产品供应配送情况" and to watch products whose response and
delivery worsen; its flags (:mod:`jicai.measures.supply`) fire once a level is crossed. The score looks
earlier: at the *trend* of the same figures, and at what makes a shortage likelier — few winners, an
injectable form (45.3% of the drugs on China's shortage lists 2018–2021 are injections, Song et al.,
BMC Health Serv Res 2023, doi:10.1186/s12913-023-09295-w), verified problems before. A row is one selected
product (primary or backup, :func:`jicai.measures.supply_base.selected_catalogue`) of its winning enterprise
in one city (地市, first 4 digits of the institution's region code + 00) with order lines in the two windows.

**Windows, as of D.** ``end`` = the first instant after D. The *recent* window holds the lines ordered in the
``risk_recent_days`` days before ``end``, the *baseline* window the ``risk_baseline_days`` days before that.
A line counts only once its ``deliver_within_hours`` window has closed by ``end`` (ordered_at +
deliver_within_hours ≤ end): whether it shipped on time is then known on D, so the score reads nothing a
bureau could not have seen on D (a shipment after D only counts if it was on time, and then it was before
end). Per window:

* delivery rate = Σ quantity shipped within deliver_within_hours / Σ quantity ordered (the scorecard's
  :func:`~jicai.measures.supply_base.timed_lines`);
* response hours = the exact median (:func:`~jicai.measures.supply_base.quantiles`) of responded_at −
  ordered_at, where a line not answered by ``end`` counts with its waiting time so far (end − ordered_at,
  ≥ deliver_within_hours): a lower bound, so an unanswered order pushes the median up, never down.

**Same distributors.** Both trends compare each distributor that delivered the product to the city in both
windows with itself (:func:`_compared`): the recent rate is theirs together, the baseline rate is each one's
baseline rate weighted by its recent due quantity, and the response hours are each one's median weighted by
its recent lines. Orders that merely moved to a slower distributor are no trend of the product (the scorecard
flags that distributor); ``recent_lines`` and ``baseline_lines`` count the compared distributors' lines.

**Factors** (``risk_factors``, each adds its weight; the score is their sum, at most 100):

* ``delivery_drop`` — baseline rate − recent rate ≥ ``risk_delivery_drop`` (exactly the drop fires), both
  windows with at least ``risk_min_lines`` lines: + ``risk_weight_delivery``;
* ``response_rise`` — recent median − baseline median ≥ ``risk_response_rise_hours`` (exactly fires), same
  line minimum: + ``risk_weight_response``;
* ``few_winners`` — the primary winning enterprises of the variety whose ``regions`` cover the city are at most
  ``risk_winners_max`` (a single source has no one to take over): + ``risk_weight_few_winners``;
* ``injectable`` — the dosage form is an injection: + ``risk_weight_injectable``;
* ``past_problems`` — at least one verified supply-problem report about the product (any institution of the
  province) filed in the ``risk_problem_lookback_days`` days up to D: + ``risk_weight_past_problems``.

``risk_alert`` is score ≥ ``risk_alert_score``. Differences are compared on a 10⁻⁶ grid
(:func:`jicai.measures.exact.snap`), so a drop of exactly 5 percentage points is 5, not 4.999….

**Dosage form.** jicai's data name the form in words only: ``injectable`` when the product's name or spec or
its variety's name contains 注射 (注射液, 注射用…, 注射剂, 注射用浓溶液 — every injection of national batches
1–3 is named so, ../shared/realdata), else ``other``. The national drug code's dosage-form segment is not
read: jicai ships no dictionary of it, and a wrong table would be worse than a name a reader can check.

**Past problems.** ``supply_problems.verified`` is the report's state now (the table keeps no verification
date): a report filed by D and verified later counts on D. Reports filed after D never do.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir

from jicai.assess.text import one_decimal, percent
from jicai.calendar import month_label, parse_month, shift_month
from jicai.contract.columns import cols
from jicai.measures.classes import region_match
from jicai.measures.exact import snap, to_micro
from jicai.measures.progress import ratio
from jicai.measures.registry import Dims, Measure
from jicai.measures.supply_base import (
    DELIVERY_LINES,
    HOUR,
    SUPPLIER_ROLES,
    SUPPLY_ROLES,
    city_of,
    quantiles,
    seconds_between,
    selected_catalogue,
    supply_tables,
    timed_lines,
)
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

INPUT_TABLES = ("products", "varieties", "selected_products", "enterprises", "institutions", "regions", "orders",
                "deliveries", "supply_problems")
INJECTION_MARK = "注射"  # in a product name, spec or variety name: the form is an injection

FACTORS: dict[str, tuple[str, str]] = {
    "delivery_drop": ("配送率下降", "delivery rate fell by at least risk_delivery_drop"),
    "response_rise": ("响应变慢", "median response time rose by at least risk_response_rise_hours"),
    "few_winners": ("中选企业少", "at most risk_winners_max winning enterprises cover the city"),
    "injectable": ("注射剂", "an injection: 45.3% of China's shortage-list drugs (BMC HSR 2023)"),
    "past_problems": ("曾有核实供应问题", "a verified supply problem in the last risk_problem_lookback_days days"),
}
FORMS: dict[str, tuple[str, str]] = {"injectable": ("注射剂", "injection"), "other": ("其他剂型", "other form")}

POLICY = ("deliver_within_hours", "risk_recent_days", "risk_baseline_days", "risk_min_lines", "risk_delivery_drop",
          "risk_response_rise_hours", "risk_winners_max", "risk_problem_lookback_days", "risk_weight_delivery",
          "risk_weight_response", "risk_weight_few_winners", "risk_weight_injectable", "risk_weight_past_problems",
          "risk_alert_score")

_CITY = ("地市", "city of the buying institutions (first 4 digits of their region code + 00)")
COLUMNS = cols(
    "month", "as_of", "region_code", "city_name", "product_code", "product_name", "variety_id", "variety_name",
    "role", "enterprise_code", "enterprise_name", "dosage_form", "winners", "recent_lines", "recent_delivery_rate",
    "baseline_lines", "baseline_delivery_rate", "delivery_rate_change", "recent_response_hours",
    "baseline_response_hours", "response_hours_change", "past_problems", "risk_score", "risk_alert", "risk_factors",
    "risk_reasons",
    month=("月份", "month of the as-of date (YYYY-MM)"), as_of=("截至日期", "the as-of date D (inclusive)"),
    region_code=_CITY, product_code=("医保编码", "selected product (primary or backup)"),
    variety_id=("品种编号", "variety of the product"),
)


def _day(d: date | str) -> date:
    return d if isinstance(d, date) else date.fromisoformat(str(d))


def _double(x: float) -> ir.FloatingScalar:
    """A float constant typed double: PostgreSQL and Spark type a bare 30.0 as numeric (a Decimal in Python),
    and ``ibis.literal(30.0, "float64")`` still compiles to the bare number (as jicai.measures.exact does)."""
    return ibis.literal(repr(float(x))).cast("float64")


def _num(x: float) -> str:
    """A policy constant as a reader writes it: 30.0 → '30', 0.5 → '0.5'."""
    return f"{float(x):g}"


def supply_risk(wh: Warehouse, as_of: date | str, policy: Policy | None = None) -> ir.Table:
    """The risk rows as of ``as_of``; see COLUMNS and the module docstring. Parameters in force on ``as_of``."""
    d = _day(as_of)
    policy = policy or load_policy()

    def pv(name: str):
        return policy.value(name, on=d)

    within = float(pv("deliver_within_hours"))
    recent_days, base_days = int(pv("risk_recent_days")), int(pv("risk_baseline_days"))
    min_lines = int(pv("risk_min_lines"))
    end = datetime.combine(d + timedelta(days=1), time())
    mid = end - timedelta(days=recent_days)
    lo = mid - timedelta(days=base_days)
    closed = end - timedelta(hours=within)  # a line ordered by then has its delivery window closed by end

    t = supply_tables(wh, INPUT_TABLES)
    cat = selected_catalogue(t["selected_products"], t["products"])
    first_month = parse_month(month_label(lo.date()))
    lines = timed_lines(t["orders"], t["deliveries"], first_month, shift_month(parse_month(month_label(d)), 1),
                        within, t[DELIVERY_LINES])
    lines = lines.filter((lines.ordered_at >= ibis.literal(lo)) & (lines.ordered_at <= ibis.literal(closed)))
    inst = t["institutions"].select("institution_code", inst_region=t["institutions"].region_code)
    lines = lines.join(cat.select("product_code", "enterprise_code"), "product_code").join(inst, "institution_code")
    waited = seconds_between(ibis.literal(end), lines.ordered_at)
    answered = lines.response_seconds.notnull() & (lines.response_seconds <= waited)
    lines = lines.select(
        "order_line_id", "product_code", "enterprise_code", "on_time_packs", "due_packs",
        distributor_code=lines.distributor_code.fill_null(""),
        region_code=city_of(lines.inst_region),
        window=ibis.ifelse(lines.ordered_at >= ibis.literal(mid), "recent", "baseline"),
        response=ibis.ifelse(answered, lines.response_seconds, waited),
    )
    keys = ["product_code", "enterprise_code", "region_code"]
    g = _compared(wh, lines, keys)

    # who the row is: product, variety, enterprise, city names; the winners covering the city
    p, v = t["products"], t["varieties"]
    g = g.left_join(p.select("product_code", "variety_id", product_name=p.name, spec=p.spec), "product_code").drop(
        "product_code_right")
    g = g.left_join(v.select("variety_id", variety_name=v.name), "variety_id").drop("variety_id_right")
    roles = cat.group_by(["product_code", "enterprise_code"]).agg(role=cat.role.min())
    g = g.left_join(roles, ["product_code", "enterprise_code"]).drop("product_code_right", "enterprise_code_right")
    e = t["enterprises"]
    g = g.left_join(e.select("enterprise_code", enterprise_name=e.name), "enterprise_code").drop(
        "enterprise_code_right")
    r = t["regions"]
    g = g.left_join(r.select("region_code", city_name=r.name), "region_code").drop("region_code_right")
    g = g.mutate(city_name=g.city_name.fill_null(g.region_code))

    sp = t["selected_products"]
    sp = sp.filter(sp.role == "primary").select(w_variety="variety_id", w_ent="enterprise_code", w_regions=sp.regions)
    cities = g.select(c_variety="variety_id", c_city="region_code").distinct()
    win = cities.join(sp, cities.c_variety == sp.w_variety)
    win = win.filter(region_match(win.w_regions, win.c_city))
    win = win.group_by(["c_variety", "c_city"]).agg(winners=win.w_ent.nunique().cast("int64"))
    g = g.left_join(win, [g.variety_id == win.c_variety, g.region_code == win.c_city]).drop("c_variety", "c_city")

    sprob = t["supply_problems"]
    look = int(pv("risk_problem_lookback_days"))
    sprob = sprob.filter(sprob.verified.fill_null(False)
                         & (sprob.reported_at >= ibis.literal(end - timedelta(days=look)))
                         & (sprob.reported_at < ibis.literal(end)))
    probs = sprob.group_by(pp_product="product_code").agg(past_problems=sprob.count().cast("int64"))
    g = g.left_join(probs, g.product_code == probs.pp_product).drop("pp_product")

    inj = ibis.literal(False)
    for text in (g.product_name, g.spec, g.variety_name):
        inj = inj | text.fill_null("").contains(INJECTION_MARK)
    g = g.mutate(winners=g.winners.fill_null(0), past_problems=g.past_problems.fill_null(0),
                 dosage_form=ibis.ifelse(inj, "injectable", "other"))
    return _scored(g, pv, d, min_lines, look).select(*(c.name for c in COLUMNS))


def _compared(wh: Warehouse, lines: ir.Table, keys: list[str]) -> ir.Table:
    """The two windows' figures per ``keys`` (every key with a line in either window), read from the
    distributors that delivered in both: each distributor's baseline weighted by its recent share, so a
    change of distributor mix is no trend."""
    dk = [*keys, "distributor_code"]

    def part(w: str, col: ir.Value) -> ir.Value:
        return ibis.ifelse(lines.window == w, col, 0)

    # one row per product × city × distributor: small, read twice (the rows, the comparison)
    per_dist = wh.reuse(lines.group_by(dk).agg(
        r_lines=part("recent", 1).sum().cast("int64"), b_lines=part("baseline", 1).sum().cast("int64"),
        r_on=part("recent", lines.on_time_packs).sum(), r_due=part("recent", lines.due_packs).sum(),
        b_on=part("baseline", lines.on_time_packs).sum(), b_due=part("baseline", lines.due_packs).sum(),
    ))
    d = per_dist.filter((per_dist.r_lines > 0) & (per_dist.b_lines > 0))
    med = quantiles(lines, [*dk, "window"], "response", {"m": 50})
    for w in ("r", "b"):
        m = med.filter(med.window == ("recent" if w == "r" else "baseline"))
        m = m.select(*dk, **{f"{w}_med": m.m / HOUR})
        d = d.left_join(m, dk).drop(*(f"{k}_right" for k in dk))
    b_rate = ibis.ifelse(d.b_due > 0, d.b_on / d.b_due, ibis.null("float64"))
    # a distributor with nothing due in a window (all its lines shipped nothing yet counted) weighs nothing
    zero = _double(0.0)
    w_due = ibis.ifelse(b_rate.notnull(), d.r_due, zero)
    g = d.group_by(keys).agg(
        recent_lines=d.r_lines.sum().cast("int64"), baseline_lines=d.b_lines.sum().cast("int64"),
        r_on=ibis.ifelse(b_rate.notnull(), d.r_on, zero).sum(), r_due=w_due.sum(),
        b_weighted=(w_due * b_rate.fill_null(zero)).sum(),
        r_resp=(d.r_lines * d.r_med).sum(), b_resp=(d.r_lines * d.b_med).sum(),
    )
    g = g.mutate(recent_delivery_rate=ratio(g.r_on, g.r_due), baseline_delivery_rate=ratio(g.b_weighted, g.r_due),
                 recent_response_hours=ratio(g.r_resp, g.recent_lines),
                 baseline_response_hours=ratio(g.b_resp, g.recent_lines))
    g = g.mutate(delivery_rate_change=g.recent_delivery_rate - g.baseline_delivery_rate,
                 response_hours_change=g.recent_response_hours - g.baseline_response_hours)
    g = per_dist.select(*keys).distinct().left_join(g, keys).drop(*(f"{k}_right" for k in keys))
    return g.mutate(recent_lines=g.recent_lines.fill_null(0), baseline_lines=g.baseline_lines.fill_null(0)).select(
        *keys, "recent_lines", "baseline_lines", "recent_delivery_rate", "baseline_delivery_rate",
        "delivery_rate_change", "recent_response_hours", "baseline_response_hours", "response_hours_change")


def _scored(g: ir.Table, pv, d: date, min_lines: int, look: int) -> ir.Table:
    """Factors, points, score, alert and reasons of the rows of :func:`supply_risk`."""
    enough = (g.recent_lines >= min_lines) & (g.baseline_lines >= min_lines)
    drop_t, rise_t = float(pv("risk_delivery_drop")), float(pv("risk_response_rise_hours"))
    winners_max = int(pv("risk_winners_max"))
    drop = (enough & (snap(-g.delivery_rate_change) >= to_micro(drop_t))).fill_null(False)
    rise = (enough & (snap(g.response_hours_change) >= to_micro(rise_t))).fill_null(False)
    few = g.winners <= winners_max
    injectable = g.dosage_form == "injectable"
    past = g.past_problems > 0
    w = {k: float(pv(f"risk_weight_{k}")) for k in ("delivery", "response", "few_winners", "injectable",
                                                     "past_problems")}
    fired = (("delivery_drop", drop, w["delivery"]), ("response_rise", rise, w["response"]),
             ("few_winners", few, w["few_winners"]), ("injectable", injectable, w["injectable"]),
             ("past_problems", past, w["past_problems"]))
    zero = _double(0.0)
    total = zero
    for _, cond, weight in fired:
        total = total + ibis.ifelse(cond, _double(weight), zero)
    score = ibis.least(total, _double(100.0))

    def pts(weight: float, param: str) -> str:
        return f":+{_num(weight)} 分(risk_weight_{param})"

    texts = {
        "delivery_drop": "配送率由 " + percent(g.baseline_delivery_rate) + " 降至 " + percent(g.recent_delivery_rate)
        + ",下降 " + one_decimal(-g.delivery_rate_change * 100) + f" 个百分点(≥ {_num(drop_t * 100)} 个百分点,"
        "risk_delivery_drop)" + pts(w["delivery"], "delivery"),
        "response_rise": "响应时间由 " + one_decimal(g.baseline_response_hours) + " 小时增至 "
        + one_decimal(g.recent_response_hours) + " 小时,增加 " + one_decimal(g.response_hours_change)
        + f" 小时(≥ {_num(rise_t)} 小时,risk_response_rise_hours)" + pts(w["response"], "response"),
        "few_winners": "本地市中选企业 " + g.winners.cast("string") + f" 家(≤ {winners_max} 家,risk_winners_max)"
        + pts(w["few_winners"], "few_winners"),
        "injectable": "注射剂(短缺药品清单中注射剂占 45.3%)" + pts(w["injectable"], "injectable"),
        "past_problems": f"近 {look} 天经核实的供应问题 " + g.past_problems.cast("string")
        + " 次(risk_problem_lookback_days)" + pts(w["past_problems"], "past_problems"),
    }
    codes, reasons = ibis.literal(""), ibis.literal("")
    for name, cond, _ in fired:
        codes = codes + ibis.ifelse(cond, ";" + name, "")
        reasons = reasons + ibis.ifelse(cond, ";" + texts[name], "")
    alert_at = float(pv("risk_alert_score"))
    return g.mutate(
        month=ibis.literal(month_label(d)), as_of=ibis.literal(d, "date"),
        risk_score=score, risk_alert=snap(score) >= to_micro(alert_at),
        risk_factors=codes.substr(1), risk_reasons=reasons.substr(1),
    )


MEASURES = (
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="supply-risk", title_zh="供应风险评分", title_en="Supply risk score",
        compute=lambda wh, a: supply_risk(wh, a.as_of, a.policy),
        params=("as_of",), inputs=INPUT_TABLES, columns=COLUMNS,
        dims=Dims(region="region_code", product="product_code", enterprise=("enterprise_code",)),
        roles=SUPPLY_ROLES, sort=("region_code", "product_code", "enterprise_code"), policy=POLICY,
        labels={"role": SUPPLIER_ROLES, "dosage_form": FORMS, "risk_factors": FACTORS}, group="supply",
        note_zh="每个中选产品 × 地市:配送率与响应时间的趋势、中选企业数、剂型、既往核实问题 → 0–100 风险分及原因",
        note_en="Per selected product × city: delivery and response trends, winners, dosage form, past verified "
                "problems → a 0–100 risk score with its reasons",
        doc=__doc__,
    ),
)
