"""The execution datasets not yet declared in the measure registry (monitoring, listing, onboarding).
Deleted as each measure declares itself (issue 11)."""

from __future__ import annotations

from jicai.measures.registry import Dims
from jicai.web.dataset import Dataset


def _monitor(wh, p, policy):
    from jicai.measures.monitor import monitor

    return monitor(wh, p["as_of"], None, policy).to_pyarrow()


def _assessment(wh, p, policy):
    from jicai.assess.assessment import assess
    from jicai.assess.period import assessment_period

    period = assessment_period(wh, p["batch"], p["year"])
    as_of = p["as_of"] if period.cycle_start <= p["as_of"] < period.cycle_end else None
    return assess(wh, p["batch"], p["year"], policy, as_of).to_pyarrow()


def _prepayment(wh, p, policy):
    from jicai.assess.prepayment import prepayment_ledger

    return prepayment_ledger(wh, p["batch"], p["year"], policy, p["as_of"]).to_pyarrow()


def _volume_audit(wh, p, policy):
    from jicai.measures.volume_audit import volume_audit

    return volume_audit(wh, p["batch"], p["year"], policy).to_pyarrow()



def _onboarding(wh, p, policy):
    from jicai.measures.onboarding_report import onboarding_report

    return onboarding_report(wh, p["as_of"], None, policy).to_pyarrow()


def datasets() -> list[Dataset]:
    out: list[Dataset] = []
    from jicai.assess.assessment import ASSESS_COLUMNS
    from jicai.assess.prepayment import PREPAYMENT_COLUMNS
    from jicai.measures.monitor import INPUT_TABLES, MONITOR_COLUMNS
    from jicai.measures.onboarding_report import ONBOARDING_COLUMNS
    from jicai.measures.volume_audit import VOLUME_AUDIT_COLUMNS

    inst = Dims(institution="institution_code", region="region_code", variety="variety_id")
    out.append(Dataset("monitor", "月度监测", "Monthly monitoring", MONITOR_COLUMNS, inst, ("as_of",), _monitor,
                     sort=("institution_code", "batch_id", "variety_id"), requires=INPUT_TABLES,
                     note_zh="每家机构每个约定品种一行:完成率、序时进度、非中选占比、线下采购、回款、进院",
                     note_en="One row per institution × agreed variety: completion, time progress, non-selected "
                             "share, offline purchasing, payment, onboarding"))
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
    out.append(Dataset("volume-audit", "报量审核", "Volume audit", VOLUME_AUDIT_COLUMNS,
                     Dims(institution="institution_code", variety="variety_id"), ("batch", "year"), _volume_audit,
                     roles=("admin", "bureau", "auditor", "institution"), sort=("institution_code", "variety_id"),
                     requires=("agreements", "volume_reports", "batches"), group="assessment"))
    out.append(Dataset("onboarding", "未进院排查", "Not onboarded", ONBOARDING_COLUMNS,
                     Dims(institution="institution_code", region="region_code", variety="variety_id"), ("as_of",),
                     _onboarding, sort=("institution_code", "variety_id"), requires=INPUT_TABLES))

    return out
