"""The supply risk score against the simulator's planted shortage (tests/test_supply_risk_eval.py, docs/supply.md).

The score is computed from the warehouse alone, as of each date; the manifest is read only to grade it:

* **lead time** — for each city of an institution that reported the shortage, the earliest as-of date of the
  weekly run (the report's eve, then every 7 days back) from which the shortage product is flagged (risk_alert)
  at every point up to the report: lead = first report − that date, in days;
* **false positives** — at every month end of the data, flagged rows other than the shortage product between
  its precursor start and the end of the shortage plus one recent window (the window still holds shortage lines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from jicai.analytics.supply_risk import supply_risk
from jicai.calendar import shift_month
from jicai.policy import load_policy
from jicai.simulate import Manifest

WEEKS_BACK = 13


@dataclass
class Evaluation:
    report: date  # first verified report of the shortage
    lead_days: dict[str, int]  # city → days flagged before the report (0: not flagged on its eve)
    flagged_month_before: dict[str, bool]  # city → flagged on the date one month before the report and after
    alerts: int = 0  # flagged rows at the month ends
    false_positives: list[tuple] = field(default_factory=list)


def _rows(wh, d: date, policy) -> list[dict]:
    return supply_risk(wh, d, policy).to_pyarrow().to_pylist()


def evaluate(wh, m: Manifest, policy=None) -> Evaluation:
    policy = policy or load_policy()
    sh = m.one("shortage")
    product = sh.product_codes[0]
    reps = wh.table("supply_problems")
    reps = reps.filter((reps.product_code == product) & reps.verified).to_pyarrow().to_pylist()
    report = min(r["reported_at"] for r in reps).date()
    inst = {r["institution_code"]: r["region_code"][:4] + "00"
            for r in wh.table("institutions").to_pyarrow().to_pylist()}
    cities = sorted({inst[c] for c in sh.institution_codes})

    eve = report - timedelta(days=1)
    grid = [eve - timedelta(days=7 * k) for k in range(WEEKS_BACK)]  # newest first
    flagged = {d: {r["region_code"] for r in _rows(wh, d, policy) if r["product_code"] == product and r["risk_alert"]}
               for d in grid}
    month_before = _month_before(report)
    lead, early = {}, {}
    for c in cities:
        first = None
        for d in grid:
            if c not in flagged[d]:
                break
            first = d
        lead[c] = (report - first).days if first else 0
        early[c] = first is not None and first <= month_before
    ev = Evaluation(report, lead, early)

    start = date.fromisoformat(m.start)
    precursor = date.fromisoformat(sh.expected["precursor_start"])
    until = date.fromisoformat(sh.end) + timedelta(days=int(policy.value("risk_recent_days")))
    d = shift_month(start, 1) - timedelta(days=1)
    while d < date.fromisoformat(m.end):
        for r in _rows(wh, d, policy):
            if not r["risk_alert"]:
                continue
            ev.alerts += 1
            if not (r["product_code"] == product and precursor <= d <= until):
                ev.false_positives.append((d, r["region_code"], r["product_code"], r["risk_score"], r["risk_factors"]))
        d = shift_month(d + timedelta(days=1), 1) - timedelta(days=1)
    return ev


def _month_before(d: date) -> date:
    """The same day one calendar month earlier (the last day of that month when it is shorter)."""
    first = shift_month(date(d.year, d.month, 1), -1)
    nxt = date(d.year, d.month, 1)
    return min(first.replace(day=1) + timedelta(days=d.day - 1), nxt - timedelta(days=1))
