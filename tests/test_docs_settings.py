"""The settings (jicai.settings.SETTINGS) are documented with their defaults — the importer's in
docs/data-contract.md, the web's in docs/web.md — and the import command's options in docs/data-contract.md; no
page names a setting that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

from jicai.settings import SETTINGS

DOCS = Path(__file__).resolve().parents[1] / "docs"
DOC = (DOCS / "data-contract.md").read_text(encoding="utf-8")
WEB = (DOCS / "web.md").read_text(encoding="utf-8")


def _settings_table(doc: str) -> dict[str, str]:
    block = doc.split("<!-- settings:start", 1)[1].split("<!-- settings:end -->", 1)[0]
    return {env: default.strip("`") for env, default in
            re.findall(r"^\| `(JICAI_\w+)` \| ([^|]+?) \|", block, flags=re.M)}


def test_every_setting_is_documented_with_its_default():
    imports, web = _settings_table(DOC), _settings_table(WEB)
    assert set(imports) == {s.env for s in SETTINGS if s.env.startswith("JICAI_IMPORT_")}
    assert set(web) == {s.env for s in SETTINGS if not s.env.startswith("JICAI_IMPORT_")}
    table = {**imports, **web}
    for s in SETTINGS:
        documented = "" if table[s.env] in ("", "(none)") else table[s.env]
        assert documented == str(s.default), f"{s.env}: the docs say {table[s.env]}, the code {s.default}"


def test_every_setting_named_in_the_page_exists():
    named = set(re.findall(r"JICAI_IMPORT_\w+", DOC))
    assert named == {s.env for s in SETTINGS if s.env.startswith("JICAI_IMPORT_")}
    named = set(re.findall(r"JICAI_(?:LOGIN|TRUSTED)_\w+", WEB))
    assert named == {s.env for s in SETTINGS if s.env.startswith(("JICAI_LOGIN_", "JICAI_TRUSTED_"))}


def test_every_import_option_is_documented():
    import inspect

    from jicai.commands.importing import import_cmd

    for p in inspect.signature(import_cmd).parameters.values():
        decls = getattr(p.default, "param_decls", ()) or ()
        for opt in decls:
            if opt.startswith("--"):
                assert f"{opt}" in DOC, f"jicai import {opt} is not documented in docs/data-contract.md"
