"""Policy parameters as reviewed data: pydantic models of a policy TOML file.

A policy is a list of parameters; each carries its value, unit, a Chinese and an English description,
the notice and clause it comes from, and the dates it is in force. One parameter may have several
entries with non-overlapping date ranges; :meth:`Policy.value` picks the entry in force on a date.

>>> p = load_policy()
>>> p.value("nonselected_share_max")
0.5
>>> p.version.startswith("default@")
True
>>> p.label
'默认规则(国家通知及各地实践)(2024-12-10 版)'
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jicai.errors import BilingualError

DEFAULT_PATH = Path(__file__).with_name("default.toml")


class Tiers(BaseModel):
    """The shape of a tiered list parameter, ``[[bound, share], …]``: the bounds ≥ 0 (and ≤ ``maximum``),
    strictly ordered; the shares (a ratio or rate) in 0–1. Which tier applies is up to the measure reading it."""

    bound: str  # the first number's name, for messages: min_score, max_deviation
    noun: str  # what it measures: score, deviation
    share: str  # the second number's name: ratio, rate
    maximum: float | None = None
    descending: bool = False

    model_config = ConfigDict(frozen=True)

    def check(self, name: str, value: Any) -> list:
        try:
            tiers = [[float(b), float(s)] for b, s in value]
        except (TypeError, ValueError):
            raise ValueError(f"policy parameter {name!r}: expected [[{self.bound}, {self.share}], …], "
                             f"got {value!r}") from None
        if not tiers:
            raise ValueError(f"policy parameter {name!r}: at least one tier is needed")
        top = math.inf if self.maximum is None else self.maximum
        for b, s in tiers:
            if not (0.0 <= b <= top and 0.0 <= s <= 1.0):
                span = "≥ 0" if self.maximum is None else f"0–{self.maximum:g}"
                raise ValueError(f"policy parameter {name!r}: tier {[b, s]} outside {self.noun} {span} / "
                                 f"{self.share} 0–1")
        bounds = [b for b, _ in tiers]
        if bounds != sorted(bounds, reverse=self.descending) or len(set(bounds)) != len(bounds):
            order = "descending" if self.descending else "ascending"
            raise ValueError(f"policy parameter {name!r}: tier {self.noun}s must be strictly {order}")
        return tiers


class ParameterSpec(BaseModel):
    """What a parameter must look like; the declared table of settings (datasette's ``Setting``)."""

    type: type
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    tiers: Tiers | None = None  # the shape of a list parameter (every list parameter is tiered)

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    @model_validator(mode="after")
    def _lists_are_tiered(self) -> ParameterSpec:
        if (self.type is list) != (self.tiers is not None):
            raise ValueError("a list parameter, and only a list parameter, declares the shape of its tiers")
        return self

    def check(self, name: str, value: Any) -> Any:
        t = self.type
        if t is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.tiers is not None:
            return self.tiers.check(name, value)
        if not isinstance(value, t) or (t is not bool and isinstance(value, bool)):
            raise ValueError(f"policy parameter {name!r}: expected {t.__name__}, got {value!r}")
        if self.choices and value not in self.choices:
            raise ValueError(f"policy parameter {name!r}: {value!r} is not one of {self.choices}")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"policy parameter {name!r}: {value!r} < {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"policy parameter {name!r}: {value!r} > {self.maximum}")
        return value


# a share, rate or ratio: anything between 0 and 1
_RATIO = ParameterSpec(type=float, minimum=0.0, maximum=1.0)
# The five items of the assessment score (see jicai.assess.score): each has a weight (points out of 100) and a
# band scored from ``score_<item>_zero`` (0 points) to ``score_<item>_full`` (all of them), both ends in the
# item's own unit.
_SCORE_BANDS: dict[str, ParameterSpec] = {
    "completion": ParameterSpec(type=float, minimum=0.0),
    "nonselected": _RATIO,
    "payment": _RATIO,
    "offline": _RATIO,
    "cost_growth": ParameterSpec(type=float),  # a growth rate may be negative and has no upper bound
}

# Every parameter a measure reads.
SPECS: dict[str, ParameterSpec] = {
    "volume_basis": ParameterSpec(type=str, choices=("accepted", "ordered")),
    "nonselected_share_max": _RATIO,
    "payment_due": ParameterSpec(type=str, choices=("end_of_month", "end_of_next_month")),
    "onboarding_from_month": ParameterSpec(type=int, minimum=1),
    "backup_substitution": ParameterSpec(type=bool),
    "supply_problem_exclusion": ParameterSpec(type=bool),
    "special_treatment": ParameterSpec(type=str, choices=("exclude", "none")),
    "price_tolerance": ParameterSpec(type=float, minimum=0.0),
    "under_report_ratio": _RATIO,
    "over_report_multiple": ParameterSpec(type=float, minimum=1.0),
    # the 报量 assistant (jicai.analytics.forecast): the floor of a report and a report far below the forecast
    "report_floor_ratio": _RATIO,
    "report_floor_years": ParameterSpec(type=int, minimum=1, maximum=5),
    "forecast_shortfall_ratio": _RATIO,
    "nonselected_price_multiple": ParameterSpec(type=float, minimum=1.0),
    # substitution (替代使用) of VBP products by non-VBP alternatives of the class (jicai.analytics.substitution)
    "substitution_baseline_months": ParameterSpec(type=int, minimum=1),
    "substitution_followup_months": ParameterSpec(type=int, minimum=1),
    "substitution_did_min": _RATIO,
    "substitution_min_ddd": ParameterSpec(type=float, minimum=0.0),
    # annual assessment (考核) and its score
    "min_completion": ParameterSpec(type=float, minimum=0.0, maximum=2.0),
    **{f"score_weight_{item}": ParameterSpec(type=float, minimum=0.0, maximum=100.0) for item in _SCORE_BANDS},
    **{f"score_{item}_{end}": band for item, band in _SCORE_BANDS.items() for end in ("full", "zero")},
    # surplus retention (结余留用) and overspend sharing (合理超支分担)
    "fund_payment_ratio": _RATIO,
    "retention_tiers": ParameterSpec(type=list, tiers=Tiers(bound="min_score", noun="score", share="ratio",
                                                           maximum=100.0, descending=True)),
    "overspend_share": _RATIO,
    # prepayment (预付)
    "prepay_ratio": _RATIO,
    # supply guarantee (供应保障)
    "deliver_within_hours": ParameterSpec(type=float, minimum=0.0),
    "response_hours_max": ParameterSpec(type=float, minimum=0.0),
    "delivery_rate_min": _RATIO,
    "complaint_institutions_min": ParameterSpec(type=int, minimum=1),
    "sentinel_min_lines": ParameterSpec(type=int, minimum=1),
    "surge_factor": ParameterSpec(type=float, minimum=1.0),
    "surge_baseline_months": ParameterSpec(type=int, minimum=1),
    # supply risk score (供应风险评分, jicai.analytics.supply_risk): windows, trend thresholds, weights, alert level
    "risk_recent_days": ParameterSpec(type=int, minimum=1),
    "risk_baseline_days": ParameterSpec(type=int, minimum=1),
    "risk_min_lines": ParameterSpec(type=int, minimum=1),
    "risk_delivery_drop": _RATIO,
    "risk_response_rise_hours": ParameterSpec(type=float, minimum=0.0),
    "risk_winners_max": ParameterSpec(type=int, minimum=0),
    "risk_problem_lookback_days": ParameterSpec(type=int, minimum=1),
    **{f"risk_weight_{item}": ParameterSpec(type=float, minimum=0.0, maximum=100.0)
       for item in ("delivery", "response", "few_winners", "injectable", "past_problems")},
    "risk_alert_score": ParameterSpec(type=float, minimum=0.0, maximum=100.0),
    # clues (线索, jicai.analytics.kickback_clues and selective_delivery): windows, thresholds
    "clue_window_months": ParameterSpec(type=int, minimum=1, maximum=24),
    "clue_min_lines": ParameterSpec(type=int, minimum=1),
    "clue_peer_excess": _RATIO,
    "clue_share_rise": _RATIO,
    "clue_concentration_share": _RATIO,
    "selective_small_level_max": ParameterSpec(type=int, minimum=0, maximum=3),
    "selective_min_lines": ParameterSpec(type=int, minimum=1),
    "selective_rate_gap": _RATIO,
    "selective_response_gap_hours": ParameterSpec(type=float, minimum=0.0),
    # fund supervision (基金监管): capitation 中值最优法, pharmacies, budget progress
    # a deviation up to and including max_deviation gets the rate of the first tier that holds; beyond the
    # last tier, capitation_return_rate_beyond
    "capitation_return_tiers": ParameterSpec(type=list, tiers=Tiers(bound="max_deviation", noun="deviation",
                                                                   share="rate")),
    "capitation_return_rate_beyond": _RATIO,
    "pharmacy_large_amount": ParameterSpec(type=float, minimum=0.0),
    "budget_ahead_margin": _RATIO,
    # change detection (CUSUM, jicai.analytics.change): OpenPrescribing's window, threshold and allowance
    "change_window_months": ParameterSpec(type=int, minimum=2, maximum=60),
    "change_threshold_sd": ParameterSpec(type=float, minimum=0.5),
    "change_allowance_sd": ParameterSpec(type=float, minimum=0.0),
    "change_min_months": ParameterSpec(type=int, minimum=2, maximum=60),
}

class ParameterNotInForce(BilingualError, LookupError):
    """A policy has entries of a parameter, but none in force on the day asked (a gap between date ranges)."""


class Parameter(BaseModel):
    """One dated entry of a policy parameter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    value: str | bool | int | float | list[list[float]]
    unit: str = ""
    zh: str = Field(description="中文说明")
    en: str = Field(description="English description")
    source: str = Field(description="the document (a declared document's short name) and its clause, e.g. "
                                    "'医保发〔2024〕31号 监测考核'; several separated by ';'")
    note: str = Field("", description="why this value when the document does not fix it (a jicai default, a value "
                                      "taken by reference from another province's notice)")
    effective_from: date | None = None
    effective_to: date | None = None  # inclusive; None = open-ended

    @model_validator(mode="after")
    def _check(self) -> Parameter:
        spec = SPECS.get(self.name)
        if spec is None:
            raise ValueError(f"unknown policy parameter {self.name!r}; known: {', '.join(SPECS)}")
        object.__setattr__(self, "value", spec.check(self.name, self.value))
        if self.effective_from and self.effective_to and self.effective_to < self.effective_from:
            raise ValueError(f"policy parameter {self.name!r}: effective_to before effective_from")
        if not self.source.strip():
            raise ValueError(f"policy parameter {self.name!r}: source (notice and clause) is required")
        return self

    def in_force(self, on: date) -> bool:
        return (self.effective_from is None or self.effective_from <= on) and (
            self.effective_to is None or on <= self.effective_to
        )


class Document(BaseModel):
    """A notice a policy cites: ``short`` is how a parameter's ``source`` names it (its number, e.g.
    医保发〔2024〕31号, or issuer and date when it has none)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    short: str
    title: str  # the full title as published, with its issuer
    issued: date | None = None
    seed: str = ""  # the seed file it is quoted from (../shared/seeds/), if any


class Policy(BaseModel):
    """A validated policy file. ``version`` identifies its content and is stored with every result; ``label``
    (name and version date) is what a reader sees on a report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name_zh: str = ""
    name_en: str = ""
    version_date: date | None = None  # the date of this edition of the file, bumped when a value changes
    document: list[Document] = []
    parameter: list[Parameter]

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        missing = set(SPECS) - {p.name for p in self.parameter}
        if missing:
            raise ValueError(f"policy {self.id!r} lacks parameters: {', '.join(sorted(missing))}")
        by_name: dict[str, list[Parameter]] = {}
        for p in self.parameter:
            by_name.setdefault(p.name, []).append(p)
        for name, entries in by_name.items():
            entries = sorted(entries, key=lambda p: p.effective_from or date.min)
            for a, b in zip(entries, entries[1:], strict=False):
                if a.effective_to is None or a.effective_to >= (b.effective_from or date.min):
                    raise ValueError(f"policy parameter {name!r}: overlapping effective date ranges")
        if self.document:  # sources must name a declared document, so the page can print its full title
            shorts = [d.short for d in self.document]
            for p in self.parameter:
                for part in p.source.split(";"):
                    if not any(part.strip().startswith(s) for s in shorts):
                        raise ValueError(f"policy parameter {p.name!r}: source {part.strip()!r} names no declared "
                                         f"document ({', '.join(shorts)})")
        return self

    @property
    def label(self) -> str:
        """The name and edition a report prints: ``福建省…(2024-12-10 版)``; the id and hash without them."""
        name = self.name_zh or self.id
        return f"{name}({self.version_date:%Y-%m-%d} 版)" if self.version_date else f"{name}({self.version})"

    @property
    def version(self) -> str:
        """``<id>@<12 hex digits of the sha256 of the parameters>``: equal content, equal version."""
        canon = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return f"{self.id}@{hashlib.sha256(canon.encode()).hexdigest()[:12]}"

    def entry(self, name: str, on: date | None = None) -> Parameter:
        """The entry of ``name`` in force on ``on`` (``None``: the latest entry)."""
        entries = [p for p in self.parameter if p.name == name]
        if not entries:
            raise KeyError(f"unknown policy parameter {name!r}; known: {', '.join(SPECS)}")
        if on is None:
            return max(entries, key=lambda p: p.effective_from or date.min)
        for p in entries:
            if p.in_force(on):
                return p
        raise ParameterNotInForce(f"政策 {self.id!r} 的参数 {name!r} 在 {on} 没有生效的条目",
                                  f"policy {self.id!r}: no entry of {name!r} in force on {on}")

    def value(self, name: str, on: date | None = None) -> Any:
        return self.entry(name, on).value

    def with_values(self, **values: Any) -> Policy:
        """A copy with the given parameters replaced (all their entries) — handy in tests and what-ifs."""
        params = [p for p in self.parameter if p.name not in values]
        for name, v in values.items():
            base = self.entry(name)
            params.append(base.model_copy(update={"value": v, "effective_from": None, "effective_to": None}))
            Parameter.model_validate(params[-1].model_dump())  # re-run validation
        return Policy(**{**dict(self), "parameter": params})


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate a policy TOML (the bundled default when ``path`` is None)."""
    p = Path(path) if path is not None else DEFAULT_PATH
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"政策文件不存在 / policy file not found: {p}") from None
    return Policy.model_validate(data)
