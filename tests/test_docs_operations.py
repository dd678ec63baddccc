"""docs/operations.md cannot drift from the commands: ``jicai backup``, ``jicai restore`` and ``jicai doctor``, each
of their options and each of the doctor's checks are named there; and every command of the CLI is named in some
page of docs/ (or the README), so that a new command without documentation fails here."""

from __future__ import annotations

from pathlib import Path

import typer

from jicai.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "operations.md"


def _options(command) -> list[str]:
    return [opt for p in command.params for opt in p.opts if opt.startswith("--") and opt != "--help"]


def test_backup_restore_and_doctor_and_their_options_are_documented():
    text = DOC.read_text(encoding="utf-8")
    root = typer.main.get_command(app)
    missing = []
    for name in ("backup", "restore", "doctor"):
        if f"`jicai {name}" not in text:
            missing.append(f"jicai {name}")
        missing += [f"jicai {name} {opt}" for opt in _options(root.commands[name]) if f"`{opt}" not in text]
    assert not missing, f"not in docs/operations.md: {missing}"
    assert "docs/operations.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_doctor_check_and_status_is_in_the_table(tmp_path):
    from jicai.commands import _checks
    from jicai.commands.doctor import EXIT, STATUS, run_checks

    text = DOC.read_text(encoding="utf-8")
    place = _checks.Place(tmp_path, f"duckdb:///{tmp_path / 'jicai.duckdb'}", f"sqlite:///{tmp_path / 'w.sqlite'}", {})
    for c in run_checks(place):
        assert f"| {c.name_zh} / {c.name_en} |" in text or f"| {c.name_en} |" in text, c.name_en
    for status, (zh, en) in STATUS.items():
        assert f"**{zh} / {en}**" in text and f"`{EXIT[status]}`" in text


def test_every_cli_command_is_documented_somewhere():
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md")))
    text += (ROOT / "README.md").read_text(encoding="utf-8")
    root = typer.main.get_command(app)
    missing = []
    for name, command in root.commands.items():
        subs = getattr(command, "commands", None) or {}
        paths = [f"jicai {name} {s}" for s in subs] if subs else [f"jicai {name}"]
        missing += [p for p in paths if p not in text]
    assert not missing, f"commands named in no page of docs/ nor the README: {missing}"
