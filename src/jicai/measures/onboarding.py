"""Onboarding (进院): from month 3 of execution, agreements without any selected purchase are 未进院.

``onboarded`` = the institution has a positive volume (on the policy's volume basis) of a primary
selected product of the variety for its region since the batch start date (through D) — backup
substitutes do not onboard the selected product. ``not_onboarded`` = D ≥ batch start +
(``onboarding_from_month`` − 1) months (the check starts on the first day of month 3 of execution) and
not onboarded; before that date it is false for everyone.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from jicai.measures.cycles import add_months


def onboarding_columns(t: ir.Table, as_of: date, from_month: int) -> ir.Table:
    """Add ``onboarded`` and ``not_onboarded`` to a table with primary_volume_to_date and batch_start."""
    onboarded = t.primary_volume_to_date.fill_null(0.0) > 0
    active = ibis.literal(as_of) >= add_months(t.batch_start, from_month - 1)
    return t.mutate(onboarded=onboarded, not_onboarded=active & ~onboarded)
