"""One error type that speaks both languages (provisional: the leaves branch replaces this file)."""

from __future__ import annotations


class BilingualError(Exception):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh, self.en = zh, en

    def __str__(self) -> str:
        return f"{self.zh} / {self.en}"
