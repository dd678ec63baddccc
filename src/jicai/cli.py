"""The ``jicai`` command line.

Commands are registered the way a bureau's own extension would register one: each module in
:mod:`jicai.commands` (and each ``jicai.commands`` entry point of an installed package) exposes
``register(app)``. This file only holds the global options.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from importlib.metadata import entry_points
from pathlib import Path

import typer

import jicai.commands
from jicai.settings import Settings


def _fold_help() -> None:
    """Help wraps, never cuts. typer lays help out in rich tables whose cells end a run of text too long for
    the line with "…"; a Chinese sentence has no spaces, so at 80 columns a command's help lost its end
    ("…结余留用 …"). Each help text typer builds is made to fold onto the next line instead. typer offers
    no setting for this: the one function that makes its help texts is wrapped (tests/test_cli.py checks
    every command's help at 80 columns, so a typer upgrade that moves it fails there, not in front of a user).
    """
    from rich.text import Text
    from typer import rich_utils

    make = rich_utils._make_rich_text
    if getattr(make, "folds", False):
        return

    def folded(**kw):
        text = make(**kw)
        if isinstance(text, Text):
            text.overflow = "fold"
        return text

    folded.folds = True  # type: ignore[attr-defined]
    rich_utils._make_rich_text = folded


_fold_help()

app = typer.Typer(
    name="jicai",
    help="集采执行监测与医保基金监管 / VBP execution monitoring and fund supervision.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global(
    ctx: typer.Context,
    data_dir: Path = typer.Option(
        None, "--data-dir", envvar="JICAI_DATA_DIR", help="数据目录 / data directory (default ./jicai-data)"
    ),
    warehouse: str = typer.Option(
        None, "--warehouse", envvar="JICAI_WAREHOUSE_URL", help="数据仓库地址 / warehouse URL (default DuckDB in the data directory)"
    ),
    lake: str = typer.Option(
        None, "--lake", envvar="JICAI_LAKE",
        help="数据湖(sc:// 数据仓库用,客户端与集群都能访问的目录)/ lake of a sc:// warehouse (a folder the client and "
             "the cluster both reach)",
    ),
) -> None:
    if lake:
        # the commands that open the warehouse themselves, and `jicai serve`'s server, find it there too
        os.environ["JICAI_LAKE"] = lake
    ctx.obj = Settings.resolve(data_dir, warehouse, lake)


def _register_commands() -> None:
    for mod in sorted(pkgutil.iter_modules(jicai.commands.__path__), key=lambda m: m.name):
        if not mod.name.startswith("_"):
            importlib.import_module(f"jicai.commands.{mod.name}").register(app)
    for ep in entry_points(group="jicai.commands"):
        ep.load()(app)
    # every registered measure without a hand-written command of its name gets the generated one
    from jicai.commands._runner import measure_command
    from jicai.measures.registry import measures

    taken = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    for m in measures().values():
        if m.command and m.command_name not in taken:
            app.command(m.command_name)(measure_command(m))


_register_commands()


def main() -> None:
    from jicai.console import fail_with
    from jicai.errors import BilingualError

    try:
        app()
    except BilingualError as exc:  # e.g. the warehouse lock not had in time: a bilingual exit, no traceback
        fail_with(exc)


if __name__ == "__main__":
    main()
