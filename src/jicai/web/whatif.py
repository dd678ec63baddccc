"""The policy what-if as the web shows it (:mod:`jicai.analytics.whatif`): a form of the parameters the
assessment, retention and prepayment read, pre-filled with the values in force, checked on the server; and the
comparison for the caller's scope.

- **The form.** One field per parameter of :data:`GROUPS`: ratios as percentages (``99.9`` or ``99.9%``),
  points as numbers, yes/no and choices as selects, the retention tiers as lines ``90 50%``. A field left at its
  current value changes nothing; only the values that differ become the alternative policy, validated as a
  policy file would be (:func:`jicai.policy.checked.with_checked`): a bad value is a bilingual 422 naming the
  parameter, with the form kept as typed — never a 500. Every field is bounded (length, finite numbers).
- **The figures.** The institution rows are computed once per (batch, year, as-of, both policies' versions) by a
  background job (:meth:`DataService.result`: the bounded result cache, kept until the data change), scope
  applied to them as to any dataset (a district bureau sees its cities' institutions, and totals over them), and
  the finished view is memoised per role and scope (:meth:`DataService.memo`: bounded by entries and bytes).
- **The apportionment.** With two changed parameters or more, the what-if of each combination of them
  (:mod:`jicai.analytics.whatif_apportion`: up to 14 for four parameters, one each beyond) is one more result of
  the same cache, scoped the same way, so each city's and the total's parts are over the caller's institutions.
  A combination that cannot be computed leaves the parts unavailable, with the reason; the what-if still shows.
  So distinct what-ifs add at most two results and one view each, within the caches' budgets; nothing else is
  kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from jicai.analytics.whatif import POLICY, Comparison, changes, comparison_of, labels, what_if
from jicai.analytics.whatif_apportion import masks, no_subsets, subset_rows
from jicai.assess.period import AssessmentPeriod
from jicai.contract.roles import Principal
from jicai.errors import BilingualError
from jicai.measures.registry import Dims
from jicai.policy import SPECS, Policy
from jicai.policy.checked import PolicyInvalid, with_checked
from jicai.policy.labels import CHOICES, NAMES
from jicai.store import LockTimeout
from jicai.web.data import DataService, NotReady
from jicai.web.datasets import DATASETS, DatasetError
from jicai.web.query import resolve_params
from jicai.web.scope import restrict

ROLES = ("admin", "bureau")
BUSY = (NotReady, LockTimeout)  # "computing, retry" (503): never turned into a 422
DIMS = Dims(institution="institution_code", region="region_code")
MAX_FIELD = 200  # characters of one field: the tiers of a real notice fit in far less

_SCORE = tuple(p for p in POLICY if p.startswith("score_"))
GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("考核合格线", "Pass/fail thresholds", ("min_completion", "nonselected_share_max")),
    ("结余留用与超支分担", "Retention and overspend", ("retention_tiers", "fund_payment_ratio", "overspend_share")),
    ("医保基金预付", "Prepayment", ("prepay_ratio",)),
    ("考核得分(权重与得分区间)", "Score weights and bands", _SCORE),
    ("采购量统计口径", "Volume basis", ("volume_basis", "payment_due", "backup_substitution",
                                     "supply_problem_exclusion", "special_treatment")),
)


class WhatIfInputError(PolicyInvalid):
    """A form field that cannot be read (not a number, too long): shown as 422 with the field named."""


@dataclass(frozen=True)
class Field:
    name: str
    zh: str
    en: str
    kind: str  # percent, number, bool, choice, tiers
    value: str  # as shown in the input: the current value, or what the user typed
    current: str  # the current value, shown beside it
    choices: tuple[tuple[str, str, str], ...] = ()  # (code, 中文, English)


def _kind(policy: Policy, name: str, on: date) -> str:
    spec, unit = SPECS[name], policy.entry(name, on).unit
    if spec.tiers is not None:
        return "tiers"
    if spec.type is bool:
        return "bool"
    if spec.choices:
        return "choice"
    return "percent" if unit == "ratio" else "number"


def _number(x: float) -> str:
    """A number without float residue, exponent or trailing zeros: 0.1 → '0.1', 72.0 → '72'."""
    d = Decimal(repr(float(x))).normalize()
    text = f"{d:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _pct(x: float) -> str:
    return _number(float(Decimal(repr(float(x))) * 100))


def _text(policy: Policy, name: str, on: date) -> str:
    """The value of ``name`` as its input shows it (a ratio as a percentage, tiers one per line)."""
    v, kind = policy.value(name, on=on), _kind(policy, name, on)
    if kind == "tiers":
        return "\n".join(f"{_number(a)} {_pct(b)}%" for a, b in v)
    if kind == "bool":
        return "true" if v else "false"
    if kind == "percent":
        return _pct(v)
    return str(v) if kind == "choice" else _number(v)


def fields(current: Policy, on: date, raw: Mapping[str, str] | None = None) -> list[tuple[str, str, list[Field]]]:
    """The form's groups of fields, each pre-filled with the value in force on ``on`` (or what was typed)."""
    out = []
    for zh, en, names in GROUPS:
        fs = []
        for n in names:
            kind, now = _kind(current, n, on), _text(current, n, on)
            shown = str((raw or {}).get(n, now))[:MAX_FIELD]
            choices = tuple((c, *CHOICES.get(n, {}).get(str(c), (str(c), str(c)))) for c in SPECS[n].choices)
            if kind == "bool":
                choices = (("true", "是", "yes"), ("false", "否", "no"))
            fs.append(Field(n, NAMES[n][0], NAMES[n][1], kind, shown, now, choices))
        out.append((zh, en, fs))
    return out


def _bad(name: str, zh: str, en: str) -> WhatIfInputError:
    return WhatIfInputError(f"参数无效:{NAMES[name][0]}({name}){zh}", f"invalid parameter {name}: {en}")


def _decimal(name: str, text: str) -> Decimal:
    try:
        d = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise _bad(name, f"应为数字,给出 {text[:40]!r}", f"not a number: {text[:40]!r}") from None
    if not d.is_finite() or abs(d) > Decimal(10) ** 9:
        raise _bad(name, f"应为有限的数字,给出 {text[:40]!r}", f"not a finite number: {text[:40]!r}")
    return d


def _percent(name: str, text: str) -> float:
    return float(_decimal(name, text.strip().removesuffix("%")) / 100)


def _tiers(name: str, text: str) -> list[list[float]]:
    tiers = []
    for line in re.split(r"[\n;;、]+", text):
        parts = [p for p in re.split(r"[\s,,::→]+", line.strip()) if p]
        if not parts:
            continue
        if len(parts) != 2:
            raise _bad(name, f"每档应为“得分 比例”两项,如 90 50%,给出 {line.strip()[:40]!r}",
                       f"each tier is 'score ratio', e.g. 90 50%: {line.strip()[:40]!r}")
        share = _percent(name, parts[1]) if parts[1].endswith("%") else float(_decimal(name, parts[1]))
        tiers.append([float(_decimal(name, parts[0])), share])
    if not tiers or len(tiers) > 20:
        raise _bad(name, "应有 1 至 20 档", "1 to 20 tiers")
    return tiers


def _value(name: str, kind: str, text: str) -> Any:
    if kind == "tiers":
        return _tiers(name, text)
    if kind == "bool":
        if text not in ("true", "false"):
            raise _bad(name, "应为“是”或“否”", "must be true or false")
        return text == "true"
    if kind == "choice":
        return text
    if kind == "percent":
        return _percent(name, text)
    d = _decimal(name, text)
    return int(d) if SPECS[name].type is int and d == d.to_integral_value() else float(d)


def changed_values(current: Policy, on: date, raw: Mapping[str, str]) -> dict[str, Any]:
    """The parameters whose submitted value differs from the current one, parsed (``WhatIfInputError`` naming
    the field it cannot read). A field not submitted keeps its current value."""
    out: dict[str, Any] = {}
    for name in POLICY:
        if name not in raw:
            continue
        text = str(raw[name])
        if len(text) > MAX_FIELD or any(ord(ch) < 32 and ch not in "\r\n\t" for ch in text):
            raise _bad(name, "内容过长或含控制字符", "too long or holds control characters")
        kind = _kind(current, name, on)
        value = _value(name, kind, text)
        now = current.value(name, on=on)
        same = value == now if not isinstance(value, float) else math.isclose(value, float(now), rel_tol=0,
                                                                                abs_tol=1e-12)
        if not same:
            out[name] = value
    return out


def alternative(current: Policy, on: date, raw: Mapping[str, str]) -> Policy:
    """The alternative policy of a submitted form (or API body): the current one with the values that differ,
    validated as a policy file is (:class:`PolicyInvalid` naming the parameter)."""
    return with_checked(current, changed_values(current, on, raw))


# -- the comparison ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    """What a what-if is computed for: the validated arguments, the period and the current policy."""

    batch: str
    year: int
    as_of: date | None  # a provisional day inside the cycle year, or None (the whole year)
    period: AssessmentPeriod
    current: Policy


def setting(data: DataService, raw: Mapping[str, Any]) -> Setting:
    """Batch, year and as-of from the request (defaults as for the assessment dataset: the first batch, the cycle
    year containing the last day with data; an as-of before the year's end gives a provisional what-if), the
    period and the batch's policy. A bad argument is a :class:`DatasetError` (422)."""
    from jicai.assess.period import assessment_period
    from jicai.policy.registry import resolve_policy

    params = resolve_params(DATASETS["assessment"], {k: raw.get(k) for k in ("batch", "year", "as_of")}, data)
    batch, year, day = params["batch"], params["year"], params["as_of"]

    def look(wh) -> tuple[AssessmentPeriod, Policy]:
        whole = assessment_period(wh, batch, year)
        inside = whole.cycle_start <= day < whole.cycle_end
        return (assessment_period(wh, batch, year, day) if inside else whole), resolve_policy(data.data_dir, wh,
                                                                                           batch, None)
    try:
        period, policy = data.run(look)
    except (DatasetError, *BUSY):
        raise
    except BilingualError as exc:
        raise DatasetError(exc.zh, exc.en) from exc
    return Setting(batch, year, None if period.final else period.as_of, period, policy)


def comparison(data: DataService, principal: Principal, s: Setting, alt: Policy) -> Comparison:
    """The what-if of ``alt`` against the batch's policy, over the rows ``principal`` may see."""
    key = ("what-if", s.batch, s.year, s.period.as_of.isoformat(), s.current.version, alt.version)

    def rows(wh):
        try:
            return what_if(wh, s.batch, s.year, s.current, alt, s.as_of).to_pyarrow()
        except BilingualError as exc:  # a score band of zero width, a parameter not in force on the day
            raise DatasetError(exc.zh, exc.en) from exc

    names = [x.name for x in changes(s.current, alt, s.period.as_of)]

    def subsets(wh):  # the what-if of each combination of the changed parameters (the apportionment's)
        try:
            return subset_rows(wh, s.batch, s.year, s.current, alt, names, s.period.as_of, s.as_of)
        except BilingualError as exc:
            raise DatasetError(exc.zh, exc.en) from exc

    def compute() -> Comparison:
        t = restrict(principal, data.result(key, rows), DIMS, data.lookups())
        parts: Any = no_subsets()  # one changed parameter (or none): its part is the whole change
        if masks(len(names)):  # two changed parameters or more: one more result, scoped like the rows
            try:
                parts = restrict(principal, data.result((*key, "apportion"), subsets), DIMS, data.lookups())
            except DatasetError as exc:  # a combination that cannot be computed: the what-if without its parts
                parts = exc
        return comparison_of(t, s.period, s.current, alt, execute=data.execute, subsets=parts)

    return data.memo((*key, principal.role, principal.scope), compute)


def as_json(c: Comparison) -> dict[str, Any]:
    """The comparison as the API returns it: codes and raw values (rates as ratios, money in yuan)."""
    from jicai.reports.whatif import changed_first
    from jicai.web.query import jsonable

    def clean(r: dict) -> dict:
        return {k: jsonable(v) for k, v in r.items()}

    now, alt = labels(c.current, c.alt)

    return {
        "batch": c.batch_id, "year": c.year, "as_of": c.as_of.isoformat(), "final": c.final,
        "policy": {"current": {"label": now, "version": c.current.version},
                   "alternative": {"label": alt, "version": c.alt.version}},
        "changes": [{"parameter": x.name, "zh": x.zh, "current": x.current, "alternative": x.alt,
                     "current_zh": x.shown(c.current, c.as_of), "alternative_zh": x.shown(c.alt, c.as_of)}
                    for x in c.changes],
        "total": clean(c.total),
        "regions": [clean(r) for r in c.regions],
        "institutions": [clean(r) for r in changed_first(c.rows)],
        "apportionment": apportionment_json(c),
    }


def apportionment_json(c: Comparison) -> dict[str, Any] | None:
    """Each changed parameter's part of the change: the method (``shapley``, ``one_at_a_time``, ``none``,
    ``unavailable``) with its Chinese name and note, the lines in total and per city (``parameter`` blank: the
    part left to interactions, one at a time only)."""
    a = c.apportionment
    if a is None:
        return None

    def lines(shares) -> list[dict[str, Any]]:
        return [{"parameter": x.parameter, "zh": x.zh, "current_zh": x.current, "alternative_zh": x.alt, **x.values}
                for x in shares]

    return {"method": a.method, "method_zh": a.method_zh, "note_zh": a.note_zh, "note_en": a.note_en,
            "reason": {"zh": a.reason_zh, "en": a.reason_en} if a.method == "unavailable" else None,
            "total": lines(a.total),
            "regions": [{"city_code": code, "parameters": lines(a.regions[code])} for code in sorted(a.regions)]}
