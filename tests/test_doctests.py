"""The ``>>>`` examples in src/jicai run as tests, so a docstring cannot drift from the code it shows.

Modules are found by their text (a line holding ``>>>``), so collecting imports nothing; each test imports
one module and runs every example in it with :mod:`doctest` (``ELLIPSIS`` on, like pytest's doctests). An
example never skips: one that cannot run belongs in prose, not after ``>>>``. Examples use DuckDB only —
importing a module or running its examples must not load PySpark, which a fast run does not start.
"""

from __future__ import annotations

import doctest
import importlib
import sys
from pathlib import Path

import pytest

import jicai

PACKAGE = Path(jicai.__file__).parent  # the jicai being tested (a worktree's src/ when first on the path)


def modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ">>>" in path.read_text(encoding="utf-8"):
            parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = modules_with_examples()


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    spark_before = "pyspark" in sys.modules
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    tried = 0
    for test in doctest.DocTestFinder().find(module, name):
        skipped = [ex.source.strip() for ex in test.examples if ex.options.get(doctest.SKIP)]
        assert not skipped, f"{test.name}: an example that never runs (+SKIP): {skipped}"
        result = runner.run(test, out=report.append, clear_globs=True)
        tried += result.attempted
        assert not result.failed, "".join(report)
    assert tried, f"{name} has '>>>' but doctest found no example in it (one outside a docstring?)"
    if not spark_before:
        assert "pyspark" not in sys.modules, f"importing {name} or running its examples loaded PySpark"


def test_the_modules_are_found():
    """A change to the search (the package path, the pattern) must not silently find nothing."""
    assert {"jicai.measures.exact", "jicai.measures.registry", "jicai.store.warehouse", "jicai.ingest"} <= set(MODULES)
