"""Policy what-if (政策测算): the year-end assessment, surplus retention and prepayment of one batch and cycle
year re-run under another policy, compared institution by institution.

A bureau that considers changing a threshold — the minimum completion, the non-selected share limit, a
score band, a retention tier, the prepayment ratio — wants to know before it publishes the notice who would
pass or fail instead and what it would cost the fund. For (batch b, cycle year k, as-of date D) the existing
measures run twice on the same data, once under the **current** policy (the one the batch names, or
``--policy``'s base) and once under the **alternative**:

* :func:`jicai.assess.assessment.assess` — pass/fail with its reasons, the score, the retention ratio, the
  reward and the overspend shared;
* :func:`jicai.assess.prepayment.prepayment_ledger` — its last month (ending on D, or the cycle end): the
  prepayment, the cumulative offset and the balance left to recover.

Both are Ibis expressions; their four results are joined per institution in one more expression, so the
comparison runs on whichever engine holds the data (no rows are fetched to compare them) and costs two
assessments and two ledgers — nothing is kept between runs.

Per institution (:data:`COLUMNS`): ``flip`` — ``to_fail`` (合格 → 不合格), ``to_pass`` (不合格 → 合格) or
``same``; the verdict and the reasons (``failed_items_zh``) under each policy; score, retention ratio, reward
and overspend shared under each, with the change of the money (alternative − current, exact to the fen);
prepayment, cumulative offset and balance under each, with their change; and ``parameters_changed`` — the
changed parameters that bear on what changed in the row, each with its value under both policies
("约定采购量最低完成率由 100% 改为 99.9%"). Which parameters bear on what:

=====================================  ==========================================================
what differs in the row                parameters named (when they changed)
=====================================  ==========================================================
the fail items (so the verdict)        ``min_completion``, ``nonselected_share_max``
the score                              the ``score_*`` weights and bands
the retention ratio or the reward      ``retention_tiers``, ``fund_payment_ratio``
the overspend shared                   ``overspend_share``, ``fund_payment_ratio``
the prepayment, offset or balance      ``prepay_ratio``
any of these                           the monitoring basis: ``volume_basis``, ``payment_due``,
                                       ``backup_substitution``, ``supply_problem_exclusion``,
                                       ``special_treatment``
=====================================  ==========================================================

When several parameters changed together the row names every one that bears on it; how much of the change
each one causes — the flips and the money, per city and in total — is apportioned by
:mod:`jicai.analytics.whatif_apportion` (Shapley values over the changed parameters, exact up to four of them;
one at a time beyond, said as such). A row where nothing differs has an empty ``parameters_changed``. Parameters the three computations do not read (supply, fund supervision) are
listed by :func:`ignored_changes` and change nothing.

:func:`what_if_totals` adds the rows up per city (and per batch): institutions, passed under each policy,
flips each way, and every amount under each policy with its change, summed in integer fen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from jicai.analytics import whatif_apportion as apportioning
from jicai.analytics.whatif_apportion import Apportionment
from jicai.assess import assessment as assessment_mod
from jicai.assess import prepayment as prepayment_mod
from jicai.assess.assessment import assess
from jicai.assess.period import AssessmentPeriod, assessment_period
from jicai.assess.prepayment import prepayment_ledger
from jicai.contract.columns import col, cols
from jicai.errors import BilingualError
from jicai.measures.exact import fen, yuan
from jicai.measures.registry import Args, Dims, Measure
from jicai.policy import Policy, load_policy
from jicai.policy.display import row
from jicai.policy.labels import NAMES
from jicai.store import Warehouse

# the parameters the what-if re-runs with: everything the assessment (with retention) and the ledger read
MONITOR_POLICY = assessment_mod.MONITOR_POLICY
POLICY = tuple(dict.fromkeys((*assessment_mod.POLICY, *prepayment_mod.POLICY)))

FLIPS = {"to_fail": ("由合格转为不合格", "passed under the current policy, fails under the alternative"),
         "to_pass": ("由不合格转为合格", "failed under the current policy, passes under the alternative"),
         "same": ("考核结果不变", "the same verdict under both policies (or not assessed)")}
PASSED = {"true": ("合格", "passed"), "false": ("不合格", "failed")}

INPUT_TABLES = tuple(dict.fromkeys((*assessment_mod.INPUT_TABLES, *prepayment_mod.INPUT_TABLES)))
_KEYS = ("institution_code", "institution_name", "region_code", "level", "batch_id", "cycle_year")
# the assessment's and the ledger's columns compared between the policies
_ASSESSED = ("passed", "failed_items", "failed_items_zh", "score", "retention_ratio", "reward", "overspend_shared")
_LEDGER = ("prepayment", "cumulative_offset", "balance")
_CHANGED = ("reward", "overspend_shared", "offset", "balance")  # the money whose change is a column

COLUMNS = cols(
    "institution_code", "institution_name", "region_code", "level", "batch_id", "cycle_year", "as_of", "flip",
    "passed_current", "passed_alt", "failed_items_zh_current", "failed_items_zh_alt", "score_current", "score_alt",
    "retention_ratio_current", "retention_ratio_alt", "reward_current", "reward_alt", "reward_change",
    "overspend_shared_current", "overspend_shared_alt", "overspend_shared_change", "prepayment_current",
    "prepayment_alt", "offset_current", "offset_alt", "offset_change", "balance_current", "balance_alt",
    "balance_change", "parameters_changed",
    as_of=("测算截止日", "last day assessed and of the ledger: the cycle end, or the as-of date before it"),
)
NAMES_ = tuple(c.name for c in COLUMNS)

# the totals of a group (a city, the batch): counts, then every amount under each policy and its change
TOTALS_COLUMNS = (
    *cols("institutions", institutions=("机构数", "institutions compared (agreement or prepayment)")),
    col("passed_current", "现行政策合格数", "institutions that pass under the current policy", kind="int"),
    col("passed_alt", "测算政策合格数", "institutions that pass under the alternative policy", kind="int"),
    *cols("to_fail", "to_pass", "reward_current", "reward_alt", "reward_change", "overspend_shared_current",
          "overspend_shared_alt", "overspend_shared_change", "prepayment_current", "prepayment_alt",
          "offset_current", "offset_alt", "offset_change", "balance_current", "balance_alt", "balance_change"),
)
COUNTS = ("institutions", "passed_current", "passed_alt", "to_fail", "to_pass")
TOTAL_MONEY = tuple(c.name for c in TOTALS_COLUMNS if c.name not in COUNTS)


# -- what changed in the policy ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    """One parameter whose value in force differs between the two policies."""

    name: str
    current: Any
    alt: Any

    @property
    def zh(self) -> str:
        return NAMES[self.name][0]

    def shown(self, policy: Policy, on: date) -> str:
        return shown(policy, self.name, on)

    def text(self, current: Policy, alt: Policy, on: date) -> str:
        """'约定采购量最低完成率由 100% 改为 99.9%' — the values as the policy page shows them."""
        return f"{self.zh}由 {self.shown(current, on)} 改为 {self.shown(alt, on)}"


def labels(current: Policy, alt: Policy) -> tuple[str, str]:
    """The two policies' labels as a reader tells them apart: a file edited from the current one keeps its name
    and edition date, so when the labels are equal each gets its content fingerprint."""
    if current.label != alt.label:
        return current.label, alt.label
    return f"{current.label} · {current.version}", f"{alt.label} · {alt.version}"


def shown(policy: Policy, name: str, on: date) -> str:
    """The value of ``name`` in force on ``on`` as a reader reads it: '99.9%', '次月月底', tiers as '90→50%、80→40%'."""
    r = row(policy.entry(name, on))
    if r.tiers:
        return "、".join(f"{a}→{b}" for a, b in r.tiers)
    return r.value


def changes(current: Policy, alt: Policy, on: date, names: tuple[str, ...] = POLICY) -> list[Change]:
    """The parameters of ``names`` whose values in force on ``on`` differ, in the order of ``names``."""
    out = []
    for n in names:
        a, b = current.value(n, on=on), alt.value(n, on=on)
        if a != b:
            out.append(Change(n, a, b))
    return out


def ignored_changes(current: Policy, alt: Policy, on: date) -> list[Change]:
    """Changed parameters the what-if does not read (supply, fund supervision, volume audit): they change nothing
    here, and the report says so."""
    others = tuple(p for p in dict.fromkeys(e.name for e in current.parameter) if p not in POLICY)
    return changes(current, alt, on, others)


# which figures of a row each parameter bears on (see the module docstring)
_BEARS_ON: dict[str, tuple[str, ...]] = {
    "min_completion": ("verdict",), "nonselected_share_max": ("verdict",),
    "retention_tiers": ("reward",), "fund_payment_ratio": ("reward", "overspend"),
    "overspend_share": ("overspend",), "prepay_ratio": ("ledger",),
    **{p: ("score",) for p in assessment_mod.POLICY if p.startswith("score_")},
    **{p: ("verdict", "score", "reward", "overspend", "ledger") for p in MONITOR_POLICY},
}


# -- the comparison ---------------------------------------------------------------------------------------

def _differs(a: ir.Value, b: ir.Value) -> ir.BooleanValue:
    """``a`` and ``b`` differ, a null counting as a value of its own (null vs null is no difference)."""
    return ((a != b) | (a.isnull() != b.isnull())).fill_null(False)


def _last_month(ledger: ir.Table, on: date, suffix: str) -> ir.Table:
    t = ledger.filter(ledger.month_end == ibis.literal(on))
    return t.select("institution_code", *[t[c].name(f"{'offset' if c == 'cumulative_offset' else c}_{suffix}")
                                          for c in _LEDGER],
                    **({"l_name": t.institution_name, "l_region": t.region_code} if suffix == "current" else {}))


def what_if(wh: Warehouse, batch_id: str, year: int, policy: Policy | None = None,
            alternative: Policy | None = None, as_of: date | None = None) -> ir.Table:
    """Per institution with an agreement (or a prepayment) in (``batch_id``, ``year``): the assessment,
    retention and prepayment under ``policy`` (current) and ``alternative``; see :data:`COLUMNS`.

    ``as_of`` inside the cycle year gives the provisional comparison on the purchases so far (the year's end by
    default); outside it, :class:`jicai.assess.period.AssessmentError`. ``alternative`` None compares the
    policy with itself (nothing changes).
    """
    policy = policy or load_policy()
    alternative = alternative or policy
    period = assessment_period(wh, batch_id, year, as_of)
    on = period.as_of
    a_cur = assess(wh, batch_id, year, policy, as_of)
    a_alt = assess(wh, batch_id, year, alternative, as_of)
    cur = a_cur.select(*_KEYS, **{f"{c}_current": a_cur[c] for c in _ASSESSED})
    alt = a_alt.select(a_id=a_alt.institution_code, **{f"{c}_alt": a_alt[c] for c in _ASSESSED})
    a = cur.join(alt, cur.institution_code == alt.a_id).drop("a_id").rename(a_inst="institution_code")
    # the ledger's last month ends on the assessment's last day
    l_cur = _last_month(prepayment_ledger(wh, batch_id, year, policy, on), on, "current")
    l_alt = _last_month(prepayment_ledger(wh, batch_id, year, alternative, on), on, "alt").rename(
        l_id="institution_code")
    led = l_cur.join(l_alt, l_cur.institution_code == l_alt.l_id).drop("l_id")
    # every institution of the ledger (an agreement, or an imported prepayment) — the assessed ones among them
    t = led.left_join(a, led.institution_code == a.a_inst).drop("a_inst")
    t = t.mutate(institution_name=t.institution_name.fill_null(t.l_name),
                 region_code=t.region_code.fill_null(t.l_region),
                 batch_id=ibis.literal(batch_id, "string"), cycle_year=ibis.literal(period.cycle_year, "int64"),
                 as_of=ibis.literal(on))
    # the money's change in integer fen: the rows hold fen / 100, so the change is exact to the fen
    t = t.mutate(**{f"{c}_change": yuan(fen(t[f"{c}_alt"].fill_null(0.0)) - fen(t[f"{c}_current"].fill_null(0.0)))
                    for c in _CHANGED})
    pc, pa = t.passed_current, t.passed_alt
    t = t.mutate(flip=ibis.cases((pc & ~pa, "to_fail"), (~pc & pa, "to_pass"), else_="same").fill_null("same"))
    t = t.mutate(parameters_changed=_parameters_changed(t, policy, alternative, on))
    return t.select(*NAMES_)


def _parameters_changed(t: ir.Table, current: Policy, alt: Policy, on: date) -> ir.StringValue:
    """The changed parameters that bear on what differs in each row, each with its two values (';'-separated)."""
    differs = {
        "verdict": _differs(t.failed_items_current, t.failed_items_alt) | _differs(t.passed_current, t.passed_alt),
        "score": _differs(t.score_current, t.score_alt),
        "reward": _differs(t.reward_current, t.reward_alt) | _differs(t.retention_ratio_current,
                                                                        t.retention_ratio_alt),
        "overspend": _differs(t.overspend_shared_current, t.overspend_shared_alt),
        "ledger": (_differs(t.prepayment_current, t.prepayment_alt) | _differs(t.offset_current, t.offset_alt)
                   | _differs(t.balance_current, t.balance_alt)),
    }
    text: ir.StringValue = ibis.literal("")
    for c in changes(current, alt, on):
        bears = ibis.literal(False)
        for what in _BEARS_ON[c.name]:
            bears = bears | differs[what]
        text = text + ibis.ifelse(bears, ";" + ibis.literal(c.text(current, alt, on)), "")
    return text.substr(1)


def what_if_totals(rows: ir.Table, by: str = "region") -> ir.Table:
    """The rows of :func:`what_if` added up by city (``"region"``: the first four digits of region_code + 00) or
    for the whole batch (``"batch"``); see :data:`TOTALS_COLUMNS`. Money is summed in integer fen."""
    t = rows.mutate(city_code=rows.region_code.substr(0, 4) + "00")
    keys = ["batch_id", "cycle_year", "city_code"] if by == "region" else ["batch_id", "cycle_year"]
    g = t.group_by(keys).agg(
        institutions=t.institution_code.nunique().cast("int64"),
        passed_current=ibis.ifelse(t.passed_current, 1, 0).fill_null(0).sum().cast("int64"),
        passed_alt=ibis.ifelse(t.passed_alt, 1, 0).fill_null(0).sum().cast("int64"),
        to_fail=ibis.ifelse(t.flip == "to_fail", 1, 0).sum().cast("int64"),
        to_pass=ibis.ifelse(t.flip == "to_pass", 1, 0).sum().cast("int64"),
        **{c: yuan(fen(t[c].fill_null(0.0)).sum()) for c in TOTAL_MONEY},
    )
    return g.select(*keys, *(c.name for c in TOTALS_COLUMNS))


# -- one comparison, as the command, the report and the page use it ---------------------------------------

@dataclass(frozen=True)
class Comparison:
    """A what-if's figures: the changed parameters, every institution's row, the cities' and the batch's totals."""

    batch_id: str
    year: int
    as_of: date
    final: bool  # the whole cycle year (not a provisional comparison)
    current: Policy
    alt: Policy
    changes: list[Change]
    ignored: list[Change]
    rows: list[dict[str, Any]]
    regions: list[dict[str, Any]]
    total: dict[str, Any]
    apportionment: Apportionment | None = None  # each changed parameter's part (None: not asked for)


def _arrow(expr: ir.Table) -> pa.Table:
    return expr.to_pyarrow()


def comparison_of(rows: ir.Table | pa.Table, period: AssessmentPeriod, current: Policy, alt: Policy,
                  execute: Callable[[ir.Table], pa.Table] = _arrow,
                  subsets: ir.Table | pa.Table | BilingualError | None = None) -> Comparison:
    """The :class:`Comparison` of :func:`what_if` rows already computed (Arrow, or a table of a cache, which
    ``execute`` runs: the web's result cache is queried on a cursor of its own). ``subsets``: the rows of
    :func:`jicai.analytics.whatif_apportion.subset_rows` for the same rows (restricted alike), or the error that
    kept them from being computed — the comparison then carries each changed parameter's part."""
    t = ibis.memtable(rows) if isinstance(rows, pa.Table) else rows
    listed = execute(t.order_by("institution_code")).to_pylist()
    regions = execute(what_if_totals(t).order_by("city_code")).to_pylist()
    total = execute(what_if_totals(t, "batch")).to_pylist()
    empty = {c.name: (0 if c.name in COUNTS else 0.0) for c in TOTALS_COLUMNS}
    on = period.as_of
    changed = changes(current, alt, on)
    parts = None
    if isinstance(subsets, BilingualError):
        parts = apportioning.unavailable(subsets)
    elif subsets is not None:
        s = ibis.memtable(subsets) if isinstance(subsets, pa.Table) else subsets
        sums = execute(apportioning.subset_totals(t, s, len(changed))).to_pylist()
        parts = apportioning.apportion(sums, [x.name for x in changed],
                                       [(x.zh, x.shown(current, on), x.shown(alt, on)) for x in changed])
    return Comparison(period.batch_id, period.cycle_year, on, period.final, current, alt,
                      changed, ignored_changes(current, alt, on), listed, regions,
                      {**empty, **(total[0] if total else {})}, parts)


def subsets_of(wh: Warehouse, batch_id: str, year: int, current: Policy, alt: Policy, on: date,
               as_of: date | None = None) -> pa.Table:
    """The what-if of every combination of the changed parameters that the apportionment needs
    (:func:`jicai.analytics.whatif_apportion.subset_rows`)."""
    names = [x.name for x in changes(current, alt, on)]
    return apportioning.subset_rows(wh, batch_id, year, current, alt, names, on, as_of)


def compare(wh: Warehouse, batch_id: str, year: int, current: Policy, alt: Policy,
            as_of: date | None = None, apportion: bool = True) -> Comparison:
    """:func:`what_if` computed once on the warehouse's engine, with its totals (computed on those rows) and,
    with ``apportion``, each changed parameter's part of the change (one more what-if per combination)."""
    period = assessment_period(wh, batch_id, year, as_of)
    rows = what_if(wh, batch_id, year, current, alt, as_of).to_pyarrow()
    subsets: pa.Table | BilingualError | None = None
    if apportion:
        try:
            subsets = subsets_of(wh, batch_id, year, current, alt, period.as_of, as_of)
        except BilingualError as exc:  # a combination that cannot be computed: the what-if stands without parts
            subsets = exc
    return comparison_of(rows, period, current, alt, subsets=subsets)


# -- the registered measures ------------------------------------------------------------------------------

@dataclass(frozen=True)
class WhatIfArgs(Args):
    """:class:`Args` with the alternative policy (None: the policy itself, which changes nothing)."""

    alternative: Policy | None = None


def alternative_of(policy: Policy, overrides: str) -> Policy:
    """``policy`` with the parameters of ``overrides`` — TOML text such as ``min_completion = 0.999`` — replaced
    (validated as in a policy file). The scenario files give their alternative this way."""
    import tomllib

    from jicai.policy.checked import with_checked

    return with_checked(policy, tomllib.loads(overrides))


def what_if_rows(wh: Warehouse, batch_id: str, year: int, alternative: str, policy: Policy | None = None,
                 as_of: date | None = None) -> ir.Table:
    """:func:`what_if` with the alternative given as overrides of ``policy`` (:func:`alternative_of`)."""
    policy = policy or load_policy()
    return what_if(wh, batch_id, year, policy, alternative_of(policy, alternative), as_of)


def what_if_region_rows(wh: Warehouse, batch_id: str, year: int, alternative: str, policy: Policy | None = None,
                        as_of: date | None = None) -> ir.Table:
    """:func:`what_if_totals` by city of :func:`what_if_rows`."""
    return what_if_totals(what_if_rows(wh, batch_id, year, alternative, policy, as_of))


def what_if_apportioned_rows(wh: Warehouse, batch_id: str, year: int, alternative: str,
                             policy: Policy | None = None, as_of: date | None = None) -> ir.Table:
    """Each changed parameter's part of the change (:mod:`jicai.analytics.whatif_apportion`), in total
    (``city_code`` blank) and per city, of :func:`what_if_rows`' comparison: the lines the report, the page and
    the API show, with the batch, the year and the method."""
    policy = policy or load_policy()
    c = compare(wh, batch_id, year, policy, alternative_of(policy, alternative), as_of)
    parts = c.apportionment or apportioning.Apportionment("none")
    rows = [{"batch_id": batch_id, "cycle_year": c.year, "method": parts.method, **r} for r in parts.rows()]
    return ibis.memtable(pa.Table.from_pylist(rows, schema=apportioning.ROW_SCHEMA))


def _rows(wh: Warehouse, a: Args) -> ir.Table:
    return what_if(wh, a.batch, a.year, a.policy, getattr(a, "alternative", None), a.as_of)


_PARAMS = ("batch", "year", "as_of")
ROLES = ("admin", "bureau")  # a what-if is the bureau's own question, not a result anyone is judged on
LABELS = {"flip": FLIPS, "passed_current": PASSED, "passed_alt": PASSED}
MONEY = ("reward_current", "reward_alt", "reward_change", "overspend_shared_current", "overspend_shared_alt",
         "overspend_shared_change", "prepayment_current", "prepayment_alt", "offset_current", "offset_alt",
         "offset_change", "balance_current", "balance_alt", "balance_change")

MEASURES = (
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="what-if", title_zh="政策测算", title_en="Policy what-if", compute=_rows, params=_PARAMS,
        optional=("as_of",), inputs=INPUT_TABLES, columns=COLUMNS,
        dims=Dims(institution="institution_code", region="region_code"), roles=ROLES,
        sort=("institution_code",), policy=POLICY, labels=LABELS, totals=MONEY, group="assessment",
        note_zh="同一批次、年度在现行政策与测算政策下的考核结果、结余留用奖励与预付冲抵对比(每家机构一行)",
        note_en="Per institution: assessment, retention reward and prepayment offsets under the current and an "
                "alternative policy",
        # the command is hand-written (commands/what_if.py: it takes the alternative policy); the page is /what-if
        doc=__doc__ or "", web=False,
    ),
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="what-if-by-region", title_zh="政策测算分地区汇总", title_en="Policy what-if by city",
        compute=lambda wh, a: what_if_totals(_rows(wh, a)), params=_PARAMS, optional=("as_of",),
        inputs=INPUT_TABLES, columns=(*cols("batch_id", "cycle_year", "city_code"), *TOTALS_COLUMNS),
        dims=Dims(region="city_code"), roles=ROLES, sort=("batch_id", "cycle_year", "city_code"), policy=POLICY,
        totals=(*COUNTS, *TOTAL_MONEY), group="assessment",
        note_zh="每地市一行:合格数(两种政策)、转为不合格与转为合格的机构数、奖励与预付冲抵的变化;合计为全批次",
        note_en="One row per city: passes under each policy, flips each way, the change of rewards and offsets",
        doc=__doc__ or "", command=False, web=False,
    ),
)

__all__ = ["COLUMNS", "Apportionment", "Change", "Comparison", "MEASURES", "compare", "comparison_of", "subsets_of", "labels", "POLICY", "TOTALS_COLUMNS", "WhatIfArgs", "alternative_of", "changes",
           "ignored_changes", "shown", "what_if", "what_if_apportioned_rows", "what_if_rows", "what_if_totals"]
