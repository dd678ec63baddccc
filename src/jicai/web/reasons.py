"""Why a row is flagged: each status or flag a dataset shows, said with its rule, the threshold, the row's value
and the policy clause the threshold comes from ("完成率 62.0% < 序时进度 75.0%,还差 13,000 片;依据 …"), in
Chinese on the Chinese page and in English on the English one.

The rules are the measures' own (DESIGN.md "Default rules"); this module only says them, from the row's figures
and the policy in force, so the page, the xlsx export and the API read the same sentence. A row with nothing to
explain gets no reason. The clause is the parameter's ``source`` (a Chinese notice keeps its Chinese title on
the English page: it is the document's name).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from jicai.contract.display import show

Say = Callable[[dict, dict, str], str]
Rule = tuple[str, tuple[str, ...], Say, Say]  # (code, policy parameters, Chinese sentence, English sentence)


def _r(v: Any) -> str:
    return show(v, "rate")


def _n(v: Any) -> str:
    return show(v, "volume")


def _h(v: Any) -> str:
    return show(v, "score").removesuffix(".0")  # 72 小时, 1.5 倍


def _m(v: Any) -> str:
    return show(v, "money")


def _p(v: Any) -> str:
    return show(v, "price")


def _pp(v: Any, lang: str = "zh") -> str:
    return show(v, "pp", lang).replace(".0 ", " ")


MONITOR: tuple[Rule, ...] = (
    ("status:zero", ("min_completion",),
     lambda r, p, u: f"零采购:中选产品采购量为 0,约定采购量 {_n(r.get('agreed_volume'))} {u}",
     lambda r, p, u: f"zero purchase: no selected product bought against an agreed {_n(r.get('agreed_volume'))} units"),
    ("status:behind", ("min_completion",),
     lambda r, p, u: f"完成率 {_r(r.get('completion'))} < 序时进度 {_r(r.get('time_progress'))},"
                     f"还差 {_n(r.get('shortfall_volume'))} {u}",
     lambda r, p, u: f"completion {_r(r.get('completion'))} < time progress {_r(r.get('time_progress'))}, "
                     f"{_n(r.get('shortfall_volume'))} units short"),
    ("status:over", ("min_completion",),
     lambda r, p, u: f"完成率 {_r(r.get('completion'))} > 100%,已超额完成约定采购量",
     lambda r, p, u: f"completion {_r(r.get('completion'))} > 100%: the agreed volume is exceeded"),
    ("nonselected_excess", ("nonselected_share_max",),
     lambda r, p, u: f"非中选占比 {_r(r.get('nonselected_share'))} > 上限 {_r(p['nonselected_share_max'])}",
     lambda r, p, u: f"non-selected share {_r(r.get('nonselected_share'))} > maximum {_r(p['nonselected_share_max'])}"),
    ("not_onboarded", ("onboarding_from_month",),
     lambda r, p, u: f"执行第 {p['onboarding_from_month']} 个月起仍未采购中选产品(未进院)",
     lambda r, p, u: f"no selected product bought from month {p['onboarding_from_month']} of execution (not onboarded)"),
)
SUPPLY: tuple[Rule, ...] = (
    ("flags:slow_response", ("response_hours_max",),
     lambda r, p, u: f"响应时间中位数 {_h(r.get('response_hours_median'))} 小时 > {_h(p['response_hours_max'])} 小时",
     lambda r, p, u: f"median response {_h(r.get('response_hours_median'))} h > {_h(p['response_hours_max'])} h"),
    ("flags:low_delivery_rate", ("delivery_rate_min", "deliver_within_hours"),
     lambda r, p, u: f"{_h(p['deliver_within_hours'])} 小时内配送率 {_r(r.get('delivery_rate'))} "
                     f"< {_r(p['delivery_rate_min'])}",
     lambda r, p, u: f"delivered within {_h(p['deliver_within_hours'])} h: {_r(r.get('delivery_rate'))} "
                     f"< {_r(p['delivery_rate_min'])}"),
    # an enterprise's or distributor's row rolls its products' flags up without their counts: the rule is said
    # without the figure there (the scorecard's product rows have it)
    ("flags:multi_institution_complaints", ("complaint_institutions_min",),
     lambda r, p, u: (f"{r['complaint_institutions']} 家机构" if r.get("complaint_institutions") is not None
                      else "所供产品有多家机构") + f"反映供应问题(≥ {p['complaint_institutions_min']} 家)",
     lambda r, p, u: (f"{r['complaint_institutions']} institutions" if r.get("complaint_institutions") is not None
                      else "several institutions") + f" reported supply problems (≥ {p['complaint_institutions_min']})"),
    ("flags:sentinel_warning", ("sentinel_min_lines",),
     lambda r, p, u: f"哨点机构反映 {r['sentinel_reports']} 次" if r.get("sentinel_reports") is not None
     else "所供产品有哨点机构预警",
     lambda r, p, u: f"sentinel institutions reported {r['sentinel_reports']} times"
     if r.get("sentinel_reports") is not None else "a sentinel institution warned about a product supplied"),
    ("flags:surge", ("surge_factor",),
     lambda r, p, u: f"需求激增,超过前期月均的 {_h(p['surge_factor'])} 倍",
     lambda r, p, u: f"demand surge above {_h(p['surge_factor'])}× the earlier monthly mean"),
)
AUDIT: tuple[Rule, ...] = (
    ("flags:under_report", ("under_report_ratio",),
     lambda r, p, u: f"报量 {_n(r.get('reported_volume'))} {u} < 上年实际 {_n(r.get('last_year_actual'))} {u} × "
                     f"(1 − {_r(p['under_report_ratio'])})",
     lambda r, p, u: f"reported {_n(r.get('reported_volume'))} < last year's actual "
                     f"{_n(r.get('last_year_actual'))} × (1 − {_r(p['under_report_ratio'])})"),
    ("flags:used_not_reported", ("under_report_ratio",),
     lambda r, p, u: f"上年实际采购 {_n(r.get('last_year_actual'))} {u},未报量",
     lambda r, p, u: f"bought {_n(r.get('last_year_actual'))} units last year, reported none"),
    ("flags:renewal_below_prior", ("under_report_ratio",),
     lambda r, p, u: f"报量 {_n(r.get('reported_volume'))} {u} < 上年约定 {_n(r.get('prior_agreed'))} {u}",
     lambda r, p, u: f"reported {_n(r.get('reported_volume'))} < last year's agreed {_n(r.get('prior_agreed'))}"),
    ("flags:over_report", ("over_report_multiple",),
     lambda r, p, u: f"报量 {_n(r.get('reported_volume'))} {u} > 上年实际 {_n(r.get('last_year_actual'))} {u} × "
                     f"{_h(p['over_report_multiple'])}",
     lambda r, p, u: f"reported {_n(r.get('reported_volume'))} > last year's actual "
                     f"{_n(r.get('last_year_actual'))} × {_h(p['over_report_multiple'])}"),
)
# volume-forecast (the 报量 assistant): a report against the floor and the forecast, with what to add
FORECAST: tuple[Rule, ...] = (
    ("flags:below_floor", ("report_floor_ratio", "report_floor_years"),
     lambda r, p, u: f"报量 {_n(r.get('reported_volume'))} {u} < 报量下限 {_n(r.get('floor_volume'))} {u}(近 "
                     f"{p['report_floor_years']} 年年均使用量 {_n(r.get('prior_annual_use'))} {u} × "
                     f"{_r(p['report_floor_ratio'])}),建议报量 {_n(r.get('recommended_volume'))} {u},"
                     f"需补报 {_n(r.get('report_gap'))} {u} 或书面说明理由",
     lambda r, p, u: f"reported {_n(r.get('reported_volume'))} < the floor {_n(r.get('floor_volume'))} (average use "
                     f"of the last {p['report_floor_years']} years {_n(r.get('prior_annual_use'))} × "
                     f"{_r(p['report_floor_ratio'])}); recommended {_n(r.get('recommended_volume'))}, add "
                     f"{_n(r.get('report_gap'))} or explain in writing"),
    ("flags:below_forecast", ("forecast_shortfall_ratio",),
     lambda r, p, u: f"报量 {_n(r.get('reported_volume'))} {u} 为预测用量 {_n(r.get('forecast_volume'))} {u} 的 "
                     f"{_r(r.get('ratio'))},低于 1 − {_r(p['forecast_shortfall_ratio'])}",
     lambda r, p, u: f"reported {_n(r.get('reported_volume'))} is {_r(r.get('ratio'))} of the forecast use "
                     f"{_n(r.get('forecast_volume'))}, below 1 − {_r(p['forecast_shortfall_ratio'])}"),
)
ASSESSMENT: tuple[Rule, ...] = (
    ("failed_items:completion", ("min_completion",),
     lambda r, p, u: f"未完成约定采购量(完成率 {_r(r.get('completion'))},须 ≥ {_r(p['min_completion'])})",
     lambda r, p, u: f"agreed volume not completed (completion {_r(r.get('completion'))}, "
                     f"required ≥ {_r(p['min_completion'])})"),
    ("failed_items:nonselected_share", ("nonselected_share_max",),
     lambda r, p, u: f"非中选占比 {_r(r.get('nonselected_share'))} > 上限 {_r(p['nonselected_share_max'])}",
     lambda r, p, u: f"non-selected share {_r(r.get('nonselected_share'))} > maximum {_r(p['nonselected_share_max'])}"),
)
# supply-periods: what the verified supply-problem periods changed for the row (its figures with and without them)
PERIODS: tuple[Rule, ...] = (
    ("changed", ("backup_substitution", "supply_problem_exclusion"),
     lambda r, p, u: f"核实的供应问题期间内:备供替代 {_n(r.get('substituted_volume') or 0)} {u} 计入中选量,"
                     f"非中选 {_n(r.get('excluded_volume') or 0)} {u} 不计入占比;完成率 {_r(r.get('completion_without'))}"
                     f" → {_r(r.get('completion'))},非中选占比 {_r(r.get('share_without'))} → "
                     f"{_r(r.get('nonselected_share'))}",
     lambda r, p, u: f"inside verified supply-problem periods: {_n(r.get('substituted_volume') or 0)} backup units "
                     f"count as selected, {_n(r.get('excluded_volume') or 0)} non-selected units are left out of the "
                     f"share; completion {_r(r.get('completion_without'))} → {_r(r.get('completion'))}, non-selected "
                     f"share {_r(r.get('share_without'))} → {_r(r.get('nonselected_share'))}"),
)
BUDGET: tuple[Rule, ...] = (
    ("status:ahead", ("budget_ahead_margin",),
     lambda r, p, u: f"预算执行进度 {_r(r.get('spending_progress'))} 超序时进度 {_r(r.get('time_progress'))} "
                     f"{_pp(r.get('gap'))} > {_pp(p['budget_ahead_margin'])},超序时金额 {_m(r.get('ahead_amount'))}",
     lambda r, p, u: f"spending progress {_r(r.get('spending_progress'))} is {_pp(r.get('gap'), 'en')} ahead of "
                     f"time progress {_r(r.get('time_progress'))} (> {_pp(p['budget_ahead_margin'], 'en')}), "
                     f"{_m(r.get('ahead_amount'))} ahead"),
    ("over_budget", ("budget_ahead_margin",),
     lambda r, p, u: f"累计医保支出 {_m(r.get('spending'))} > 年度总额预算 {_m(r.get('total_budget'))}",
     lambda r, p, u: f"fund spending {_m(r.get('spending'))} > the year's budget {_m(r.get('total_budget'))}"),
)
LISTING: tuple[Rule, ...] = (
    ("finding:not_listed_at_winning_price", ("price_tolerance",),
     lambda r, p, u: f"中选产品未按中选价 {_p(r.get('winning_price'))} 挂网"
                     + (f"(挂网价 {_p(r.get('listed_unit_price'))})" if r.get("listed_unit_price") is not None
                        else "(无有效挂网)"),
     lambda r, p, u: f"selected product not listed at its winning price {_p(r.get('winning_price'))}"
                     + (f" (listed at {_p(r.get('listed_unit_price'))})" if r.get("listed_unit_price") is not None
                        else " (no listing in force)")),
    ("finding:above_winning_price", ("price_tolerance",),
     lambda r, p, u: f"挂网价 {_p(r.get('listed_unit_price'))} > 中选价 {_p(r.get('winning_price'))}"
                     f"(容差 ¥{p['price_tolerance']})",
     lambda r, p, u: f"listed {_p(r.get('listed_unit_price'))} > winning price {_p(r.get('winning_price'))} "
                     f"(tolerance ¥{p['price_tolerance']})"),
    ("finding:suspend_or_delist", ("nonselected_price_multiple",),
     lambda r, p, u: f"非中选产品挂网价 {_p(r.get('listed_unit_price'))} 为同品种最高中选价 "
                     f"{_p(r.get('winning_price'))} 的 {_h(r.get('multiple'))} 倍 > {_h(p['nonselected_price_multiple'])} 倍",
     lambda r, p, u: f"non-selected product listed at {_p(r.get('listed_unit_price'))}, {_h(r.get('multiple'))}× the "
                     f"variety's highest winning price {_p(r.get('winning_price'))} "
                     f"(> {_h(p['nonselected_price_multiple'])}×)"),
)
SENTINEL: tuple[Rule, ...] = (
    ("triggers:report", ("sentinel_min_lines",),
     lambda r, p, u: f"哨点机构本月反映供应问题 {r.get('reports') or 0} 次",
     lambda r, p, u: f"the sentinel reported {r.get('reports') or 0} supply problems this month"),
    ("triggers:slow_response", ("response_hours_max", "sentinel_min_lines"),
     lambda r, p, u: f"哨点响应时间中位数 {_h(r.get('response_hours_median'))} 小时 > {_h(p['response_hours_max'])} 小时"
                     f"({r.get('order_lines')} 条订单行 ≥ {p['sentinel_min_lines']} 条)",
     lambda r, p, u: f"the sentinel's median response {_h(r.get('response_hours_median'))} h > "
                     f"{_h(p['response_hours_max'])} h ({r.get('order_lines')} order lines ≥ {p['sentinel_min_lines']})"),
    ("triggers:low_delivery_rate", ("delivery_rate_min", "deliver_within_hours", "sentinel_min_lines"),
     lambda r, p, u: f"哨点 {_h(p['deliver_within_hours'])} 小时内配送率 {_r(r.get('delivery_rate'))} < "
                     f"{_r(p['delivery_rate_min'])}({r.get('order_lines')} 条订单行 ≥ {p['sentinel_min_lines']} 条)",
     lambda r, p, u: f"the sentinel's delivery within {_h(p['deliver_within_hours'])} h {_r(r.get('delivery_rate'))} < "
                     f"{_r(p['delivery_rate_min'])} ({r.get('order_lines')} order lines ≥ {p['sentinel_min_lines']})"),
)
SURGE: tuple[Rule, ...] = (
    ("surge_ratio", ("surge_factor", "surge_baseline_months"),
     lambda r, p, u: f"当月采购量 {_n(r.get('ordered_units'))} {u} 为前 {p['surge_baseline_months']} 个月月均 "
                     f"{_n(r.get('baseline_units'))} {u} 的 {_h(r.get('surge_ratio'))} 倍 > {_h(p['surge_factor'])} 倍",
     lambda r, p, u: f"{_n(r.get('ordered_units'))} units ordered this month, {_h(r.get('surge_ratio'))}× the mean "
                     f"{_n(r.get('baseline_units'))} of the {p['surge_baseline_months']} months before "
                     f"(> {_h(p['surge_factor'])}×)"),
)
# the pharmacy rules all come from one clause (盐城 疏堵并举); only the large-amount rule has a threshold
PHARMACY_VIOLATIONS: tuple[Rule, ...] = (
    ("kind:video_offline", ("pharmacy_large_amount",),
     lambda r, p, u: "结算时视频监控未在线(视频监控须与结算设备同步运转)",
     lambda r, p, u: "settled while the video surveillance was offline (it must run with the settlement terminal)"),
    ("kind:video_missing", ("pharmacy_large_amount",),
     lambda r, p, u: "结算无对应视频记录",
     lambda r, p, u: "no video record of the settlement"),
    ("kind:stock_mismatch", ("pharmacy_large_amount",),
     lambda r, p, u: f"进销存不一致,差异 {_n(r.get('quantity'))},估算金额 {_m(r.get('amount'))}",
     lambda r, p, u: f"stock ledger does not match: difference {_n(r.get('quantity'))}, about {_m(r.get('amount'))}"),
    ("kind:large_amount", ("pharmacy_large_amount",),
     lambda r, p, u: f"单笔购药金额 {_m(r.get('amount'))} > 大额标准 {_m(p['pharmacy_large_amount'])}",
     lambda r, p, u: f"settlement {_m(r.get('amount'))} > the large-amount threshold {_m(p['pharmacy_large_amount'])}"),
    ("kind:proxy_unregistered", ("pharmacy_large_amount",),
     lambda r, p, u: "代购药品未登记",
     lambda r, p, u: "purchase on behalf of another person not registered"),
)
PHARMACY_RISK: tuple[Rule, ...] = (
    ("video_violations", ("pharmacy_large_amount",),
     lambda r, p, u: f"视频联动违规 {r.get('video_violations')} 笔({_m(r.get('video_amount'))})",
     lambda r, p, u: f"{r.get('video_violations')} settlements without working video ({_m(r.get('video_amount'))})"),
    ("stock_mismatches", ("pharmacy_large_amount",),
     lambda r, p, u: f"进销存不一致 {r.get('stock_mismatches')} 个品种(估算 {_m(r.get('stock_amount'))})",
     lambda r, p, u: f"{r.get('stock_mismatches')} products with a stock mismatch (about {_m(r.get('stock_amount'))})"),
    ("large_settlements", ("pharmacy_large_amount",),
     lambda r, p, u: f"大额购药 {r.get('large_settlements')} 笔(单笔 > {_m(p['pharmacy_large_amount'])},"
                     f"共 {_m(r.get('large_amount'))})",
     lambda r, p, u: f"{r.get('large_settlements')} settlements above {_m(p['pharmacy_large_amount'])} "
                     f"({_m(r.get('large_amount'))} in all)"),
    ("proxy_unregistered", ("pharmacy_large_amount",),
     lambda r, p, u: f"代购未登记 {r.get('proxy_unregistered')} 笔({_m(r.get('proxy_amount'))})",
     lambda r, p, u: f"{r.get('proxy_unregistered')} unregistered proxy purchases ({_m(r.get('proxy_amount'))})"),
)
PREPAYMENT: tuple[Rule, ...] = (
    ("source:computed", ("prepay_ratio",),
     lambda r, p, u: f"预付 {_m(r.get('prepayment'))} = 年度约定采购金额 {_m(r.get('agreed_amount'))} × "
                     f"{_r(p['prepay_ratio'])};累计冲抵 {_m(r.get('cumulative_offset'))} = 预付 × 采购进度 "
                     f"{_r(r.get('progress') or 0)}",
     lambda r, p, u: f"prepaid {_m(r.get('prepayment'))} = agreed amount {_m(r.get('agreed_amount'))} × "
                     f"{_r(p['prepay_ratio'])}; offset so far {_m(r.get('cumulative_offset'))} = prepayment × "
                     f"progress {_r(r.get('progress') or 0)}"),
    ("source:imported", ("prepay_ratio",),
     lambda r, p, u: f"预付 {_m(r.get('prepayment'))}(导入的预付记录);累计冲抵 {_m(r.get('cumulative_offset'))}"
                     f" = 预付 × 采购进度 {_r(r.get('progress') or 0)}",
     lambda r, p, u: f"prepaid {_m(r.get('prepayment'))} (imported); offset so far "
                     f"{_m(r.get('cumulative_offset'))} = prepayment × progress {_r(r.get('progress') or 0)}"),
)
RULES: dict[str, tuple[Rule, ...]] = {
    "monitor": MONITOR, "supply-periods": PERIODS, "supply-scorecard": SUPPLY, "supply-enterprises": SUPPLY,
    "supply-distributors": SUPPLY, "volume-audit": AUDIT, "assessment": ASSESSMENT, "budget": BUDGET,
    "listing": LISTING, "supply-sentinel": SENTINEL, "supply-surge": SURGE,
    "pharmacy-violations": PHARMACY_VIOLATIONS, "pharmacy-risk": PHARMACY_RISK, "prepayment": PREPAYMENT,
    "volume-forecast": FORECAST,
}
LISTS = ("flags", "failed_items", "triggers")  # ';'-separated codes


def _fires(code: str, row: dict) -> bool:
    column, _, value = code.partition(":")
    v = row.get(column)
    if not value:
        return bool(v)
    if column in LISTS or isinstance(v, str) and ";" in v:
        return value in str(v or "").split(";")
    return v == value


_WORDING = re.compile(r"\(([^()]*)\)$")
_CLAUSE = re.compile(r"[一二三四五六七八九十]+|\d{4}-\d{2}-\d{2}")  # (三) is an article, (2024-03-18) a date


def _citations(source: str) -> list[str]:
    """The notices and clauses a parameter's source names, without the quoted wording in the closing brackets
    (the policy page has it): "陕西通知(2024-03-18) 四(三)(非中选…); 31号 监测考核" → ["陕西通知(2024-03-18) 四(三)",
    "31号 监测考核"]; an article number or a date in brackets is kept."""
    out = []
    for part in (source or "").split(";"):
        part = part.strip()
        m = _WORDING.search(part)
        if m and not _CLAUSE.fullmatch(m.group(1)):
            part = part[:m.start()].strip()
        if part and not part.lower().startswith(("design", "jicai", "band:", "weight:")):
            out.append(part)
    return out


def explains(dataset: str) -> bool:
    return dataset in RULES


def reason(dataset: str, row: dict, policy: Any, unit: str = "", lang: str = "zh") -> str:
    """The sentence explaining every rule the row trips, each with its clause ("" when none fires)."""
    en = lang == "en"
    parts = []
    for code, params, say_zh, say_en in RULES.get(dataset, ()):
        if not _fires(code, row):
            continue
        values, sources = {}, []
        for name in params:
            try:
                entry = policy.entry(name)
            except Exception:  # a parameter the policy lacks: say the figures without the clause
                continue
            values[name] = entry.value
            for cite in _citations(entry.source):
                if cite not in sources:
                    sources.append(cite)
        try:
            text = (say_en if en else say_zh)(row, values, unit)
        except KeyError:
            continue
        if sources:
            text += f" (basis: {'; '.join(sources)})" if en else f"(依据:{';'.join(sources)})"
        parts.append(text)
    return ("; " if en else ";").join(parts)
