"""The supply-guarantee datasets (seed 002): scorecards, roll-ups, sentinel and surge alerts, supply-problem
periods — the measures of :mod:`jicai.measures.supply*` as the pages and the API show them."""

from __future__ import annotations

from jicai.measures.registry import Dims
from jicai.web.dataset import Dataset

SUPPLY_ROLES = ("admin", "bureau", "auditor", "enterprise")


def _scorecard(wh, p, policy):
    from jicai.measures.supply import supply_scorecard

    return supply_scorecard(wh, p["month"], p["month"], None, policy).to_pyarrow()


def _by_enterprise(wh, p, policy):
    from jicai.measures.supply import supply_rollup

    return supply_rollup(wh, p["month"], "enterprise", p["month"], None, policy).to_pyarrow()


def _by_distributor(wh, p, policy):
    from jicai.measures.supply import supply_rollup

    return supply_rollup(wh, p["month"], "distributor", p["month"], None, policy).to_pyarrow()


def _sentinel(wh, p, policy):
    from jicai.measures.supply_alerts import sentinel_alerts

    return sentinel_alerts(wh, p["month"], p["month"], None, policy).to_pyarrow()


def _surge(wh, p, policy):
    from jicai.measures.supply_alerts import surge_alerts

    return surge_alerts(wh, p["month"], p["month"], policy).to_pyarrow()


def _periods(wh, p, policy):
    from jicai.measures.supply_periods import supply_period_effects

    return supply_period_effects(wh, p["as_of"], None, policy).to_pyarrow()


def datasets() -> list[Dataset]:
    out: list[Dataset] = []
    from jicai.measures.supply import ROLLUP_COLUMNS, SUPPLY_COLUMNS
    from jicai.measures.supply_alerts import INPUT_TABLES as ALERT_TABLES
    from jicai.measures.supply_alerts import SENTINEL_COLUMNS, SURGE_COLUMNS
    from jicai.measures.supply_periods import EFFECT_COLUMNS
    from jicai.measures.supply_periods import INPUT_TABLES as PERIOD_TABLES

    base = ("orders", "deliveries", "products", "selected_products", "enterprises", "institutions")
    out.append(Dataset("supply-scorecard", "供应评价", "Supply scorecard", SUPPLY_COLUMNS,
                     Dims(product="product_code", enterprise=("enterprise_code", "distributor_code")), ("month",),
                     _scorecard, roles=SUPPLY_ROLES, sort=("product_code", "distributor_code"), requires=base,
                     group="supply",
                     note_zh="每个中选产品 × 企业 × 配送企业 × 月:响应、发货、配送率、供应问题反映与标记",
                     note_en="Per selected product × enterprise × distributor × month: response, shipping, delivery "
                             "rate, complaints and flags"))
    out.append(Dataset("supply-enterprises", "供应评价(按企业)", "Supply by enterprise", ROLLUP_COLUMNS,
                     Dims(enterprise=("enterprise_code", "distributor_code")), ("month",), _by_enterprise,
                     roles=SUPPLY_ROLES, sort=("enterprise_code",), requires=base, group="supply"))
    out.append(Dataset("supply-distributors", "供应评价(按配送企业)", "Supply by distributor", ROLLUP_COLUMNS,
                     Dims(enterprise=("enterprise_code", "distributor_code")), ("month",), _by_distributor,
                     roles=SUPPLY_ROLES, sort=("distributor_code",), requires=base, group="supply"))
    out.append(Dataset("supply-sentinel", "哨点预警", "Sentinel warnings", SENTINEL_COLUMNS,
                     Dims(region="region_code", product="product_code", enterprise=("enterprise_code",)), ("month",),
                     _sentinel, roles=SUPPLY_ROLES, sort=("region_code", "product_code"), requires=ALERT_TABLES,
                     group="supply"))
    out.append(Dataset("supply-surge", "需求激增", "Demand surges", SURGE_COLUMNS,
                     Dims(region="region_code", variety="variety_id"), ("month",), _surge, roles=SUPPLY_ROLES,
                     sort=("region_code", "variety_id"), requires=ALERT_TABLES, group="supply"))
    out.append(Dataset("supply-periods", "供应问题期间的影响", "Supply-problem periods", EFFECT_COLUMNS,
                     Dims(institution="institution_code", variety="variety_id"), ("as_of",), _periods,
                     sort=("institution_code", "variety_id"), requires=PERIOD_TABLES, group="supply",
                     note_zh="核实的供应问题期间内:备供替代计入中选量、非中选量不计入占比,及其对完成率和占比的影响",
                     note_en="Inside verified supply-problem periods: backup volume counted as selected, non-selected "
                             "volume left out, and what that changed in completion and share"))
    return out
