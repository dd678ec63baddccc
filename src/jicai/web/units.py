"""The unit switch of the dataset pages, the API and the exports (计量单位：最小单位 / DDD).

A dataset whose measure has a variety or a product dimension and volumes in minimum units
(:func:`jicai.analytics.ddd_units.convertible`) can be shown in DDDs too: ``?unit=ddd`` on its page, its API
endpoint and its export. The DDD view is a dataset of its own — the measure with the DDD columns added
(:func:`jicai.analytics.ddd_units.in_ddd`), so the page layout, the API's column descriptions and the workbook
pick the new columns up like any other — whose rows are the base dataset's cached rows joined, in the result
cache, to the factor table (one more small cached result): switching the unit never recomputes a measure.

The supply roll-ups by enterprise and by distributor add products: in DDDs the scorecard's cached rows (the same
month) are converted product by product and added per enterprise or distributor (:func:`converted`,
:mod:`jicai.analytics.ddd_supply`), the products without DDDs counted apart.

The overview's cards (and its tables by batch, level and city) add volumes across varieties: in DDDs each row of
the cached monitoring is converted first, then summed (:func:`monitor_in_ddd`,
:func:`jicai.analytics.ddd_rollups.rollup_ddd`), with the volume that has no DDDs kept apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ibis.expr.types as ir

from jicai.analytics.ddd_units import UNITS, DddUnitError, convertible, factor_rows, in_ddd, unit, with_ddd
from jicai.web.dataset import Dataset, DatasetError

__all__ = ["UNITS", "apply", "code", "converted", "monitor_in_ddd", "summed", "switchable"]


def switchable(ds: Dataset) -> bool:
    """Whether ``ds`` has the unit switch (its page shows it, its endpoint takes ``unit``)."""
    return ds.measure is not None and ds.base is None and convertible(ds.measure)


def summed(ds: Dataset) -> bool:
    """Whether ``ds`` is the DDD view of a roll-up across products (its page says each product is converted
    before the sums, and where the units without DDDs are)."""
    from jicai.analytics import ddd_supply

    return ds.base is not None and ds.base.name in ddd_supply.VIEWS


_VIEWS: dict[str, Dataset] = {}


def _ddd_view(ds: Dataset) -> Dataset:
    if ds.name in _VIEWS and _VIEWS[ds.name].base is ds:
        return _VIEWS[ds.name]
    view = Dataset.of(in_ddd(ds.measure))
    # same name and URL, same scope and roles: only the columns and how the rows are obtained differ
    view = Dataset(ds.name, ds.title_zh, ds.title_en, view.columns, ds.dims, ds.params, view.compute, ds.roles,
                   ds.sort, ds.requires, ds.note_zh, ds.note_en, ds.group, view.measure, base=ds, unit="ddd")
    _VIEWS[ds.name] = view  # one per dataset: the registry is fixed at import
    return view


def code(raw: Any) -> str:
    """The unit asked for (``raw``: the request's ``unit``, None when absent): ``min`` or ``ddd``; another is a
    bilingual :class:`DatasetError` (422)."""
    try:
        return unit(raw)
    except DddUnitError as exc:
        raise DatasetError(exc.zh, exc.en) from None


def apply(ds: Dataset, raw: Any, params: dict[str, Any]) -> tuple[Dataset, dict[str, Any]]:
    """The dataset and arguments for the unit asked for (``raw``: the request's ``unit``, None when absent).
    ``min`` is the dataset itself; ``ddd`` its DDD view, with ``unit`` among the arguments (so that the cache
    keys, the links and the export carry it). A bad unit, or ``ddd`` for a dataset without the switch, is a
    bilingual :class:`DatasetError` (422)."""
    u = code(raw)
    if u == "min":
        return ds, params
    if not switchable(ds):
        from jicai.analytics.ddd_units import why_not

        zh, en = why_not(ds.measure) if ds.measure is not None else ("该数据不能按DDD显示", "no DDD view")
        raise DatasetError(f"不能按DDD显示:{zh}", f"no DDD view: {en}")
    return _ddd_view(ds), {**params, "unit": u}


def _factors(data: Any) -> ir.Table:
    return data.result(("ddd_factors",), factor_rows)


def converted(ds: Dataset, base_rows: ir.Table, data: Any,
              rows_of: Callable[[str], ir.Table] | None = None) -> ir.Table:
    """The base dataset's cached rows with the DDD columns (an expression on the result cache). A supply roll-up
    (by enterprise, by distributor) adds its products: its DDD figures are the cached rows of the scorecard
    (``rows_of("supply-scorecard")``, the same arguments) converted product by product, then added
    (:mod:`jicai.analytics.ddd_supply`)."""
    from jicai.analytics import ddd_supply

    by = ddd_supply.VIEWS.get(ds.base.name)
    if by is not None:
        if rows_of is None:
            raise ValueError(f"{ds.name}: a roll-up's DDD view needs the scorecard's rows")
        return ddd_supply.of_rollup(base_rows, rows_of(ddd_supply.SCORECARD), _factors(data), by)
    return with_ddd(ds.base.measure, base_rows, _factors(data))


def monitor_in_ddd(rows: ir.Table, data: Any) -> ir.Table:
    """Cached monitoring rows (already scoped) with their variety's DDD columns: what a roll-up in DDDs sums."""
    from jicai.measures.registry import measure

    return with_ddd(measure("monitor"), rows, _factors(data))
