"""The measure registry holds every measure consistently, and what it generates works for any measure.

These tests are generic over the registry: a measure added through it (one module, one scenario folder) is
checked here without a line of test code — its declaration, its columns on a real engine, its command, its
docs — and a bureau's own package registering through the ``jicai.measures`` entry point gets the same.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

from jicai.analytics.deciles import PeerGroup
from jicai.contract.arrow import empty
from jicai.contract.columns import KINDS, VOCABULARY
from jicai.contract.tables import TABLES
from jicai.errors import BilingualError
from jicai.measures.registry import PARAMS, Args, Measure, RegistryError, measures
from jicai.policy import load_policy

ROOT = Path(__file__).resolve().parents[1]
ALL = sorted(measures())
# arguments for a run on an empty warehouse: any valid value of each parameter
SAMPLE = {"as_of": date(2024, 6, 30), "batch": "B1", "year": 1, "month": "2024-06", "period": "2024",
          "quarter": "2024Q2", "peers": PeerGroup.of("样例组", ["H1", "H2"])}  # peers: a resolved saved group


def test_the_builtin_packages_register_through_the_entry_point():
    from importlib.metadata import entry_points

    groups = {ep.value for ep in entry_points(group="jicai.measures")}
    assert {"jicai.measures", "jicai.assess", "jicai.fund"} <= groups
    assert "listing" in measures()


@pytest.mark.parametrize("name", ALL)
def test_declaration_is_complete(name):
    m = measures()[name]
    assert m.title_zh and m.title_en and m.inputs and m.columns
    assert set(m.inputs) <= set(TABLES) | {"monitor_results"}, "inputs must be contract tables"
    policy = load_policy()
    declared = {p.name for p in policy.parameter}
    assert set(m.policy) <= declared, f"{name} reads undeclared policy parameters"
    for c in m.columns:
        assert c.kind in KINDS
        if c.kind in ("enum", "flags"):
            assert c.name in m.labels, f"{name}.{c.name}: a coded column needs the names of its codes"
    for col, names in m.labels.items():
        assert all(len(v) == 2 and v[0] for v in names.values()), f"{name}.{col}: (zh, en) for every code"


@pytest.mark.parametrize("name", ALL)
def test_computes_its_declared_columns_on_an_empty_warehouse(name):
    """On DuckDB with every contract table empty, a measure returns no rows and exactly its columns — or a
    bilingual error saying why it cannot (an unknown batch), never another exception."""
    from jicai.store import connect

    m = measures()[name]
    wh = connect("duckdb://")
    for t in TABLES:
        wh.write_table(t, empty(t))
    args = Args(load_policy(), **{p: SAMPLE[p] for p in m.params})
    try:
        got = m.rows(wh, args).to_pyarrow()
    except BilingualError as exc:
        assert exc.zh and exc.en
        return
    assert got.schema.names == m.column_names
    assert got.num_rows == 0


def test_a_declaration_naming_unknown_columns_is_refused():
    from jicai.contract.columns import cols
    from jicai.measures.registry import Dims

    with pytest.raises(RegistryError) as e:
        Measure("x", "甲", "x", lambda wh, a: None, ("as_of",), ("orders",), cols("institution_code"),
                Dims(region="region_code"), sort=("month",))
    assert "region_code" in e.value.en and "month" in e.value.en and e.value.zh
    with pytest.raises(RegistryError):
        Measure("x", "甲", "x", lambda wh, a: None, ("day",), ("orders",), cols("institution_code"), Dims())


def test_vocabulary_labels_are_chinese_and_kinds_known():
    for name, c in VOCABULARY.items():
        assert c.name == name and c.kind in KINDS and c.en
        assert any("\u4e00" <= ch <= "\u9fff" for ch in c.zh), f"{name}: the label a reader sees is Chinese"


def test_params_have_an_option_and_labels():
    for p in PARAMS.values():
        assert p.option.startswith("--") and p.zh and p.en


def test_catalogue_is_current():
    from jicai.reports.catalog import DOC, render_into

    text = DOC.read_text(encoding="utf-8")
    assert render_into(text) == text, "docs/measures.md is stale: run python -m jicai.reports.catalog"
    for name in ALL:
        assert f"### `{name}`" in text


def test_every_measure_with_a_command_is_on_the_cli():
    from jicai.cli import app

    names = {c.name for c in app.registered_commands}
    for m in measures().values():
        if m.command:
            assert m.command_name in names, f"no command for {m.name}"


def test_a_bureau_package_adds_a_measure_through_the_entry_point(tmp_path):
    """A package outside jicai declares a measure and registers it in its metadata: the CLI gets its command,
    the web its dataset, the catalogue its section — jicai itself unchanged."""
    pkg = tmp_path / "bureau_measures"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent('''
        from jicai.contract.columns import cols
        from jicai.measures.registry import Dims, Measure

        def _count(wh, a):
            i = wh.table("institutions")
            return i.group_by("region_code").agg(institutions=i.count())

        MEASURES = (Measure("institution-count", "机构数量", "Institutions per region", _count, (),
                            ("institutions",), cols("region_code", "institutions"), Dims(region="region_code"),
                            sort=("region_code",), note_zh="各区划机构数"),)
    '''), encoding="utf-8")
    dist = tmp_path / "bureau_measures-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bureau-measures\nVersion: 1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[jicai.measures]\nbureau = bureau_measures\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT / "src"),
                                                       os.environ.get("PYTHONPATH", "")])}
    code = textwrap.dedent('''
        from jicai.measures.registry import measures
        from jicai.web.datasets import DATASETS
        from jicai.reports.catalog import render_measures
        assert "institution-count" in measures() and "listing" in measures()
        assert DATASETS["institution-count"].title_zh == "机构数量"
        assert "### `institution-count`" in render_measures()
        print("ok")
    ''')
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr[-2000:]
    data = tmp_path / "data"
    res = subprocess.run([sys.executable, "-m", "jicai.cli", "--data-dir", str(data), "institution-count",
                          "--format", "csv", "--out", str(tmp_path / "n.csv")], env=env, capture_output=True,
                         text=True, timeout=300)
    # an empty data directory: the generated command names the missing table, in both languages
    assert res.returncode == 2 and "institutions" in res.stderr and "缺少" in res.stderr, res.stderr[-2000:]
