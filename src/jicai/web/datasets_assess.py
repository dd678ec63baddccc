"""The assessment datasets not yet declared in the measure registry (assessment, prepayment, volume audit).
Deleted as each measure declares itself (issue 11); today they are listed in datasets_execution.py."""

from __future__ import annotations

from jicai.web.dataset import Dataset


def datasets() -> list[Dataset]:
    return []
