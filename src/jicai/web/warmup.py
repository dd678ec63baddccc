"""The figures the server computes before anyone asks: every dataset for its default arguments (as-of = the
last day with an order) but those whose measure says ``warm=False`` (the heavier analyses of
:mod:`jicai.analytics`, computed when first asked for), and the overview, its monthly trend and the ranking of the
province.

:class:`jicai.web.data.DataService` runs :func:`warm` in a background job at startup and again after every
import or workflow decision, so the first view of a page reads cached rows instead of waiting for a measure.
Figures for other arguments (another as-of, a drill-down) are computed when first asked for.
"""

from __future__ import annotations

import logging

from jicai.contract.roles import Principal
from jicai.web.data import DataService
from jicai.web.datasets import DATASETS, DatasetError

log = logging.getLogger("jicai.web")

PROVINCE = Principal(0, "province", "admin", "")


def warm(data: DataService) -> None:
    from jicai.web import views
    from jicai.web.query import resolve_params, rows_of

    def dataset(ds, d, p, a):
        rows_of(ds, resolve_params(ds, {}, d), d)

    # the most visited first (monitoring, overview, ranking), the twelve month ends of the trend last
    steps = [("monitor", lambda d, p, a: dataset(DATASETS["monitor"], d, p, a)), ("overview", views.overview),
             ("ranking", lambda d, p, a: views.ranking_table(d, d.data_end()))]
    steps += [(ds.name, lambda d, p, a, ds=ds: dataset(ds, d, p, a)) for ds in DATASETS.values()
              if ds.name != "monitor" and (ds.measure is None or ds.measure.warm)]  # Measure.warm: see there
    steps.append(("trend", views.trend))
    for name, step in steps:
        try:
            step(data, PROVINCE, None)
        except DatasetError:  # tables not imported: the page says so when asked
            continue
        except Exception:  # noqa: BLE001 - one failing measure must not keep the others cold
            log.exception("precomputing %s failed", name)
