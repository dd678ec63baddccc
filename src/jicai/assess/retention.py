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
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

# tiny tolerance when comparing a score with a tier's minimum (the score is already rounded to 1e-6)
TIER_TOLERANCE = 1e-9

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
    """``rows`` (see basis.variety_rows) with price_missing, purchase_amount, budget_term and actual_term."""
    ratio = real(fund_payment_ratio)
    missing = rows.baseline_unit_price.isnull()
    purchase = rows.selected_amount + rows.nonselected_amount
    return rows.mutate(
        fund_payment_ratio=ratio,
        price_missing=missing,
        purchase_amount=purchase,
        budget_term=rows.agreed_volume * rows.baseline_unit_price * ratio,
        actual_term=ibis.ifelse(missing, ibis.null("float64"), purchase * ratio),
    )


def retention_trace(wh: Warehouse, batch_id: str, year: int, policy: Policy | None = None,
                    as_of: date | None = None) -> ir.Table:
    """Per institution × variety: the budget and actual terms of the retention (TRACE_COLUMNS)."""
    policy = policy or load_policy()
    period = assessment_period(wh, batch_id, year, as_of)
    rows = variety_rows(wh, period, policy)
    t = trace_columns(rows, policy.value("fund_payment_ratio", on=period.as_of))
    return t.select(*TRACE_NAMES)


def tier_ratio(score: ir.FloatingValue, tiers: list[list[float]]) -> ir.FloatingValue:
    """The ratio of the first tier (highest first) whose min_score ≤ score; 0 below the last tier."""
    cases = [(score >= float(s) - TIER_TOLERANCE, real(r)) for s, r in tiers]
    return ibis.cases(*cases, else_=real(0.0))


def retention_columns(t: ir.Table, policy: Policy, on: date) -> ir.Table:
    """Add retention_base, retention_ratio, reward, overspend, overspend_shared to ``t``.

    ``t`` has budget, actual, score and passed per institution.
    """
    share = float(policy.value("overspend_share", on=on))
    t = t.mutate(retention_base=ibis.greatest(0.0, t.budget - t.actual),
                 overspend=ibis.greatest(0.0, t.actual - t.budget),
                 retention_ratio=ibis.ifelse(t.passed, tier_ratio(t.score, policy.value("retention_tiers", on=on)),
                                             real(0.0)))
    return t.mutate(reward=t.retention_base * t.retention_ratio,
                    overspend_shared=ibis.ifelse(t.passed, share * t.overspend, ibis.literal(0.0, "float64")))
