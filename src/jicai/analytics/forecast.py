"""The 报量 assistant (报量助手): per institution × variety, the forecast use of cycle year k from its monthly
history, the recommended report with the policy floor, and the report filed against both.

**History.** The accepted volume (accepted_quantity × units_per_pack, every product of the variety — the use the
volume audit counts) of each calendar month, aggregated by the engine (Ibis). The history ends with the last
complete month before both the month of the start of cycle year k and the as-of date D (a month is complete
when its last day is ≤ D); it starts at the institution's first month with use of the variety, at most
:data:`~jicai.analytics.forecast_fit.MAX_MONTHS` months back; a month without use after that is 0.

**Forecast.** The months from the end of the history through the 12 months of cycle year k (the 12 calendar
months from the month of its start) are forecast in Python by :func:`jicai.analytics.forecast_fit.forecast_path`
(``seasonal`` Holt–Winters for ≥ 24 months, ``last_year``'s same months for 12–23, the ``run_rate`` of
the months for 1–11); ``forecast_volume`` is the sum of the 12 cycle months, rounded half up to whole units.

**Floor and recommendation** (the 11th national batch: 年度需求量原则上不少于近两年平均使用量的 80%).
``prior_annual_use`` = 12 × the mean monthly use of the last ``report_floor_years`` × 12 months of the history
(of all of it when shorter); ``floor_volume`` = the smallest whole volume ≥ ``report_floor_ratio`` ×
``prior_annual_use``; ``recommended_volume`` = max(forecast, floor), with ``basis`` ``by_floor`` when the floor
is higher, else ``by_forecast``.

**The report against both** (the latest volume report of (batch, k), if any), flags in this order:

* ``below_floor`` 报量低于下限: reported < ``floor_volume`` (the notice asks for a written explanation);
* ``below_forecast`` 报量远低于预测: reported < (1 − ``forecast_shortfall_ratio``) × ``forecast_volume``
  (exactly that much lower is not flagged).

``report_gap`` is what to add to reach the recommendation. A report without any history gets a row with method
``no_history`` and no forecast; a missing report gets no flag here (the volume audit's 用而不报 covers it). This is
where ``jicai audit-volume``'s "far below the forecast" lives: the audit (layer 3) may not import analytics.

**Bound.** Python sees only the aggregated series: at most 60 monthly totals per institution × variety of one
batch, plus one report row per pair. Fitting costs about 12 ms per series of two years or more (the shorter ones
need no fit) on a 2-core machine (docs/rules.md), so 10^4 pairs take about two minutes: the assistant is for a city or a
province's batch at a time, computed in the background, not for the nation in one call.

>>> from jicai.store import connect
>>> from jicai.contract.arrow import empty
>>> from datetime import date
>>> wh = connect("duckdb://")
>>> for name in INPUT_TABLES: _ = wh.write_table(name, empty(name))
>>> volume_forecast(wh, "B1", 2, date(2024, 12, 31)).to_pyarrow().num_rows
0
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import ibis
import ibis.expr.types as ir

from jicai.analytics.forecast_fit import (
    MAX_MONTHS,
    METHODS,
    SEASON,
    floor_volume,
    forecast_path,
    round_volume,
)
from jicai.calendar import add_years, month_end, month_label, shift_month
from jicai.contract.columns import cols
from jicai.measures.registry import Dims, Measure
from jicai.policy import Policy, load_policy
from jicai.store import Warehouse

INPUT_TABLES = ("batches", "varieties", "products", "orders", "deliveries", "volume_reports")

FLAGS: dict[str, tuple[str, str]] = {
    "below_floor": ("报量低于下限", "reported < floor_volume (report_floor_ratio × average prior use)"),
    "below_forecast": ("报量远低于预测", "reported < (1 − forecast_shortfall_ratio) × forecast_volume"),
}
BASES: dict[str, tuple[str, str]] = {
    "by_forecast": ("按预测用量", "the forecast is at or above the floor"),
    "by_floor": ("按报量下限", "the floor (report_floor_ratio × average prior use) is above the forecast"),
}

COLUMNS = cols(
    "institution_code", "batch_id", "variety_id", "cycle_year", "history_months", "last_history_month", "method",
    "forecast_volume", "prior_annual_use", "floor_volume", "recommended_volume", "basis", "reported_volume",
    "ratio", "report_gap", "flags", "flags_zh",
    cycle_year=("采购年度", "cycle year k the forecast and the report are for"),
    reported_volume=("报送采购量", "the latest volume report for (batch, k); null when none"),
    ratio=("报量/预测(倍)", "reported / forecast_volume (null without a report or when the forecast is 0)"),
    flags=("报量提示", "`;`-separated flag codes: below_floor, below_forecast"),
    flags_zh=("提示说明", "the flags in Chinese: 报量低于下限;报量远低于预测"),
)

_SCHEMA = {
    "institution_code": "string", "batch_id": "string", "variety_id": "string", "cycle_year": "int64",
    "history_months": "int64", "last_history_month": "string", "method": "string", "forecast_volume": "float64",
    "prior_annual_use": "float64", "floor_volume": "float64", "recommended_volume": "float64", "basis": "string",
    "reported_volume": "float64", "ratio": "float64", "report_gap": "float64", "flags": "string",
    "flags_zh": "string",
}


def history_bounds(cycle_start: date, as_of: date) -> tuple[date, date]:
    """[first, end) of the months a history may come from: ``end`` is the first day after the last complete
    month before both the cycle's month and ``as_of``; ``first`` is :data:`MAX_MONTHS` months before it.

    >>> history_bounds(date(2025, 1, 1), date(2024, 11, 15))
    (datetime.date(2019, 11, 1), datetime.date(2024, 11, 1))
    >>> history_bounds(date(2025, 1, 1), date(2024, 11, 30))[1], history_bounds(date(2025, 1, 1), date(2026, 3, 5))[1]
    (datetime.date(2024, 12, 1), datetime.date(2025, 1, 1))
    """
    last_complete_end = shift_month(as_of, 1) if as_of == month_end(as_of) else shift_month(as_of, 0)
    end = min(shift_month(cycle_start, 0), last_complete_end)
    return shift_month(end, -MAX_MONTHS), end


def monthly_use(wh: Warehouse, batch_id: str, first: date, end: date) -> ir.Table:
    """Accepted use per institution × variety of the batch × calendar month in [first, end): the only rows the
    Python part reads."""
    v = wh.table("varieties")
    v = v.filter(v.batch_id == batch_id).select("variety_id")
    p = wh.table("products")
    p = p.filter(p.variety_id.notnull()).select("product_code", "variety_id", "units_per_pack").join(v, "variety_id")
    d = wh.table("deliveries")
    lo, hi = datetime.combine(first, time()), datetime.combine(end, time())
    d = d.filter(d.accepted_at.notnull() & d.accepted_quantity.notnull()
                 & (d.accepted_at >= ibis.literal(lo)) & (d.accepted_at < ibis.literal(hi)))
    d = d.select("order_line_id", "accepted_at", "accepted_quantity")
    o = wh.table("orders").select("order_line_id", "institution_code", "product_code")
    j = o.join(d, "order_line_id").join(p, "product_code")
    j = j.select("institution_code", "variety_id", y=j.accepted_at.year().cast("int64"),
                 m=j.accepted_at.month().cast("int64"), volume=(j.accepted_quantity * j.units_per_pack).cast("float64"))
    return j.group_by(["institution_code", "variety_id", "y", "m"]).agg(volume=j.volume.sum())


def _latest_reports(wh: Warehouse, batch_id: str, k: int) -> dict[tuple[str, str], float | None]:
    r = wh.table("volume_reports")
    r = r.filter((r.batch_id == batch_id) & (r.cycle_year == k)).select(
        "institution_code", "variety_id", "reported_at", reported=r.reported_volume.cast("float64"))
    rows = r.to_pyarrow().to_pylist()
    rows.sort(key=lambda x: (x["reported_at"] is not None, x["reported_at"] or datetime.min))
    return {(x["institution_code"], x["variety_id"]): x["reported"] for x in rows}  # the latest wins


def _index(d: date) -> int:
    return d.year * 12 + d.month - 1


def forecast_row(series: list[float], last: date | None, cycle_start: date, policy_values: dict[str, Any],
                 reported: float | None) -> dict[str, Any]:
    """Every computed column of one institution × variety: ``series`` its monthly use (first month with use
    to the end of the history, oldest first), ``last`` the first day of its last month."""
    ratio, years, shortfall = (policy_values[k] for k in ("report_floor_ratio", "report_floor_years",
                                                          "forecast_shortfall_ratio"))
    row: dict[str, Any] = {"history_months": len(series), "last_history_month": month_label(last) if last else None,
                           "method": "no_history", "forecast_volume": None, "prior_annual_use": 0.0, "floor_volume": 0.0,
                           "recommended_volume": None, "basis": None, "reported_volume": reported, "ratio": None,
                           "report_gap": None, "flags": "", "flags_zh": ""}
    if not series or last is None:
        return row
    ahead = _index(cycle_start) - _index(last) - 1  # months between the history and the cycle
    path = forecast_path(series, ahead + SEASON)
    forecast = round_volume(sum(path.months[ahead:ahead + SEASON]))
    recent = series[-SEASON * years:]
    prior = SEASON * sum(recent) / len(recent)
    floor = floor_volume(ratio, prior)
    recommended = max(forecast, floor)
    row.update(method=path.method, forecast_volume=forecast, prior_annual_use=prior, floor_volume=floor,
               recommended_volume=recommended, basis="by_floor" if floor > forecast else "by_forecast")
    if reported is not None:
        fired = [code for code, hit in (("below_floor", reported < floor),
                                        ("below_forecast", reported < (1.0 - shortfall) * forecast)) if hit]
        row.update(ratio=reported / forecast if forecast > 0 else None, report_gap=max(0.0, recommended - reported),
                   flags=";".join(fired), flags_zh=";".join(FLAGS[c][0] for c in fired))
    return row


def volume_forecast(wh: Warehouse, batch_id: str, cycle_year: int, as_of: date,
                    policy: Policy | None = None) -> ir.Table:
    """The 报量 assistant's rows for cycle year ``cycle_year`` of ``batch_id`` with the data known on ``as_of``."""
    policy = policy or load_policy()
    values = {k: policy.value(k) for k in ("report_floor_ratio", "report_floor_years", "forecast_shortfall_ratio")}
    k = int(cycle_year)
    b = wh.table("batches")
    starts = b.filter(b.batch_id == batch_id).select("start_date").to_pyarrow().column("start_date").to_pylist()
    if not starts or starts[0] is None:  # an unknown batch has no rows (as every measure of a batch)
        return ibis.memtable([], schema=_SCHEMA)
    cycle_start = add_years(starts[0], k - 1)
    first, end = history_bounds(cycle_start, as_of)

    use: dict[tuple[str, str], dict[int, float]] = {}
    for r in monthly_use(wh, batch_id, first, end).to_pyarrow().to_pylist():
        months = use.setdefault((r["institution_code"], r["variety_id"]), {})
        months[r["y"] * 12 + r["m"] - 1] = months.get(r["y"] * 12 + r["m"] - 1, 0.0) + float(r["volume"] or 0.0)
    reports = _latest_reports(wh, batch_id, k)

    last_index = _index(end) - 1
    rows = []
    used = {key for key, months in use.items() if any(v > 0 for v in months.values())}
    for key in sorted(used | set(reports)):
        months = {m: v for m, v in use.get(key, {}).items() if v > 0}
        series: list[float] = []
        if months:
            series = [use[key].get(m, 0.0) for m in range(min(months), last_index + 1)]
        last = shift_month(end, -1) if series else None
        row = forecast_row(series, last, cycle_start, values, reports.get(key))
        rows.append({"institution_code": key[0], "batch_id": batch_id, "variety_id": key[1], "cycle_year": k, **row})
    return ibis.memtable(rows, schema=_SCHEMA)


MEASURES = (
    Measure(
        warm=False,  # computed when first asked for (web/warmup.py)
        name="volume-forecast", title_zh="报量助手", title_en="Volume report assistant",
        compute=lambda wh, a: volume_forecast(wh, a.batch, a.year, a.as_of, a.policy),
        params=("batch", "year", "as_of"), inputs=INPUT_TABLES, columns=COLUMNS,
        dims=Dims(institution="institution_code", variety="variety_id"),
        roles=("admin", "bureau", "auditor", "institution"), sort=("institution_code", "variety_id"),
        policy=("report_floor_ratio", "report_floor_years", "forecast_shortfall_ratio"),
        labels={"method": METHODS, "basis": BASES, "flags": FLAGS}, group="assessment",
        note_zh="按月度历史用量预测下一采购年度用量,给出不低于近年年均使用量 80% 的建议报量,并标记报量低于下限或远低于预测",
        note_en="forecast of next cycle's use from the monthly history, the recommended report with the 80 % floor, "
                "and reports below the floor or far below the forecast",
        doc=__doc__,
    ),
)
