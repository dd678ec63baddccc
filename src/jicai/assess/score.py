"""The assessment score (考核得分, 0–100): five items, each linear in its policy band (000 观山湖 二).

points = weight × clamp((x − zero) / (full − zero), 0, 1), with ``score_weight_<item>``,
``score_<item>_full`` and ``score_<item>_zero`` from the policy. The band may run either way: for
completion and payment a higher figure is better (full > zero), for the shares and cost growth a lower
one (full < zero). An item whose figure is undefined — no non-exempt agreed volume, no purchase, nothing
due, no order, nothing bought the year before — earns its full weight: the institution is not marked
down for what could not be measured; ``score_defaulted`` lists those items and ``score_items`` says so.

The score is the sum of the points snapped to 10⁻⁶ point (:func:`jicai.measures.exact.snap`, the one
float-noise allowance), so that binary noise in a sum (89.99999999999999 for 90) never decides a
retention tier or breaks a tie in the ranking.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.assess.period import AssessmentError
from jicai.assess.text import one_decimal, percent
from jicai.measures.exact import MICRO, snap
from jicai.policy import Policy

# code → (中文, figure column, policy name stem, 中文 for an undefined figure)
SCORE_ITEMS: dict[str, tuple[str, str, str, str]] = {
    "completion": ("完成率", "completion", "completion", "无非豁免约定量"),
    "nonselected": ("非中选占比", "nonselected_share", "nonselected", "无采购量"),
    "payment": ("回款率", "payment_rate", "payment", "无应回款"),
    "offline": ("线下采购占比", "offline_share", "offline", "无订单"),
    "cost_growth": ("费用增长率", "cost_growth", "cost_growth", "上年同期无采购"),
}


def bands(policy: Policy, on: date) -> dict[str, tuple[float, float, float]]:
    """item → (weight, full, zero) in force on ``on``; a band of zero width is a policy error."""
    out = {}
    for code, (_zh, _col, stem, _undef) in SCORE_ITEMS.items():
        w = float(policy.value(f"score_weight_{stem}", on=on))
        full = float(policy.value(f"score_{stem}_full", on=on))
        zero = float(policy.value(f"score_{stem}_zero", on=on))
        if full == zero:
            raise AssessmentError(f"政策参数 score_{stem}_full 与 score_{stem}_zero 相等({full}),无法计分",
                                  f"policy parameters score_{stem}_full and score_{stem}_zero are equal ({full})")
        out[code] = (w, full, zero)
    return out


def points(x: ir.FloatingValue, weight: float, full: float, zero: float) -> ir.FloatingValue:
    """weight × clamp((x − zero) / (full − zero), 0, 1); the full weight when x is null (undefined)."""
    share = ibis.greatest(0.0, ibis.least(1.0, (x - zero) / ibis.literal(full - zero, "float64")))
    return ibis.ifelse(x.isnull(), ibis.literal(weight, "float64"), weight * share)


def score_columns(t: ir.Table, policy: Policy, on: date) -> ir.Table:
    """Add <item>_points, score, score_items (Chinese trace) and score_defaulted (codes) to ``t``.

    ``t`` has the figure columns named in SCORE_ITEMS.
    """
    b = bands(policy, on)
    pts = {f"{code}_points": points(t[col], *b[code]) for code, (_zh, col, _s, _u) in SCORE_ITEMS.items()}
    t = t.mutate(**pts)
    total = sum((t[name] for name in pts), ibis.literal(0.0))
    items, defaulted = ibis.literal(""), ibis.literal("")
    for code, (zh, col, _stem, undef) in SCORE_ITEMS.items():
        x, p = t[col], t[f"{code}_points"]
        figure = ibis.ifelse(x.isnull(), undef + "(按满分)", percent(x))
        items = items + ";" + zh + " " + figure + ":" + one_decimal(p) + "分"
        defaulted = defaulted + ibis.ifelse(x.isnull(), ";" + code, "")
    return t.mutate(score=snap(total).cast("float64") / float(MICRO),
                    score_items=items.substr(1), score_defaulted=defaulted.substr(1))
