"""No test skips except through conftest's ``unavailable`` — which fails in CI (``CI=true``) instead.

A skip written any other way (``pytest.skip``, ``skipif``, ``importorskip``, ``xfail``) would pass CI with
a test that never ran.
"""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).parent
SKIPPING = re.compile(r"pytest\.skip\(|\bskipif\b|importorskip|mark\.skip\b|\bxfail\b")


def test_every_skip_goes_through_unavailable():
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        if path.name == "conftest.py" and path.parent == TESTS or path == Path(__file__):
            continue  # conftest holds the one helper; this file names the patterns
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if SKIPPING.search(line):
                found.append(f"{path.relative_to(TESTS)}:{n}: {line.strip()}")
    assert not found, "skip through tests.conftest.unavailable(reason) instead:\n" + "\n".join(found)


def test_the_pattern_sees_each_way_of_skipping():
    for line in ('pytest.skip("no font")', "@pytest.mark.skipif(True, reason='x')",
                 'pytest.importorskip("pyspark")', "@pytest.mark.skip", "@pytest.mark.xfail(strict=False)"):
        assert SKIPPING.search(line), line
    assert not SKIPPING.search("unavailable(f'{d} not present')")
