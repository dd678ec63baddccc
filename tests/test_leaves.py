"""The leaf modules every layer may use: bilingual errors (errors.py), Beijing time (clock.py), months, cycle
years and quarters (calendar.py)."""

from __future__ import annotations

import ast
import doctest
import importlib
from pathlib import Path

import pytest

from jicai.errors import BilingualError, MeasureError

SRC = Path(__file__).resolve().parents[1] / "src" / "jicai"


def _builtin_exception_names() -> set[str]:
    import builtins

    return {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}


def _exception_classes() -> list[tuple[str, str]]:
    """(module, class) of every class in src/jicai whose base is a built-in exception or a class named *Error:
    found by reading the sources, so a new exception class is checked without being listed here."""
    builtin = _builtin_exception_names()
    found = []
    for f in sorted(SRC.rglob("*.py")):
        module = ".".join(f.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
                if any(b in builtin or b.endswith("Error") for b in bases):
                    found.append((module, node.name))
    return found


# -- errors -------------------------------------------------------------------------------------------------

def test_a_bilingual_error_reads_in_both_languages():
    e = BilingualError("批次不存在:B9", "no such batch: B9")
    assert (e.zh, e.en) == ("批次不存在:B9", "no such batch: B9")
    assert str(e) == "批次不存在:B9 / no such batch: B9"
    assert e.message("zh") == "批次不存在:B9" and e.message("en") == "no such batch: B9"
    assert e.message("fr") == "批次不存在:B9"  # Chinese is the default language
    assert e.detail() == {"zh": "批次不存在:B9", "en": "no such batch: B9"}


def test_every_exception_class_in_src_is_bilingual():
    classes = _exception_classes()
    names = {c for _m, c in classes}
    # the scan finds the classes it must (a scan that found nothing would pass vacuously)
    assert {"FundError", "DatasetError", "QueryError", "ConfigError", "UserError", "WorkflowError", "MonthError",
            "PolicyNotFound", "FileError", "AssessmentError", "ReportError", "FontMissing", "PdfUnavailable",
            "LoginRefused", "MeasureError"} <= names
    not_bilingual = []
    for module, name in classes:
        cls = getattr(importlib.import_module(module), name)
        if issubclass(cls, BaseException) and not issubclass(cls, BilingualError):
            not_bilingual.append(f"{module}.{name}")
    assert not not_bilingual


@pytest.mark.parametrize(("module", "name", "builtin"), [
    ("jicai.fund", "FundError", ValueError),
    ("jicai.assess.period", "AssessmentError", ValueError),
    ("jicai.measures.supply_base", "MonthError", ValueError),
    ("jicai.web.workflow.users", "UserError", ValueError),
    ("jicai.policy.registry", "PolicyNotFound", LookupError),
    ("jicai.policy.registry", "PolicyConflict", FileExistsError),
    ("jicai.reports.documents", "ReportError", RuntimeError),
    ("jicai.reports.pdf", "PdfUnavailable", RuntimeError),
])
def test_domain_errors_keep_the_builtin_base_their_callers_catch(module, name, builtin):
    assert issubclass(getattr(importlib.import_module(module), name), builtin)


def test_the_errors_built_on_measures_are_measure_errors():
    from jicai.assess.period import AssessmentError
    from jicai.fund import FundError

    assert issubclass(AssessmentError, MeasureError) and issubclass(FundError, MeasureError)


def test_errors_with_their_own_arguments_still_carry_both_messages():
    from jicai.policy.registry import PolicyNotFound
    from jicai.reports.fonts import FontMissing
    from jicai.web.workflow.decisions import WorkflowError

    w = WorkflowError(404, "报告 7 不存在", "report 7 not found")
    assert (w.status, str(w)) == (404, "报告 7 不存在 / report 7 not found")
    p = PolicyNotFound("hb", Path("/d/policies"), ["default"])
    assert "找不到政策 'hb'" in p.zh and "policy 'hb' not found" in p.en and str(p) == f"{p.zh} / {p.en}"
    f = FontMissing()
    assert "中文字体" in f.zh and "no Chinese font" in f.en


def test_the_cli_prints_a_bilingual_error(capsys):
    import typer

    from jicai.console import fail_with

    with pytest.raises(typer.Exit) as e:
        fail_with(MeasureError("统计期月数应不少于 1", "window_months must be at least 1"), code=3)
    assert e.value.exit_code == 3
    err = capsys.readouterr().err
    assert "错误：统计期月数应不少于 1" in err and "Error: window_months must be at least 1" in err


def test_a_measure_error_reaches_the_web_as_a_dataset_error():
    """compute_rows turns any bilingual error of a measure into a DatasetError with the same messages (no
    parsing of str(exc))."""
    import pyarrow as pa

    from jicai.web.datasets import Dataset, DatasetError, compute_rows

    class EmptyWarehouse:  # no batches table: the default policy applies
        def has_table(self, name):
            return False

    def compute(wh, params, policy):
        raise MeasureError("统计期月数应不少于 1", "window_months must be at least 1")

    ds = Dataset(name="x", title_zh="x", title_en="x", columns={"a": ("a", "a")}, dims=None, params=(),
                 compute=compute)
    with pytest.raises(DatasetError) as e:
        compute_rows(ds, EmptyWarehouse(), {}, Path("/nonexistent"))
    assert (e.value.zh, e.value.en) == ("统计期月数应不少于 1", "window_months must be at least 1")

    def ok(wh, params, policy):
        return pa.table({"b": [1], "a": [2]})

    assert compute_rows(Dataset(name="y", title_zh="y", title_en="y", columns={"a": ("a", "a")}, dims=None,
                                params=(), compute=ok), EmptyWarehouse(), {}, Path("/nonexistent")).column_names == ["a"]


@pytest.mark.parametrize("module", ["jicai.errors"])
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
