"""What the command line prints, read at 80 columns as on a bureau's terminal: help that wraps instead of ending
in "…", an error said once (in Chinese and English, its detail under both lines, not pasted into each), result
tables that fold a long name onto the next line instead of cutting it."""

from __future__ import annotations

import re

import click
import pytest
import typer
from typer.testing import CliRunner

from jicai.cli import app

NARROW = {"COLUMNS": "80", "TERMINAL_WIDTH": "80"}


def _commands() -> list[list[str]]:
    """The path of every command and group: [], ["policy"], ["policy", "show"], ["assess"]…"""
    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(cmd, path: list[str]) -> None:
        paths.append(path)
        for name, sub in _subcommands(cmd).items():
            walk(sub, [*path, name])

    walk(root, [])
    return paths


def _subcommands(cmd) -> dict:
    ctx = click.Context(cmd)
    names = cmd.list_commands(ctx) if hasattr(cmd, "list_commands") else []
    return {n: cmd.get_command(ctx, n) for n in names}


def _flat(text: str) -> str:
    return re.sub(r"[\s│╭╮╰╯─┃━]+", "", text)


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "jicai")
def test_help_at_80_columns_is_whole(path):
    r = CliRunner().invoke(app, [*path, "--help"], env=NARROW)
    assert r.exit_code == 0, r.output
    assert max(len(line) for line in r.output.splitlines()) <= 80
    cmd = typer.main.get_command(app)
    for name in path:
        cmd = _subcommands(cmd)[name]
    shown = _flat(r.output)
    # the command's own first paragraph, each option's help, each subcommand's first paragraph: all whole
    own = [cmd.help or ""] + [p.help or "" for p in cmd.params if getattr(p, "help", None)]
    own += [(c.help or "") for c in _subcommands(cmd).values()]
    for text in own:
        first = text.split("\n\n")[0].split("\f")[0]
        assert _flat(first) in shown, (path, first)


def test_an_error_is_printed_once(tmp_path):
    r = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "simulate", "--out", str(tmp_path / "x"),
                                 "--institutions", "5"], env=NARROW)
    assert r.exit_code == 2
    assert r.output.count("institutions must be at least 40") == 1, r.output
    assert "错误：参数错误" in r.output and "Error: bad argument" in r.output


def test_an_invalid_policy_file_is_reported_once(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('id = "x"\n[[parameter]]\nname = "volume_basis"\nvalue = "weekly"\n', encoding="utf-8")
    r = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "policy", "show", str(f)], env=NARROW)
    assert r.exit_code == 1
    assert r.output.count("3 validation errors for Policy") == 1, r.output
    assert r.output.count("政策文件无效") == 1 and r.output.count("invalid policy") == 1


def _column(output: str, j: int) -> str:
    """The text of the ``j``-th column of a rich table's body, its folded lines joined back in order."""
    rows = [line.split("│")[1:-1] for line in output.splitlines() if line.startswith("│")]
    return "".join(r[j].strip() for r in rows if len(r) > j)


def test_result_tables_fold_long_names_at_80_columns(tmp_path):
    name = "institutions_from_the_quanzhou_bureau_of_the_year_2024_with_a_long_name.csv"
    f = tmp_path / name
    f.write_text("institution_code,name,region_code,level,kind,public,sentinel\n"
                 "H1,福建医科大学附属第二医院泉州东海院区,999999,3,hospital,true,false\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "d"), "import", str(f)], env=NARROW)
    assert r.exit_code == 0, r.output
    assert "…" not in r.output
    assert name in _column(r.output, 0)
    q = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "d"), "quarantine"], env=NARROW)
    assert "…" not in q.output and max(len(line) for line in q.output.splitlines()) <= 80
    assert name in _column(q.output, 1)
