"""The fund-supervision datasets (seed 004): capitation return, pharmacy violations and risk, budget progress."""

from __future__ import annotations

from jicai.measures.registry import Dims
from jicai.web.dataset import Dataset

FUND_ROLES = ("admin", "bureau", "auditor", "institution")


def _capitation(wh, p, policy):
    from jicai.fund.capitation import capitation_return

    return capitation_return(wh, p["period"], policy).to_pyarrow()


def _violations(wh, p, policy):
    from jicai.fund.pharmacy import pharmacy_violations

    return pharmacy_violations(wh, p["month"], policy).to_pyarrow()


def _risk(wh, p, policy):
    from jicai.fund.pharmacy import pharmacy_risk

    return pharmacy_risk(wh, p["month"], policy).to_pyarrow()


def _budget(wh, p, policy):
    from jicai.fund.budget import budget_progress

    return budget_progress(wh, p["as_of"], policy).to_pyarrow()


def datasets() -> list[Dataset]:
    out: list[Dataset] = []
    from jicai.fund.budget import BUDGET_COLUMNS
    from jicai.fund.budget import INPUT_TABLES as BUDGET_TABLES
    from jicai.fund.capitation import CAPITATION_COLUMNS
    from jicai.fund.capitation import INPUT_TABLES as CAPITATION_TABLES
    from jicai.fund.pharmacy import INPUT_TABLES as PHARMACY_TABLES
    from jicai.fund.pharmacy import RISK_COLUMNS, VIOLATION_COLUMNS

    inst = Dims(institution="institution_code", region="region_code")
    pharmacy = Dims(institution="pharmacy_code", region="region_code")
    out.append(Dataset("capitation", "按人头付费结余返还", "Capitation surplus return", CAPITATION_COLUMNS, inst,
                     ("period",), _capitation, roles=FUND_ROLES, sort=("institution_code",),
                     requires=CAPITATION_TABLES, group="fund",
                     note_zh="中值最优法:实际结余与合理结余的偏差越小,返还比例越高",
                     note_en="Median-optimal method: the closer the surplus to the reasonable surplus, the higher the "
                             "return rate"))
    out.append(Dataset("pharmacy-violations", "定点药店违规", "Pharmacy violations", VIOLATION_COLUMNS, pharmacy,
                     ("month",), _violations, roles=FUND_ROLES, sort=("pharmacy_code", "settled_at"),
                     requires=PHARMACY_TABLES, group="fund"))
    out.append(Dataset("pharmacy-risk", "定点药店风险汇总", "Pharmacy risk summary", RISK_COLUMNS, pharmacy, ("month",),
                     _risk, roles=FUND_ROLES, sort=("pharmacy_code",), requires=PHARMACY_TABLES, group="fund"))
    out.append(Dataset("budget", "预算执行进度", "Budget progress", BUDGET_COLUMNS, inst, ("as_of",), _budget,
                     roles=FUND_ROLES, sort=("institution_code",), requires=BUDGET_TABLES, group="fund"))
    return out
