"""Layers only point down (issue 11): a module of src/jicai imports only from its own layer or a lower one,
and every module imports on its own — no import works only because another module happened to load first.

The layers, low to high (docs/architecture.md): the leaves; store, policy, settings; ingest, simulate;
measures; the domain computations; workflow; reports; web; commands; cli.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# top-level name under jicai -> layer (lower number = lower layer). A new package must be placed here.
RANK = {
    "contract": 0, "errors": 0, "clock": 0, "calendar": 0, "console": 0,
    "store": 1, "policy": 1, "settings": 1,
    "ingest": 2, "simulate": 2,
    "measures": 3,
    "assess": 4, "fund": 4, "supply": 4, "analytics": 4, "alerts": 4,
    "workflow": 5,
    "reports": 6,
    "web": 7,
    "commands": 8,
    "cli": 9,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top(module: str) -> str | None:
    """The layer name of a ``jicai.*`` module (None for jicai itself and for other packages)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "jicai" and len(parts) > 1 else None


def _imported(module: str, is_package: bool, tree: ast.AST) -> list[tuple[int, str]]:
    """(line, imported module) for every import in ``tree``, at any depth (an import inside a function
    reaches up just the same). ``from jicai import web`` counts as importing ``jicai.web``."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            # a name imported from a package may be a submodule: `from jicai import web`
            found += [(node.lineno, f"{target}.{a.name}" if target == "jicai" else target) for a in node.names]
    return found


def upward_imports(module: str, source: str, is_package: bool = False) -> list[tuple[str, int]]:
    """The imports of ``module`` that reach a higher layer: (``module -> target``, line)."""
    mine = _top(module)
    bad = []
    for line, target in _imported(module, is_package, ast.parse(source)):
        other = _top(target)
        if other in RANK and mine in RANK and RANK[other] > RANK[mine]:
            bad.append((f"{module} -> {target}", line))
    return bad


def _sources() -> list[Path]:
    return sorted((SRC / "jicai").rglob("*.py"))


def test_every_part_of_jicai_has_a_layer():
    tops = {_top(_module_name(p)) for p in _sources()} - {None}
    assert tops - RANK.keys() == set(), "place the new package in RANK (tests/test_layers.py) and the layer docs"


# Upward imports being removed elsewhere; strict: an entry that no longer occurs fails the test, so that it
# is deleted with its cause.
KNOWN_UPWARD: set[str] = set()  # edges allowed to point up (none)


def test_no_module_imports_from_a_higher_layer():
    found = []
    for path in _sources():
        found += upward_imports(_module_name(path), path.read_text(encoding="utf-8"), path.name == "__init__.py")
    bad = [f"{edge} (line {line})" for edge, line in found if edge not in KNOWN_UPWARD]
    assert bad == [], "upward imports (move the code to the right layer):\n" + "\n".join(bad)
    gone = KNOWN_UPWARD - {edge for edge, _ in found}
    assert gone == set(), f"no longer upward, remove from KNOWN_UPWARD: {sorted(gone)}"


def test_the_check_sees_upward_imports_at_any_depth_and_in_every_form():
    source = (
        "from jicai.store import connect\n"  # down: fine
        "from jicai.reports import lists\n"  # line 2: up
        "from jicai import web\n"  # line 3: up, spelled as a name of jicai
        "def build():\n"
        "    import jicai.commands.demo\n"  # line 5: up, inside a function
        "    from .. import measures\n"  # line 6: relative, from jicai.policy.example → jicai.measures: up
        "    from . import models\n"  # same package: fine
    )
    assert upward_imports("jicai.policy.example", source) == [
        ("jicai.policy.example -> jicai.reports", 2),
        ("jicai.policy.example -> jicai.web", 3),
        ("jicai.policy.example -> jicai.commands.demo", 5),
        ("jicai.policy.example -> jicai.measures", 6),
    ]
    # a package's own relative imports resolve from the package itself
    assert upward_imports("jicai.workflow", "from .db import Workflow\n", is_package=True) == []


# Modules that are not imported as modules: Alembic executes its env script inside a migration context.
NOT_MODULES = {"jicai.workflow.migrations.env"}

# Known failures, each with its reason; the test fails when one of them starts to work (strict), so the
# entry goes when the cause does.
EXPECTED_FAILURES: dict[str, str] = {}  # name → the error expected (none: every module imports on its own)

_IMPORT_EACH = r"""
import importlib, json, pkgutil, sys, traceback

import jicai

failures = {}
names = [m.name for m in pkgutil.walk_packages(jicai.__path__, "jicai.",
                                               onerror=lambda name: failures.setdefault(name, "walk"))]
skip = set(json.loads(sys.argv[1]))
checked = []
for name in ["jicai", *names]:
    if name in skip:
        continue
    # forget every jicai module, keep the third-party ones (importing them again is the slow part)
    for loaded in [m for m in sys.modules if m == "jicai" or m.startswith("jicai.")]:
        del sys.modules[loaded]
    checked.append(name)
    try:
        importlib.import_module(name)
    except BaseException as exc:  # SystemExit from a module is a failure too
        failures[name] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
print(json.dumps({"checked": checked, "failures": failures}))
"""


def test_every_module_imports_on_its_own():
    done = subprocess.run([sys.executable, "-c", _IMPORT_EACH, json.dumps(sorted(NOT_MODULES))],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(
                              [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    checked, failures = result["checked"], result["failures"]
    unexpected = {n: e for n, e in failures.items() if n not in EXPECTED_FAILURES}
    assert unexpected == {}, "modules that do not import on their own:\n" + "\n".join(
        f"{n}: {e}" for n, e in sorted(unexpected.items()))
    # discovery found every module on disk, so a new module is checked without being listed here
    assert set(checked) == {_module_name(p) for p in _sources()} - NOT_MODULES
    for name, why in EXPECTED_FAILURES.items():
        assert name in failures, f"{name} now imports on its own: remove it from EXPECTED_FAILURES"
        assert why in failures[name], failures[name]
