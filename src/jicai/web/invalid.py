"""FastAPI's own validation errors (a query parameter of the wrong type, out of its bounds, a body that is not
the model) in both languages.

The body keeps FastAPI's list machine-readable and has the shape of every other error of the API:
``{"detail": {"zh": …, "en": …, "errors": [{"type", "loc", "msg", "ctx"?}, …]}}``. The value sent is not echoed
(it may be megabytes, or a password); the messages name the parameter and what it must be.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# pydantic's error types → what the parameter must be, in Chinese and in English ({…} from the error's ctx)
MUST = {
    "missing": ("必须提供", "is required"),
    "int_parsing": ("应为整数", "must be a whole number"),
    "int_from_float": ("应为整数", "must be a whole number"),
    "float_parsing": ("应为数字", "must be a number"),
    "bool_parsing": ("应为 true 或 false", "must be true or false"),
    "date_parsing": ("应为日期 YYYY-MM-DD", "must be a date YYYY-MM-DD"),
    "date_from_datetime_parsing": ("应为日期 YYYY-MM-DD", "must be a date YYYY-MM-DD"),
    "date_from_datetime_inexact": ("应为日期 YYYY-MM-DD", "must be a date YYYY-MM-DD"),
    "datetime_parsing": ("应为时间 YYYY-MM-DDTHH:MM:SS", "must be a date-time YYYY-MM-DDTHH:MM:SS"),
    "datetime_from_date_parsing": ("应为时间 YYYY-MM-DDTHH:MM:SS", "must be a date-time YYYY-MM-DDTHH:MM:SS"),
    "greater_than_equal": ("应不小于 {ge}", "must be at least {ge}"),
    "greater_than": ("应大于 {gt}", "must be greater than {gt}"),
    "less_than_equal": ("应不大于 {le}", "must be at most {le}"),
    "less_than": ("应小于 {lt}", "must be less than {lt}"),
    "string_too_long": ("最长 {max_length} 个字符", "must be at most {max_length} characters"),
    "string_too_short": ("至少 {min_length} 个字符", "must be at least {min_length} characters"),
    "string_pattern_mismatch": ("格式不符({pattern})", "must match {pattern}"),
    "literal_error": ("应为 {expected} 之一", "must be one of {expected}"),
    "enum": ("应为 {expected} 之一", "must be one of {expected}"),
    "extra_forbidden": ("不是可用的字段", "is not an accepted field"),
    "json_invalid": ("不是有效的 JSON", "is not valid JSON"),
    "model_attributes_type": ("应为 JSON 对象", "must be a JSON object"),
    "dict_type": ("应为 JSON 对象", "must be a JSON object"),
    "string_type": ("应为文本", "must be text"),
    "int_type": ("应为整数", "must be a whole number"),
    "bool_type": ("应为 true 或 false", "must be true or false"),
    "value_error": ("无效", "is invalid"),
}
WHERE = {"query": "查询参数", "path": "路径参数", "body": "请求体", "header": "请求头", "cookie": "Cookie"}
# the parameters a reader meets, by their Chinese names (a Chinese page shows no English code)
NAMES_ZH = {"as_of": "截至日期", "page": "页码", "page_size": "每页行数", "year": "采购年度", "month": "月份",
            "batch": "批次", "period": "结算期", "level": "机构级别", "format": "格式", "sort": "排序列",
            "desc": "倒序", "code": "编码", "limit": "条数", "offset": "起始位置", "at": "结算时间",
            "pharmacy_code": "药店编码", "variety_id": "品种", "product_code": "产品编码", "status": "状态"}
SHOWN = 5  # errors named in the messages (all are in ``errors``)


def _name(loc: Sequence[Any]) -> str:
    return ".".join(str(x) for x in loc[1:]) or str(loc[0]) if loc else "?"


def _say(error: dict) -> tuple[str, str]:
    zh, en = MUST.get(error.get("type", ""), ("无效", "is invalid"))
    ctx = {k: str(v)[:80] for k, v in (error.get("ctx") or {}).items()}
    try:
        zh, en = zh.format(**ctx), en.format(**ctx)
    except (KeyError, IndexError):
        zh, en = "无效", "is invalid"
    loc = error.get("loc") or ()
    where = WHERE.get(str(loc[0]), "") if loc else ""
    name = _name(loc)
    return f"{where}“{NAMES_ZH.get(name, name)}”{zh}", f"{name} {en}"


def clean(error: dict) -> dict:
    """One of FastAPI's errors without the value sent (``input``) and with a JSON-safe ctx."""
    out = {k: error[k] for k in ("type", "loc", "msg") if k in error}
    if error.get("ctx"):
        out["ctx"] = {k: v if isinstance(v, (int, float, str, bool)) or v is None else str(v)
                      for k, v in error["ctx"].items()}
    return out


def detail(errors: Sequence[dict]) -> dict:
    """The bilingual ``detail`` of FastAPI's validation ``errors``."""
    said = [_say(e) for e in errors[:SHOWN]]
    more_zh = f" 等 {len(errors)} 处" if len(errors) > SHOWN else ""
    more_en = f" (and {len(errors) - SHOWN} more)" if len(errors) > SHOWN else ""
    return {"zh": "参数无效:" + ";".join(z for z, _ in said) + more_zh,
            "en": "invalid argument: " + "; ".join(e for _, e in said) + more_en,
            "errors": [clean(e) for e in errors]}
