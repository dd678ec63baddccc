"""Terminal output shared by the commands: a progress bar for long work and bilingual messages."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NoReturn

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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


def fail(zh: str, en: str, code: int = 2) -> NoReturn:
    """Print an error in Chinese and English and exit with ``code``."""
    import typer

    console.print(f"[red]错误：{zh}[/red]\n[red]Error: {en}[/red]")
    raise typer.Exit(code)


def fail_with(exc: BilingualError, code: int = 2) -> NoReturn:
    """Print a :class:`~jicai.errors.BilingualError` in both languages and exit with ``code``."""
    fail(exc.zh, exc.en, code)
