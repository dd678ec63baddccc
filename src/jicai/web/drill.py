"""Drill-down links of the rows of a dataset page: from a figure to what it is made of.

A change event (``change-events``) links to its monthly series — the institution's months of that series with
their values, reference and cumulative sums (``change-series``, filtered to the institution and the series) —
and to the institution's order lines of the event's months, from the month the change started to its last month
in alarm; a month of a series links to the institution's order lines of that month. Order lines are the
institution's lines accepted in those months (the series count accepted volumes and amounts), up to the as-of
date, on the drill-down page every figure uses (``/institutions/<code>/orders``): what scope allows there is what
the links lead to, and a link never widens it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

Link = tuple[str, str, str]  # (中文, English, URL)


def _orders(code: str, first: str | None, last: str | None, as_of: Any) -> str:
    q = {k: v for k, v in (("month_from", first), ("month_to", last), ("as_of", as_of)) if v}
    return f"/institutions/{code}/orders?{urlencode(q)}"


def _event(row: dict, params: dict) -> list[Link]:
    code, as_of = row.get("institution_code"), params.get("as_of")
    series = urlencode({k: v for k, v in (("as_of", as_of), ("institution_code", code),
                                          ("series", row.get("series"))) if v})
    return [("月度序列", "series", f"/data/change-series?{series}"),
            ("订单明细", "order lines", _orders(code, row.get("change_start"), row.get("last_alarm_month"), as_of))]


def _step(row: dict, params: dict) -> list[Link]:
    return [("订单明细", "order lines",
             _orders(row.get("institution_code"), row.get("month"), row.get("month"), params.get("as_of")))]


DRILLS: dict[str, Callable[[dict, dict], list[Link]]] = {"change-events": _event, "change-series": _step}
COLUMN = "drill_down"


def drills(name: str) -> bool:
    return name in DRILLS


def links(name: str, row: dict, params: dict) -> list[Link]:
    """The drill-down links of one row of dataset ``name`` (none for a row without an institution)."""
    if name not in DRILLS or not row.get("institution_code"):
        return []
    return DRILLS[name](row, {k: str(v) for k, v in params.items()})
