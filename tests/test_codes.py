"""Code validators against real codes: published USCCs and NHSA consumable codes."""

from __future__ import annotations

import csv

import pytest

from jicai.contract import codes
from jicai.contract.validators import VALIDATORS, region_prefixes_problem

REAL_USCC = ["9144030071526726XG", "91330100799655058B", "91110000710925462X"]


@pytest.mark.parametrize("code", REAL_USCC)
def test_real_uscc_validates(code):
    assert codes.uscc_problem(code) is None
    assert codes.make_uscc(code[:17]) == code


@pytest.mark.parametrize("code", REAL_USCC)
def test_wrong_check_char_rejected(code):
    wrong = code[:17] + ("0" if code[17] != "0" else "1")
    zh, en = codes.uscc_problem(wrong)
    assert f"应为 {code[17]}" in zh and f"expected {code[17]}" in en


def test_uscc_length_and_alphabet():
    assert "18" in codes.uscc_problem("9144030071526726X")[1]
    assert "'I'" in codes.uscc_problem("9144030071526726IG")[1]


def test_nhsa_consumable_codes_validate(shared_dir):
    path = shared_dir / "realdata/nhsa-consumable-codes-excerpt/nhsa.consumables.20char.sample36.excerpt.csv"
    with open(path, encoding="utf-8") as f:
        ids = [r["id"] for r in csv.DictReader(f)]
    assert len(ids) == 36
    assert [c for c in ids if codes.product_problem(c) is not None] == []
    assert {codes.product_kind(c) for c in ids} == {"consumable_20"}


@pytest.mark.parametrize(("code", "ok"), [
    ("H44030500001", True), ("P11010500023", True), ("H4403050001", False), ("X44030500001", False),
    ("H99030500001", False),
])
def test_institution_codes(code, ok):
    assert (codes.institution_problem(code) is None) == ok


@pytest.mark.parametrize(("code", "parent", "ok"), [
    ("440000", None, True), ("440300", "440000", True), ("440305", "440300", True), ("110101", "110000", True),
    ("440300", None, False), ("440305", "450300", False), ("440300", "440305", False),
])
def test_region_parent(code, parent, ok):
    assert (codes.region_parent_problem(code, parent) is None) == ok


@pytest.mark.parametrize(("value", "ok"), [("44", True), ("44;4403;440305", True), ("4", False), ("99", False), ("44;x", False)])
def test_region_prefixes(value, ok):
    assert (region_prefixes_problem(value) is None) == ok


def test_every_check_named_by_the_contract_exists():
    from jicai.contract.tables import TABLES

    used = {c.check for t in TABLES.values() for c in t.columns if c.check}
    assert used <= set(VALIDATORS)
