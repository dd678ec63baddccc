"""Terminal output shared by the commands: a progress bar for long work and bilingual messages."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NoReturn

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jicai.errors import BilingualError

console = Console(stderr=True)
out = Console(soft_wrap=True)  # results are read whole and pasted into notes: no hard wraps


@contextlib.contextmanager
def progress(transient: bool = False) -> Iterator[Progress]:
    """A progress bar on stderr (silent when stderr is not a terminal, so pipes and CI stay clean)."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=transient,
        disable=not console.is_terminal,
    ) as p:
        yield p


def fail(zh: str, en: str, code: int = 2, detail: str | None = None) -> NoReturn:
    """Print an error once, in Chinese and English, and exit with ``code``.

    ``detail`` is what went wrong underneath (a validation report, a driver's message): printed once under both
    lines, not pasted into each of them. A message already in both languages (``zh == en``) prints once.
    """
    import typer

    head = f"[red]错误 / Error：{escape(zh)}[/red]" if zh == en else \
        f"[red]错误：{escape(zh)}[/red]\n[red]Error: {escape(en)}[/red]"
    console.print(head + (f"\n{escape(detail)}" if detail else ""), soft_wrap=True)
    raise typer.Exit(code)


def fail_with(exc: BilingualError, code: int = 2) -> NoReturn:
    """Print a :class:`~jicai.errors.BilingualError` in both languages and exit with ``code``."""
    fail(exc.zh, exc.en, code)


def table(*columns: str, title: str | None = None, **kw) -> Table:
    """A result table that folds long values onto more lines instead of cutting them with "…": a Chinese
    name has no spaces to wrap at, and a truncated institution or file name is a wrong name."""
    t = Table(title=title, **kw)
    for c in columns:
        t.add_column(c, overflow="fold")
    return t
