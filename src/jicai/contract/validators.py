"""The validators a :class:`jicai.contract.tables.Column` names in its ``check``.

Two kinds, because they are run differently on a million-row file:

* **value** validators (codes with check characters) are Python functions from
  :mod:`jicai.contract.codes`, run once per *distinct* value (a province has 10^4 institutions, not
  10^8), so the importer stays vectorized while the code rules keep one implementation;
* **sql** validators (sign checks on numbers) are predicates the importer puts into its SQL.

Every validator yields a ``(zh, en)`` reason, Chinese first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jicai.contract import codes

Reason = codes.Reason


@dataclass(frozen=True)
class Validator:
    name: str
    problem: Callable[[str], Reason] | None = None  # value validator: None when valid
    sql_bad: str | None = None  # SQL predicate over ``{col}`` that is true for a bad value
    reason: tuple[str, str] = ("", "")  # reason of a sql validator


def region_prefixes_problem(value: str) -> Reason:
    """``regions`` of selected_products: region-code prefixes (2, 4 or 6 digits) separated by ``;``."""
    for part in value.split(";"):
        if not part.isdigit() or len(part) not in (2, 4, 6):
            return (
                f"供应地区应为2、4或6位区划代码前缀，以分号分隔：{part!r} 不符",
                f"supply regions must be 2-, 4- or 6-digit region-code prefixes separated by ';': {part!r} is not",
            )
        if part[:2] not in codes.PROVINCE_PREFIXES:
            return (f"供应地区 {part} 的省级前缀不存在", f"supply region {part}: province prefix does not exist")
    return None


def code_scope_problem(value: str) -> Reason:
    """Whose local codes a 对码 row is about: ``platform`` or one institution code."""
    if value == "platform":
        return None
    if (r := codes.institution_problem(value)) is not None:
        return (f"编码来源应为 platform 或医疗机构编码：{r[0]}", f"the code scope is `platform` or an institution code: {r[1]}")
    return None


VALIDATORS: dict[str, Validator] = {
    v.name: v
    for v in (
        Validator("uscc", problem=codes.uscc_problem),
        Validator("region_code", problem=codes.region_problem),
        Validator("institution_code", problem=codes.institution_problem),
        Validator("product_code", problem=codes.product_problem),
        Validator("region_prefixes", problem=region_prefixes_problem),
        Validator("code_scope", problem=code_scope_problem),
        Validator("nonneg", sql_bad="{col} < 0", reason=("不能为负数", "must not be negative")),
        Validator("positive", sql_bad="{col} <= 0", reason=("必须大于0", "must be greater than 0")),
    )
}


def validator(name: str) -> Validator:
    try:
        return VALIDATORS[name]
    except KeyError:
        raise KeyError(f"unknown validator {name!r}; known: {', '.join(VALIDATORS)}") from None


# Checks that look at two columns of one row, run once per distinct pair: table -> (columns, function).
ROW_CHECKS: dict[str, tuple[tuple[str, str], Callable[[str, str | None], Reason]]] = {
    "regions": (("region_code", "parent_code"), codes.region_parent_problem),
}
