"""The demo province scored against its manifest: what each alert family raises, which of it a planted
situation explains (precision), which planted situation no measure finds (recall), and the headline
figures of the issue (assessment pass rate, year-end statuses).

Used by tests/test_demo_targets.py; ``python tests/helpers_demo.py DATA_DIR`` prints the figures of a
demo built by ``jicai --data-dir DATA_DIR demo --no-serve`` (the before/after numbers of docs/simulator.md).
"""

from __future__ import annotations

import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from jicai.assess.assessment import assess
from jicai.calendar import shift_month
from jicai.fund.budget import budget_progress
from jicai.fund.pharmacy import pharmacy_violations
from jicai.measures.listing import listing_governance
from jicai.measures.monitor import monitor
from jicai.measures.supply import supply_scorecard
from jicai.measures.supply_alerts import sentinel_alerts, surge_alerts
from jicai.measures.volume_audit import volume_audit
from jicai.policy import load_policy
from jicai.simulate import Manifest

DRUG, REAGENT = "GJ-YP-JX", "LM-GG-2024"


@dataclass
class Family:
    """The rows an alert family raised over the data, and those a planted situation explains."""

    raised: int = 0
    explained: int = 0
    unexplained: list = field(default_factory=list)

    def add(self, ok: bool, row: object) -> None:
        self.raised += 1
        self.explained += ok
        if not ok:
            self.unexplained.append(row)

    @property
    def precision(self) -> float:
        return self.explained / self.raised if self.raised else 1.0


@dataclass
class Scores:
    pass_rate: float
    passed: int
    assessed: int
    median_completion: float
    statuses: dict[str, Counter]
    families: dict[str, Family]
    missed: list[str]  # planted situations no measure found: "kind: what"


def _months(m: Manifest) -> list[str]:
    first, end = date.fromisoformat(m.start), date.fromisoformat(m.end)
    out, d = [], first
    while d < end:
        out.append(d.strftime("%Y-%m"))
        d = shift_month(d, 1)
    return out


def _rows(expr) -> list[dict]:
    return expr.to_pyarrow().to_pylist()


def score(wh, m: Manifest) -> Scores:  # noqa: C901 — one checklist, read top to bottom
    pol = load_policy()
    as_of = date.fromisoformat(m.as_of)
    months = _months(m)
    planted = {k: m.of_kind(k) for k in {p.kind for p in m.planted}}
    insts = lambda *kinds: {c for k in kinds for p in planted.get(k, []) for c in p.institution_codes}  # noqa: E731
    missed: list[str] = []

    # -- the assessment and the year-end statuses --------------------------------------------------------
    a = _rows(assess(wh, DRUG, 1, pol))
    passed = sum(r["passed"] for r in a)
    mon = _rows(monitor(wh, as_of, None, pol))
    statuses = {b: Counter(r["status"] for r in mon if r["batch_id"] == b) for b in (DRUG, REAGENT)}
    by_pair = {(r["institution_code"], r["variety_id"]): r for r in mon if r["batch_id"] == DRUG}
    failed = {r["institution_code"] for r in a if not r["passed"]}
    families: dict[str, Family] = {}

    # a failed institution is one the simulator made fail, or one whose only shortfall is the variety of the
    # planted shortage (it was short of the product too, and did not report it)
    fam = families["assessment"] = Family()
    explained_fail = insts("lagging", "zero_purchase", "nonselected_overuse")
    short_v = set(planted["shortage"][0].variety_ids)
    seasonal_v = {v for p in planted.get("seasonal", []) for v in p.variety_ids}
    for r in a:
        if not r["passed"]:
            code = r["institution_code"]
            below = {v for (i, v), x in by_pair.items()
                     if i == code and v not in seasonal_v and x["completion"] is not None and x["completion"] < 1}
            fam.add(code in explained_fail or below <= short_v, (code, r["failed_items_zh"]))
    for p in planted.get("lagging", []):
        for code in p.institution_codes:
            if code not in failed or any(x["status"] not in ("behind", "zero")
                                         for (i, _), x in by_pair.items() if i == code):
                missed.append(f"lagging: {code}")
    for p in planted.get("zero_purchase", []):
        r = by_pair.get((p.institution_codes[0], p.variety_ids[0]))
        if r is None or r["status"] != "zero":
            missed.append(f"zero_purchase: {p.institution_codes[0]} {p.variety_ids[0]}")
    for p in planted.get("nonselected_overuse", []):
        r = by_pair.get((p.institution_codes[0], p.variety_ids[0]))
        if r is None or not r["nonselected_excess"]:
            missed.append(f"nonselected_overuse: {p.institution_codes[0]} {p.variety_ids[0]}")
    for p in planted.get("late_payer", []):
        for code in p.institution_codes:
            due = sum(x["amount_due"] for (i, _), x in by_pair.items() if i == code)
            paid = sum(x["paid_by_due"] for (i, _), x in by_pair.items() if i == code)
            if not due or paid / due > p.expected["payment_rate_max"]:
                missed.append(f"late_payer: {code}")
    for p in planted.get("offline_heavy", []):
        mine = [x for (i, _), x in by_pair.items() if i == p.institution_codes[0]]
        share = sum(x["offline_amount"] for x in mine) / max(1e-9, sum(x["order_amount"] for x in mine))
        if share < 0.3:
            missed.append(f"offline_heavy: {p.institution_codes[0]} {share:.2f}")

    # -- supply: sentinel, surge, scorecard --------------------------------------------------------------
    short = planted["shortage"][0]
    # from the precursor start the product's deliveries already degrade (jicai.simulate.planted): alerts in those
    # weeks are the shortage, seen early
    short_months = {mo for mo in months if short.expected.get("precursor_start", short.start)[:7] <= mo <= short.end[:7]}
    surge = planted.get("surge", [])
    slow = planted["slow_distributor"][0].enterprise_codes[0]
    # the planted selective distributor serves its small customers late: its delivery flags are that plant, seen
    selective = {c for p in planted.get("selective_delivery", []) for c in p.enterprise_codes}
    fam = families["sentinel"] = Family()
    sen = _rows(sentinel_alerts(wh, months[-1], months[0], None, pol))
    for r in sen:
        fam.add(r["product_code"] in short.product_codes and r["month"] in short_months,
                (r["month"], r["product_code"], r["triggers"]))
    if not any(r["product_code"] in short.product_codes for r in sen):
        missed.append("shortage: no sentinel alert")
    # the flu season of the seasonal variety is a surge too: 002 四 wants an epidemic's 短时间需求激增 reported
    # (流行性疾病发生时…确实出现集采品种短时间需求激增的,要积极上报市局)
    flu = [(v, set(p.expected["flu_months"])) for p in planted.get("seasonal", []) for v in p.variety_ids]

    def in_season(variety: str, month: str) -> bool:
        return any(variety == v and int(month[5:7]) in months_ for v, months_ in flu)

    fam = families["surge"] = Family()
    sur = _rows(surge_alerts(wh, months[-1], months[0], pol))
    for r in sur:
        fam.add(any(r["variety_id"] in p.variety_ids and r["region_code"] in p.region_codes and r["month"] == p.start
                    for p in surge) or in_season(r["variety_id"], r["month"]),
                (r["month"], r["region_code"], r["variety_id"], r["surge_ratio"]))
    for p in surge:
        if not any(r["variety_id"] in p.variety_ids and r["month"] == p.start for r in sur):
            missed.append(f"surge: {p.variety_ids} {p.start}")
    fam = families["scorecard"] = Family()
    card = [r for r in _rows(supply_scorecard(wh, months[-1], months[0], None, pol)) if r["flags"]]
    complained = {(c["product_code"], c["month"]) for c in planted["slow_distributor"][0].expected.get("complaints", [])}

    def explained(flag: str, r: dict) -> bool:
        shortage = r["product_code"] in short.product_codes and r["month"] in short_months
        if flag in ("slow_response", "low_delivery_rate"):
            return r["distributor_code"] == slow or r["distributor_code"] in selective or shortage
        if flag == "surge":
            return any(r["variety_id"] in p.variety_ids and r["month"] == p.start for p in surge) or in_season(
                r["variety_id"], r["month"])
        if flag == "multi_institution_complaints":
            return shortage or (r["product_code"], r["month"]) in complained
        return shortage  # sentinel_warning

    for r in card:  # a flagged row is explained when each of its flags is
        fam.add(all(explained(f, r) for f in r["flags"].split(";")),
                (r["month"], r["product_code"], r["distributor_code"], r["flags"], r["delivery_rate"]))
    if not any(r["distributor_code"] == slow and "slow_response" in r["flags"] for r in card):
        missed.append("slow_distributor: no slow_response flag")

    # -- volume audit (cycle year 2 reports, when the data has them) ------------------------------------
    fam = families["volume_audit"] = Family()
    reported = {(c, v): p.kind for k in ("under_reported", "not_reported", "over_reported")
                for p in planted.get(k, []) for c in p.institution_codes for v in p.variety_ids}
    reduced = insts("lagging", "zero_purchase", "nonselected_overuse")  # they buy less than agreed
    if reported:
        audit = [r for r in _rows(volume_audit(wh, DRUG, 2, pol)) if r["flags"]]
        for r in audit:
            key = (r["institution_code"], r["variety_id"])
            ok = key in reported or (r["flags"] == "renewal_below_prior" and r["institution_code"] in reduced)
            fam.add(ok, (*key, r["flags"], r["ratio"]))
        flagged = {(r["institution_code"], r["variety_id"]) for r in audit}
        missed += [f"{k}: {key}" for key, k in reported.items() if key not in flagged]

    # -- listings, pharmacies, budget ----------------------------------------------------------------
    fam = families["listing"] = Family()
    wrong = {c for k in ("listing_wrong_price", "listing_over_2x") for p in planted.get(k, []) for c in p.product_codes}
    lst = _rows(listing_governance(wh, as_of, pol))
    for r in lst:
        if r["finding"]:
            fam.add(r["product_code"] in wrong, (r["product_code"], r["finding"]))
    missed += [f"listing: {c}" for c in wrong if not any(r["product_code"] == c and r["finding"] for r in lst)]
    fam = families["pharmacy"] = Family()
    ph = {c for p in m.planted if p.kind.startswith("pharmacy_") for c in p.institution_codes}
    seen: set[str] = set()
    for mo in months:
        for r in _rows(pharmacy_violations(wh, mo, pol)):
            seen.add(r["pharmacy_code"])
            fam.add(r["pharmacy_code"] in ph, (mo, r["pharmacy_code"], r["kind"]))
    missed += [f"pharmacy: {c}" for c in ph - seen]
    fam = families["budget"] = Family()
    ahead = insts("budget_ahead")
    bud = _rows(budget_progress(wh, as_of, pol))
    for r in bud:
        if r["status"] == "ahead":
            fam.add(r["institution_code"] in ahead, (r["institution_code"], r["spending_progress"]))
    missed += [f"budget_ahead: {c}" for c in ahead
               if not any(r["institution_code"] == c and r["status"] == "ahead" for r in bud)]

    return Scores(pass_rate=passed / len(a), passed=passed, assessed=len(a),
                  median_completion=statistics.median(r["completion"] for r in a if r["completion"] is not None),
                  statuses=statuses, families=families, missed=missed)


def report(s: Scores) -> str:
    lines = [f"assessment {DRUG} year 1: {s.passed}/{s.assessed} pass ({s.pass_rate:.1%}), "
             f"median completion {s.median_completion:.1%}"]
    lines += [f"year-end statuses {b}: {dict(c)}" for b, c in s.statuses.items()]
    for name, f in s.families.items():
        lines.append(f"{name:13} raised {f.raised:5}  explained {f.explained:5}  precision {f.precision:.1%}")
    lines.append(f"missed planted situations: {s.missed or 'none'}")
    return "\n".join(lines)


if __name__ == "__main__":
    from jicai.store import connect

    data = Path(sys.argv[1])
    wh = connect(f"duckdb:///{data / 'jicai.duckdb'}")
    sc = score(wh, Manifest.read(data / "demo" / "dataset" / "manifest.json"))
    print(report(sc))
    for name, f in sc.families.items():
        for row in f.unexplained[:8]:
            print(f"  unexplained {name}: {row}")
