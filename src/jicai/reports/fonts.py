"""Chinese fonts for the PDF: which families to ask for, and a clear error when none is installed.

WeasyPrint finds fonts through fontconfig and embeds the subset a document uses. Without a CJK font
every Chinese character would come out as a blank box, so a PDF is refused rather than written wrong.
``scripts/setup.sh`` installs Debian's ``fonts-noto-cjk`` when ``fc-list :lang=zh`` finds nothing.
"""

from __future__ import annotations

import shutil
import subprocess

from jicai.errors import BilingualError

# Noto Sans CJK (Debian fonts-noto-cjk) first; the others are what Windows, macOS and other Linux
# distributions ship, so the HTML looks right in a reader's browser too.
FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
            "Microsoft YaHei", "PingFang SC", "SimHei", "SimSun")
FONT_STACK = ", ".join(f"'{f}'" for f in FAMILIES) + ", sans-serif"


class FontMissing(BilingualError, RuntimeError):
    """No font covering Chinese is installed, so no PDF can be written."""

    def __init__(self) -> None:
        super().__init__("未找到中文字体，无法生成 PDF（请运行 scripts/setup.sh，或 apt-get install fonts-noto-cjk）",
                         "no Chinese font found, cannot write a PDF (run scripts/setup.sh, or apt-get install fonts-noto-cjk)")


def cjk_families() -> list[str]:
    """Font families fontconfig knows that cover Chinese (empty when fc-list is absent)."""
    fc = shutil.which("fc-list")
    if fc is None:
        return []
    res = subprocess.run([fc, ":lang=zh", "family"], capture_output=True, text=True, check=False)
    return sorted({name.strip() for line in res.stdout.splitlines() for name in line.split(",") if name.strip()})


def require_cjk_font() -> list[str]:
    families = cjk_families()
    if not families:
        raise FontMissing()
    return families
