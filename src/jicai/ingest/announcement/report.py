"""What an announcement import saw: per-sheet counts and problems, in Chinese and English."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    sheet: str
    row: int | None
    zh: str
    en: str
    level: str = "error"  # error: data not understood; warning: cleaned or chosen between; info

    def text(self, lang: str = "zh") -> str:
        where = f"{self.sheet}" + (f" 第{self.row}行" if lang == "zh" and self.row else f" row {self.row}" if self.row else "")
        return f"[{where}] {self.zh if lang == 'zh' else self.en}"


@dataclass
class SheetSummary:
    file: str
    sheet: str
    kind: str  # results / volumes / volume_totals / enterprise_names / skipped
    batch_id: str | None = None
    rows_read: int = 0
    rows_used: int = 0
    note: str = ""


@dataclass
class Summary:
    sheets: list[SheetSummary] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, sheet: str, row: int | None, zh: str, en: str, level: str = "error") -> None:
        self.problems.append(Problem(sheet, row, zh, en, level))

    def count(self, level: str) -> int:
        return sum(p.level == level for p in self.problems)
