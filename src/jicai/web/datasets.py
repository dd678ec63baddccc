"""Every dataset the pages and the API show: each registered measure with ``web=True``, by name.

The measures declare themselves (:mod:`jicai.measures.registry`); this module only collects them. The
``datasets_*`` modules hold the declarations of measures not yet moved into the registry (issue 11: they are
deleted as their measures declare themselves).
"""

from __future__ import annotations

from jicai.measures.registry import measures
from jicai.web.dataset import PARAMS, Dataset, DatasetError, compute_rows

__all__ = ["DATASETS", "PARAMS", "Dataset", "DatasetError", "compute_rows"]


def _collect() -> dict[str, Dataset]:
    from jicai.web import datasets_execution, datasets_fund

    out = {m.name: Dataset.of(m) for m in measures().values() if m.web}
    for legacy in (datasets_execution, datasets_fund):
        for ds in legacy.datasets():
            out.setdefault(ds.name, ds)
    return out


DATASETS: dict[str, Dataset] = _collect()
