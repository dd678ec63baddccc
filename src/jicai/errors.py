"""One error type that speaks both languages.

Every error jicai shows a user carries its message in Chinese (``zh``) and English (``en``). The command line
prints both (:func:`jicai.console.fail_with`), the web shows the one of the page's language and the API returns
both (:meth:`BilingualError.detail`), so nobody has to take ``str(exc)`` apart. Domain errors derive from
:class:`BilingualError` and keep the built-in base their callers catch (``ValueError``, ``LookupError``…) as a
second base.

>>> e = BilingualError("月份格式应为 YYYY-MM:2024/03", "month must be YYYY-MM: 2024/03")
>>> str(e)
'月份格式应为 YYYY-MM:2024/03 / month must be YYYY-MM: 2024/03'
>>> e.message("en"), e.detail()["zh"]
('month must be YYYY-MM: 2024/03', '月份格式应为 YYYY-MM:2024/03')
"""

from __future__ import annotations


class BilingualError(Exception):
    """An error with a Chinese and an English message; ``str()`` is ``"zh / en"``."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(zh, en)
        self.zh, self.en = zh, en

    def __str__(self) -> str:
        return f"{self.zh} / {self.en}"

    def message(self, lang: str) -> str:
        """The message in ``lang`` ("en" for English; anything else is Chinese, the default language)."""
        return self.en if lang == "en" else self.zh

    def detail(self) -> dict[str, str]:
        """Both messages, the shape the API returns as an error's ``detail`` and error.html takes."""
        return {"zh": self.zh, "en": self.en}


class MeasureError(BilingualError, ValueError):
    """A measure cannot be computed as asked: an unknown batch, an argument out of range.

    Measures raise it; the domains built on them (assessment, fund) derive their own errors from it, so a
    measure never imports the layer above it to raise theirs.

    >>> isinstance(MeasureError("批次不存在:B9", "no such batch: B9"), ValueError)
    True
    """
