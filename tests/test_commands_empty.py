"""Every computing command on an empty warehouse exits 2 and names the tables to import (zh and en)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from jicai.cli import app

COMMANDS = [
    ["monitor", "--as-of", "2024-06-30"],
    ["assess", "--batch", "B1", "--year", "1"],
    ["prepayment", "--batch", "B1", "--year", "1"],
    ["onboarding", "--as-of", "2024-06-30"],
    ["audit-volume", "--batch", "B1", "--year", "1"],
    ["listing", "--as-of", "2024-06-30"],
    ["catalogue", "--as-of", "2024-06-30"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
def test_empty_warehouse_names_the_missing_tables(tmp_path, args):
    r = CliRunner().invoke(app, ["--data-dir", str(tmp_path), *args])
    text = " ".join(r.output.split())  # the error console wraps long lines
    assert r.exit_code == 2, text
    assert "数据仓库缺少表" in text and "run jicai import first" in text
    assert "batches" in text
