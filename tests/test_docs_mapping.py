"""docs/mapping.md cannot drift from the commands: every ``jicai mapping`` subcommand, ``jicai catalogue`` and
each of their options is named there (the tables are checked by tests/test_docs.py, the page by
tests/test_web_docs.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from jicai.cli import app

DOC = Path(__file__).resolve().parents[1] / "docs" / "mapping.md"


def _documented(command, path: str, text: str) -> list[str]:
    missing = [] if f"`{path}" in text else [path]
    for p in command.params:
        for opt in p.opts:
            if opt.startswith("--") and opt not in text:
                missing.append(f"{path} {opt}")
    return missing


def test_every_mapping_and_catalogue_command_and_option_is_documented():
    text = DOC.read_text(encoding="utf-8")
    root = typer.main.get_command(app)
    group = root.commands["mapping"]
    assert set(group.commands) == {"suggest", "confirm", "confirm-exact", "reject", "apply"}
    missing = [m for name, cmd in group.commands.items() for m in _documented(cmd, f"jicai mapping {name}", text)]
    missing += _documented(root.commands["catalogue"], "jicai catalogue", text)
    assert not missing, f"not in docs/mapping.md: {missing}"
