"""Surplus retention (结余留用) and reasonable overspend sharing (合理超支分担), 000 and 医保发〔2020〕26号.

Per institution, batch and cycle year:

* budget = Σ_v agreed_volume × baseline_unit_price (集采前加权平均价) × ``fund_payment_ratio``;
* actual = Σ_v (selected_amount + nonselected_amount) × ``fund_payment_ratio`` — every purchase of the
  variety, whatever its class (selected_amount already holds the backup substitutes counted as
  selected, so backup_amount is not added again);
* retention_base = max(0, budget − actual); overspend = max(0, actual − budget);
* retention_ratio = the ratio of the first ``retention_tiers`` entry whose min_score ≤ score (else 0),
  and 0 when the assessment failed; reward = retention_base × retention_ratio;
* overspend_shared = ``overspend_share`` × overspend for institutions that passed, else 0.

Money is exact (:mod:`jicai.measures.exact`). Each amount is rounded once, half up, to the fen, where it
first appears as a line of the trace: per variety, budget_term = agreed_volume × baseline_unit_price ×
ratio (one double product, rounded); selected and non-selected amounts (the monitoring's sums) to the
fen, purchase_amount their sum and actual_term = purchase_amount × ratio (the exact integer product with
the ratio in basis points, rounded). From there on everything is integer fen: budget and actual are the
sums of the institution's terms, retention_base and overspend their differences, reward = base ×
ratio and overspend_shared = overspend × ``overspend_share`` are rounded half up from the exact integer
products (ratios in basis points). So the trace adds up to each institution's budget and actual, and the
institutions add up to every total, to the fen. A tier is reached when the score (rounded to 10⁻⁶ point)
is at least its minimum, compared on that grid as integers.

A variety without a baseline price has no budget term. It is left out of **both** budget and actual
(its purchases would otherwise appear as overspend against a budget of 0) and listed in
``budget_missing_varieties``; the trace shows its purchase amount with empty budget and actual terms.

:func:`retention_trace` is the per-variety trace (one row per institution × variety with an agreement):
the institution's budget and actual are the sums of its rows' terms.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.assess.basis import variety_rows
from jicai.assess.period import assessment_period
from jicai.contract.columns import cols
from jicai.measures.exact import basis_points, fen, scaled_share, snap, to_micro, yuan
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

# the trace's columns (see the vocabulary, jicai.contract.columns)
TRACE_COLUMNS = cols(
    "institution_code", "institution_name", "region_code", "batch_id", "cycle_year", "variety_id", "variety_name",
    "agreed_volume", "baseline_unit_price", "fund_payment_ratio", "budget_term", "selected_amount",
    "nonselected_amount", "purchase_amount", "actual_term", "price_missing",
    selected_amount=("中选产品采购金额", "selected amount incl. backup counted as selected (yuan)"),
    nonselected_amount=("非中选产品采购金额", "non-selected amount (yuan)"),
    purchase_amount=("采购金额", "selected_amount + nonselected_amount: every purchase of the variety (yuan)"),
)
TRACE_NAMES = tuple(c.name for c in TRACE_COLUMNS)


def real(x: float) -> ir.FloatingValue:
    """A float constant typed double on every engine (PostgreSQL types a bare 0.5 as numeric)."""
    return ibis.literal(repr(float(x))).cast("float64")


def trace_columns(rows: ir.Table, fund_payment_ratio: float) -> ir.Table:
    """``rows`` (see basis.variety_rows) with price_missing and the money of the trace, to the fen.

    Adds the float64 yuan columns selected_amount, nonselected_amount, purchase_amount, budget_term,
    actual_term (rounded once, half up) and their integer fen budget_fen and actual_fen (null when the
    price is missing), which the assessment sums.
    """
    ratio = real(fund_payment_ratio)
    missing = rows.baseline_unit_price.isnull()
    selected_fen, nonselected_fen = fen(rows.selected_amount), fen(rows.nonselected_amount)
    purchase_fen = selected_fen + nonselected_fen
    budget_fen = fen(rows.agreed_volume * rows.baseline_unit_price * ratio)
    actual_fen = ibis.ifelse(missing, ibis.null("int64"),
                             scaled_share(purchase_fen, basis_points(fund_payment_ratio)))
    return rows.mutate(
        fund_payment_ratio=ratio,
        price_missing=missing,
        selected_amount=yuan(selected_fen),
        nonselected_amount=yuan(nonselected_fen),
        purchase_amount=yuan(purchase_fen),
        budget_fen=budget_fen,
        actual_fen=actual_fen,
        budget_term=yuan(budget_fen),
        actual_term=yuan(actual_fen),
    )


def retention_trace(wh: Warehouse, batch_id: str, year: int, policy: Policy | None = None,
                    as_of: date | None = None) -> ir.Table:
    """Per institution × variety: the budget and actual terms of the retention (TRACE_COLUMNS)."""
    policy = policy or load_policy()
    period = assessment_period(wh, batch_id, year, as_of)
    rows = variety_rows(wh, period, policy)
    t = trace_columns(rows, policy.value("fund_payment_ratio", on=period.as_of))
    return t.select(*TRACE_NAMES)


def tier_ratio_bp(score: ir.FloatingValue, tiers: list[list[float]]) -> ir.IntegerValue:
    """The ratio (basis points) of the first tier (highest first) whose min_score ≤ score; 0 below the last.

    The score carries 6 decimals: on the 10⁻⁶ grid both sides are integers, so a score exactly at a
    tier's minimum reaches it on every engine.
    """
    points = snap(score)
    cases = [(points >= to_micro(s), basis_points(r)) for s, r in tiers]
    return ibis.cases(*cases, else_=0).cast("int64")


def retention_columns(t: ir.Table, policy: Policy, on: date) -> ir.Table:
    """Add retention_base, retention_ratio, reward, overspend, overspend_shared (float64 yuan, to the fen).

    ``t`` has budget_fen, actual_fen (integer fen), score and passed per institution.
    """
    share_bp = basis_points(policy.value("overspend_share", on=on))
    ratio_bp = ibis.ifelse(t.passed, tier_ratio_bp(t.score, policy.value("retention_tiers", on=on)), 0)
    gap = t.budget_fen - t.actual_fen
    base_fen = ibis.greatest(0, gap).cast("int64")
    over_fen = ibis.greatest(0, -gap).cast("int64")
    reward_fen = scaled_share(base_fen, ratio_bp.cast("int64"))
    shared_fen = ibis.ifelse(t.passed, scaled_share(over_fen, share_bp), 0).cast("int64")
    return t.mutate(budget=yuan(t.budget_fen), actual=yuan(t.actual_fen),
                    retention_base=yuan(base_fen), overspend=yuan(over_fen),
                    retention_ratio=ratio_bp.cast("float64") / real(10_000.0),
                    reward=yuan(reward_fen), overspend_shared=yuan(shared_fen))
