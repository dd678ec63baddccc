"""The import settings (jicai.settings.SETTINGS) and the import command's options are documented in
docs/data-contract.md, with their defaults; the page names no setting that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

from jicai.settings import SETTINGS

DOC = (Path(__file__).resolve().parents[1] / "docs" / "data-contract.md").read_text(encoding="utf-8")


def _settings_table() -> dict[str, str]:
    block = DOC.split("<!-- settings:start", 1)[1].split("<!-- settings:end -->", 1)[0]
    return dict(re.findall(r"^\| `(JICAI_\w+)` \| ([^|]+?) \|", block, flags=re.M))


def test_every_setting_is_documented_with_its_default():
    table = _settings_table()
    assert set(table) == {s.env for s in SETTINGS}
    for s in SETTINGS:
        assert table[s.env] == str(s.default), f"{s.env}: the docs say {table[s.env]}, the code {s.default}"


def test_every_setting_named_in_the_page_exists():
    named = set(re.findall(r"JICAI_IMPORT_\w+", DOC))
    assert named == {s.env for s in SETTINGS}


def test_every_import_option_is_documented():
    import inspect

    from jicai.commands.importing import import_cmd

    for p in inspect.signature(import_cmd).parameters.values():
        decls = getattr(p.default, "param_decls", ()) or ()
        for opt in decls:
            if opt.startswith("--"):
                assert f"{opt}" in DOC, f"jicai import {opt} is not documented in docs/data-contract.md"
