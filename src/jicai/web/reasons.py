"""Why a row is flagged: each status or flag a dataset shows, said with its rule, the threshold, the row's value
and the policy clause the threshold comes from ("完成率 62.0% < 序时进度 75.0%,还差 13,000 片;依据 …").

The rules are the measures' own (DESIGN.md "Default rules"); this module only says them, from the row's figures
and the policy in force, so the page, the xlsx export and the API read the same sentence. A row with nothing to
explain gets no reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jicai.contract.display import show

Rule = tuple[str, tuple[str, ...], Callable[[dict, dict, str], str]]  # (code, policy parameters, sentence)


def _r(v: Any) -> str:
    return show(v, "rate")


def _n(v: Any) -> str:
    return show(v, "volume")


def _h(v: Any) -> str:
    text = show(v, "score")
    return text.removesuffix(".0")  # 72 小时, 1.5 倍


def _unit(row: dict) -> str:
    return row.get("_unit") or ""


MONITOR: tuple[Rule, ...] = (
    ("status:zero", ("min_completion",),
     lambda r, p, u: f"零采购:中选产品采购量为 0,约定采购量 {_n(r.get('agreed_volume'))} {u}"),
    ("status:behind", ("min_completion",),
     lambda r, p, u: f"完成率 {_r(r.get('completion'))} < 序时进度 {_r(r.get('time_progress'))},"
                     f"还差 {_n(r.get('shortfall_volume'))} {u}"),
    ("status:over", ("min_completion",),
     lambda r, p, u: f"完成率 {_r(r.get('completion'))} > 100%,已超过约定采购量"),
    ("nonselected_excess", ("nonselected_share_max",),
     lambda r, p, u: f"非中选占比 {_r(r.get('nonselected_share'))} > 上限 {_r(p['nonselected_share_max'])}"),
    ("not_onboarded", ("onboarding_from_month",),
     lambda r, p, u: f"执行第 {p['onboarding_from_month']} 个月起仍未采购中选产品(未进院)"),
)
SUPPLY: tuple[Rule, ...] = (
    ("flags:slow_response", ("response_hours_max",),
     lambda r, p, u: f"响应时间中位数 {_h(r.get('response_hours_median'))} 小时 > {_h(p['response_hours_max'])} 小时"),
    ("flags:low_delivery_rate", ("delivery_rate_min", "deliver_within_hours"),
     lambda r, p, u: f"{_h(p['deliver_within_hours'])} 小时内配送率 {_r(r.get('delivery_rate'))} "
                     f"< {_r(p['delivery_rate_min'])}"),
    ("flags:multi_institution_complaints", ("complaint_institutions_min",),
     lambda r, p, u: f"{r.get('complaint_institutions')} 家机构反映供应问题(≥ {p['complaint_institutions_min']} 家)"),
    ("flags:sentinel_warning", ("sentinel_min_lines",),
     lambda r, p, u: f"哨点机构反映 {r.get('sentinel_reports') or 0} 次"),
    ("flags:surge", ("surge_factor",),
     lambda r, p, u: f"需求激增,超过前期月均的 {_h(p['surge_factor'])} 倍"),
)
AUDIT: tuple[Rule, ...] = (
    ("flags:under_report", ("under_report_ratio",),
     lambda r, p, u: f"报量 {_n(r.get('reported_volume'))} {u} < 上年实际 {_n(r.get('last_year_actual'))} {u} × "
                     f"(1 − {_r(p['under_report_ratio'])})"),
    ("flags:used_not_reported", ("under_report_ratio",),
     lambda r, p, u: f"上年实际采购 {_n(r.get('last_year_actual'))} {u},未报量"),
    ("flags:renewal_below_prior", ("under_report_ratio",),
     lambda r, p, u: f"报量 {_n(r.get('reported_volume'))} {u} < 上年约定 {_n(r.get('prior_agreed'))} {u}"),
    ("flags:over_report", ("over_report_multiple",),
     lambda r, p, u: f"报量 {_n(r.get('reported_volume'))} {u} > 上年实际 {_n(r.get('last_year_actual'))} {u} × "
                     f"{_h(p['over_report_multiple'])}"),
)
ASSESSMENT: tuple[Rule, ...] = (
    ("failed_items:completion", ("min_completion",),
     lambda r, p, u: f"未完成约定采购量(完成率 {_r(r.get('completion'))},须 ≥ {_r(p['min_completion'])})"),
    ("failed_items:nonselected_share", ("nonselected_share_max",),
     lambda r, p, u: f"非中选占比 {_r(r.get('nonselected_share'))} > 上限 {_r(p['nonselected_share_max'])}"),
)
RULES: dict[str, tuple[Rule, ...]] = {
    "monitor": MONITOR, "supply-periods": MONITOR[:3], "supply-scorecard": SUPPLY, "supply-enterprises": SUPPLY,
    "supply-distributors": SUPPLY, "volume-audit": AUDIT, "assessment": ASSESSMENT,
}


def _fires(code: str, row: dict) -> bool:
    column, _, value = code.partition(":")
    v = row.get(column)
    if not value:
        return bool(v)
    if isinstance(v, str) and ";" in v or column in ("flags", "failed_items"):
        return value in str(v or "").split(";")
    return v == value


def _citations(source: str) -> list[str]:
    """The notices and clauses a parameter's source names, without the quoted wording in brackets (the policy
    page has it): "003 陕西 四(三)(非中选…); 001 监测考核" → ["003 陕西 四(三)", "001 监测考核"]."""
    out = []
    for part in (source or "").split(";"):
        part = part.strip()
        cut = part.find("(", part.find(")") + 1 if part.count("(") > 1 else 0)
        part = part[:cut].strip() if cut > 0 else part
        if part and not part.lower().startswith(("design", "jicai", "band:", "weight:")):
            out.append(part)
    return out


def explains(dataset: str) -> bool:
    return dataset in RULES


def reason(dataset: str, row: dict, policy: Any, unit: str = "") -> str:
    """The Chinese sentence explaining every rule the row trips, each with its clause ("" when none fires)."""
    parts = []
    for code, params, say in RULES.get(dataset, ()):
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
            text = say(row, values, unit)
        except KeyError:
            continue
        parts.append(f"{text}(依据:{';'.join(sources)})" if sources else text)
    return ";".join(parts)
