"""Every dataset the pages and the API show: each registered measure with ``web=True``, by name.

The measures declare themselves (:mod:`jicai.measures.registry`); this module only collects them, so a measure
registered by any package has its page and API endpoint without a line here.
"""

from __future__ import annotations

from jicai.measures.registry import measures
from jicai.web.dataset import PARAMS, Dataset, DatasetError, compute_rows

__all__ = ["DATASETS", "PARAMS", "Dataset", "DatasetError", "compute_rows"]


def _collect() -> dict[str, Dataset]:
    return {m.name: Dataset.of(m) for m in measures().values() if m.web}


DATASETS: dict[str, Dataset] = _collect()
