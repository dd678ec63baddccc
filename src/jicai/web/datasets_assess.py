"""The assessment datasets not yet declared in the measure registry (assessment, prepayment).
Deleted as each measure declares itself (issue 11)."""

from __future__ import annotations

from jicai.measures.registry import Dims
from jicai.web.dataset import Dataset


def _assessment(wh, p, policy):
    from jicai.assess.assessment import assess
    from jicai.assess.period import assessment_period

    period = assessment_period(wh, p["batch"], p["year"])
    as_of = p["as_of"] if period.cycle_start <= p["as_of"] < period.cycle_end else None
    return assess(wh, p["batch"], p["year"], policy, as_of).to_pyarrow()


def _prepayment(wh, p, policy):
    from jicai.assess.prepayment import prepayment_ledger

    return prepayment_ledger(wh, p["batch"], p["year"], policy, p["as_of"]).to_pyarrow()


def datasets() -> list[Dataset]:
    out: list[Dataset] = []
    from jicai.assess.assessment import ASSESS_COLUMNS
    from jicai.assess.prepayment import PREPAYMENT_COLUMNS
    from jicai.measures.monitor import INPUT_TABLES

    out.append(Dataset("assessment", "年度考核", "Annual assessment", ASSESS_COLUMNS,
                     Dims(institution="institution_code", region="region_code"), ("batch", "year", "as_of"),
                     _assessment, roles=("admin", "bureau", "auditor", "institution"),
                     sort=("institution_code",), requires=INPUT_TABLES, group="assessment",
                     note_zh="考核结果、得分、结余留用奖励(年度未结束时为截至日期的预计数)",
                     note_en="Assessment, score and surplus-retention reward (provisional before the year ends)"))
    out.append(Dataset("prepayment", "预付台账", "Prepayment ledger", PREPAYMENT_COLUMNS,
                     Dims(institution="institution_code", region="region_code"), ("batch", "year", "as_of"),
                     _prepayment, roles=("admin", "bureau", "auditor", "institution"),
                     sort=("institution_code", "month"), requires=INPUT_TABLES, group="assessment"))
    return out
