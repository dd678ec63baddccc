"""A policy given by a user — a file, or a few changed values — checked like any policy, with an error a
reader can act on: which parameter, by its Chinese name, and what it should be.

The models (:mod:`jicai.policy.models`) raise pydantic's English messages; :class:`PolicyInvalid` names the
parameter in both languages and says in Chinese what its value must look like (the spec's type, choices,
bounds or tier shape), so a bureau user who typed 250% for a completion rate reads
"约定采购量最低完成率(min_completion):不得大于 200%" rather than a validation trace.

>>> from jicai.policy import load_policy
>>> try:
...     with_checked(load_policy(), {"min_completion": 2.5})
... except PolicyInvalid as exc:
...     print(exc.zh)
政策参数无效:约定采购量最低完成率(min_completion)不得大于 200%(给出 2.5)
>>> with_checked(load_policy(), {"min_completion": 0.95}).value("min_completion")
0.95
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jicai.errors import BilingualError
from jicai.policy.labels import NAMES
from jicai.policy.models import SPECS, Policy, load_policy

_TYPES = {float: "数值", int: "整数", str: "文本", bool: "是或否", list: "分档表"}


class PolicyInvalid(BilingualError, ValueError):
    """A policy file or a changed value that does not validate; the message names the parameter."""


def _named(name: str) -> str:
    zh = NAMES.get(name, ("", ""))[0]
    return f"{zh}({name})" if zh else name


def _bound(name: str, x: float) -> str:
    """A bound as the parameter's unit reads: ratios (bounded by 0–1 or 0–2) as percentages."""
    spec = SPECS[name]
    ratio = spec.type is float and spec.maximum is not None and spec.maximum <= 2.0 and spec.minimum == 0.0
    return f"{x * 100:g}%" if ratio else f"{x:g}"


def why(name: str, value: Any) -> tuple[str, str] | None:
    """(中文, English) of what is wrong with ``value`` for parameter ``name``; None when it is valid."""
    spec = SPECS.get(name)
    if spec is None:
        return (f"未知政策参数 {name}", f"unknown policy parameter {name!r}")
    if isinstance(value, float) and not math.isfinite(value):
        return (f"{_named(name)}应为有限的数字(给出 {value!r})", f"policy parameter {name!r}: not a finite number")
    try:
        spec.check(name, value)
    except ValueError as exc:
        en = str(exc)
    else:
        return None
    if spec.tiers is not None:
        t = spec.tiers
        order = "自高到低" if t.descending else "自低到高"
        top = f"0–{t.maximum:g}" if t.maximum is not None else "不小于 0"
        return (f"{_named(name)}应为分档表 [[{t.bound}, {t.share}], …]:每档第一个数{top}、{order}且不重复,"
                f"第二个数在 0–1 之间", en)
    kind = float if spec.type is float else spec.type
    wrong_type = isinstance(value, bool) and kind is not bool or not isinstance(value, bool) and kind is bool \
        or kind in (int, str) and not isinstance(value, kind) \
        or kind is float and not isinstance(value, int | float)
    if wrong_type:
        return (f"{_named(name)}应为{_TYPES[kind]}(给出 {value!r})", en)
    if spec.choices and value not in spec.choices:
        return (f"{_named(name)}应为 {'、'.join(map(str, spec.choices))} 之一(给出 {value!r})", en)
    if spec.minimum is not None and value < spec.minimum:
        return (f"{_named(name)}不得小于 {_bound(name, spec.minimum)}(给出 {value!r})", en)
    if spec.maximum is not None and value > spec.maximum:
        return (f"{_named(name)}不得大于 {_bound(name, spec.maximum)}(给出 {value!r})", en)
    return (f"{_named(name)}取值无效", en)


def explain(exc: ValidationError, where: str = "") -> PolicyInvalid:
    """The first problem of a policy's validation error, naming its parameter in both languages."""
    head_zh, head_en = (f"政策文件无效 {where}:", f"invalid policy file {where}: ") if where else (
        "政策参数无效:", "invalid policy parameter: ")
    for e in exc.errors():
        entry = e.get("input")
        name = entry.get("name") if isinstance(entry, dict) and e.get("loc", ())[:1] == ("parameter",) else None
        if isinstance(name, str) and "value" in entry:
            found = why(name, entry["value"])
            if found:
                return PolicyInvalid(head_zh + found[0], head_en + found[1])
        msg = str(e.get("msg", "")).removeprefix("Value error, ")
        named = [n for n in re.findall(r"'(\w+)'", msg) if n in SPECS]
        zh = "、".join(_named(n) for n in named)
        return PolicyInvalid(head_zh + (f"{zh}:" if zh else "") + msg, head_en + msg)
    return PolicyInvalid(head_zh + str(exc), head_en + str(exc))


def load_checked(path: str | Path) -> Policy:
    """:func:`load_policy` of ``path`` with a :class:`PolicyInvalid` for a missing, unreadable or invalid file."""
    p = Path(path)
    try:
        return load_policy(p)
    except FileNotFoundError:
        raise PolicyInvalid(f"政策文件不存在:{p}", f"policy file not found: {p}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyInvalid(f"政策文件不是有效的 TOML {p}:{exc}", f"policy file {p} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise PolicyInvalid(f"政策文件应为 UTF-8 编码:{p}", f"policy file {p} is not UTF-8") from None
    except ValidationError as exc:
        raise explain(exc, str(p)) from None


def with_checked(policy: Policy, values: dict[str, Any]) -> Policy:
    """``policy`` with ``values`` replacing its parameters (:meth:`Policy.with_values`), each value checked first:
    an unknown name or a bad value is a :class:`PolicyInvalid` naming the parameter."""
    for name, value in values.items():
        found = why(name, value)
        if found:
            raise PolicyInvalid("政策参数无效:" + found[0], "invalid policy parameter: " + found[1])
    try:
        return policy.with_values(**values)
    except ValidationError as exc:
        raise explain(exc) from None
